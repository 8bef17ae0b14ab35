"""Storage quota usage (Immich's UserSyncUsage): what each user's uploaded originals take on disk.
External-library files are the administrator's, not the user's upload, so they do not count."""

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from media_app.models import Asset


def sync_quota_usage() -> int:
    """Recompute every user's quota usage; returns how many users changed."""
    uploaded = (
        Asset.objects.filter(owner=OuterRef("pk"), library__isnull=True)
        .values("owner")
        .annotate(total=Sum("file_size"))
        .values("total")
    )
    users = get_user_model().objects.annotate(usage=Coalesce(Subquery(uploaded), 0))
    changed = [user for user in users if user.quota_usage_in_bytes != user.usage]
    for user in changed:
        user.quota_usage_in_bytes = user.usage
    get_user_model().objects.bulk_update(changed, ["quota_usage_in_bytes"])
    return len(changed)
