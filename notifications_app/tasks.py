"""Job handlers of the notifications queue: thin wrappers around notifications_app.services.mail."""

from jobs_app.handlers import job_handler
from jobs_app.models import Job

from .services import mail


@job_handler(mail.SEND_JOB)
def send_email(job) -> str:
    outcome = mail.send_queued(job.data)
    # Delivered: the kept job row need not hold the body any more (a welcome email carries a password).
    Job.objects.filter(pk=job.pk).update(data={"to": job.data["to"], "subject": job.data["subject"]})
    return outcome


@job_handler(mail.ALBUM_INVITE_JOB)
def notify_album_invite(job) -> str:
    return mail.album_invite(job.data)


@job_handler(mail.ALBUM_UPDATE_JOB)
def notify_album_update(job) -> str:
    return mail.album_update(job.data)
