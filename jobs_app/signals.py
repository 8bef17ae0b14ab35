"""Signals of the jobs engine for the other apps."""

from django.dispatch import Signal

# Sent by `manage.py runjobs` before it forks its worker pool (no threads yet): receivers may start their
# own long-running process beside the workers (media_app starts library watching). kwargs: none.
runjobs_starting = Signal()
