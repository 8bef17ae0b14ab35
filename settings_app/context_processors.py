"""Template context every page gets."""

from . import version_check


def release_notice(request) -> dict:
    """The "Version X is available" notice for administrators (nothing, and no query, for others)."""
    user = getattr(request, "user", None)
    if not getattr(user, "is_admin", False):
        return {}
    # The status is a callable: only the Version Check settings page that shows it reads it.
    return {"release_notice": version_check.notice_for(user), "version_check_status": version_check.status}
