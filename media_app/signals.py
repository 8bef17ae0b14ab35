"""Signals other apps listen to, so that media_app need not know them (faces, smart search, …)."""

from django.dispatch import Signal

# Sent by the thumbnail job after an asset's preview and thumbnail were written: asset, source (the chain's
# source, e.g. "upload", "library", "watch"; "" when run from "Generate Thumbnails")
thumbnails_generated = Signal()
# Sent by metadata extraction after the asset's metadata was stored: asset (e.g. faces are imported from it)
metadata_extracted = Signal()
