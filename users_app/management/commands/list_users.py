from django.core.management import BaseCommand
from django.utils import timezone

from users_app.models import User
from users_app.services import delete_delay, deletion_due_at

COLUMNS = ("ID", "Email", "Name", "Admin", "Storage label", "Quota", "Created", "Status")


def _when(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _quota(user) -> str:
    gib = user.quota_in_gib
    return "unlimited" if gib is None else f"{gib:g} GiB"


def _status(user, delay) -> str:
    if user.deleted_at is None:
        return "active"
    return f"deleted {_when(user.deleted_at)}, removed after {_when(deletion_due_at(user, delay))}"


class Command(BaseCommand):
    help = "List all users, including those scheduled for deletion (with the date they will be removed)."

    def handle(self, *args, **options):
        delay = delete_delay()
        rows = [
            (str(user.pk), user.email, user.name, "yes" if user.is_admin else "no", user.storage_label or "",
             _quota(user), _when(user.created_at), _status(user, delay))
            for user in User.objects.order_by("created_at", "pk")
        ]
        if not rows:
            self.stdout.write("There are no users.")
            return
        widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
        for row in [COLUMNS, tuple("-" * width for width in widths), *rows]:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        self.stdout.write(f"{len(rows)} user(s).")
