"""The Jobs dashboard (/admin/jobs/): one page whose panel htmx re-fetches every 2 s while any queue has
work, and stops polling once everything is idle. Commands are POSTs that answer with the fresh panel."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from users_app.decorators import admin_required

from . import schedules, services, supervision

FORCE_VALUES = {"true": True, "false": False, "none": None}
SPARKLINE_WIDTH, SPARKLINE_HEIGHT = 150, 30


def sparkline_points(series: list[int]) -> str:
    """SVG polyline points of a series, scaled to the sparkline box (the largest value at the top)."""
    if not series:
        return ""
    top = max(series) or 1
    step = SPARKLINE_WIDTH / max(1, len(series) - 1)
    return " ".join(
        f"{round(index * step, 1)},{round(SPARKLINE_HEIGHT - 2 - value / top * (SPARKLINE_HEIGHT - 4), 1)}"
        for index, value in enumerate(series)
    )


def _panel_context(message: str = "", message_level: str = "success") -> dict:
    statuses = services.queue_statuses(with_details=True)
    for status in statuses:
        status.sparkline_points = sparkline_points(status.sparkline)
        status.finished_last_minutes = sum(status.sparkline)
    enqueueing = any(status.progress and status.progress.run.enqueueing and not status.progress.finished
                     for status in statuses)
    return {
        "statuses": statuses,
        # Poll while something can change by itself: jobs running, waiting (not paused) or being queued.
        "polling": enqueueing or any(status.counts.active or status.counts.waiting or status.counts.delayed
                                     for status in statuses),
        "workers": services.live_workers(),
        "supervisor_notes": supervision.notes(),
        "stuck_jobs": services.stuck_job_count(),
        "failed": services.failed_jobs(limit=50),
        "schedules": schedules.overview(),
        "time_zone": settings.TIME_ZONE,
        "message": message,
        "message_level": message_level,
        "sparkline_minutes": services.THROUGHPUT_MINUTES,
        "sparkline_width": SPARKLINE_WIDTH,
        "sparkline_height": SPARKLINE_HEIGHT,
    }


@admin_required
@require_GET
def jobs_dashboard(request):
    if request.htmx:
        return render(request, "jobs_app/dashboard.html#panel", _panel_context())
    return render(request, "jobs_app/dashboard.html", _panel_context())


def _answer(request, message: str, level: str):
    if request.htmx:
        return render(request, "jobs_app/dashboard.html#panel", _panel_context(message, level))
    getattr(messages, level)(request, message)
    return redirect(reverse("jobs:dashboard"))


@admin_required
@require_POST
def queue_command(request, name, command):
    force = FORCE_VALUES.get(request.POST.get("force", "none"), None)
    try:
        message, level = services.run_command(name, command, force, user=request.user), "success"
    except services.JobCommandError as error:
        message, level = str(error), "error"
    return _answer(request, message, level)


@admin_required
@require_POST
def retry_job(request, job_id):
    try:
        message, level = services.retry_job(job_id), "success"
    except services.JobCommandError as error:
        message, level = str(error), "error"
    return _answer(request, message, level)


@admin_required
@require_POST
def requeue_stuck_jobs(request):
    return _answer(request, services.requeue_stuck_jobs(), "success")
