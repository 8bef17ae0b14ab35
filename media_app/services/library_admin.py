"""Removing an external library from the server: its asset rows and the files the server generated for
them go; the originals in its folders are never touched."""

from django.db import transaction

from ..models import Asset, Library
from .thumbnails import absolute


def delete_library(library: Library) -> int:
    """Delete the library; returns how many assets it had."""
    generated = [absolute(path) for row in Asset.objects.filter(library=library).values_list(
        "thumbnail_path", "preview_path", "fullsize_path") for path in row if path]
    count = Asset.objects.filter(library=library).count()
    with transaction.atomic():
        library.delete()

        def remove_generated():
            for path in generated:
                path.unlink(missing_ok=True)

        transaction.on_commit(remove_generated)
    return count
