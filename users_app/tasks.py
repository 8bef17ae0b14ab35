"""Job handlers of user accounts: thin wrappers around users_app.services. Imported by
UsersAppConfig.ready()."""

from jobs_app.handlers import job_handler

from . import services


@job_handler("UserDeleteCheck")
def delete_due_users(job) -> str:
    """Immich's UserDeleteCheck: remove users whose deletion was requested more than the delete delay ago."""
    return f"removed {services.delete_due_users()} user(s) whose deletion was due"


@job_handler("UserDelete")
def delete_user(job) -> str:
    """ "Delete immediately" from the console: remove one user whose deletion is (still) scheduled."""
    removed = services.purge_scheduled_user(job.data["id"])
    return f"user {job.data['id']}: " + ("removed" if removed else "not scheduled for deletion any more, kept")
