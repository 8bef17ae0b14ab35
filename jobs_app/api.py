"""Immich-compatible jobs and queues API (admin only, JSON):
GET /api/jobs, PUT /api/jobs/{name} {command, force}, GET /api/queues, GET|PUT /api/queues/{name}
{isPaused}, GET|DELETE /api/queues/{name}/jobs."""

from typing import Any

from django.http import HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from api_app.auth import ADMIN
from api_app.errors import bad_request

from . import services

JOB_STATUSES = ("active", "completed", "failed", "delayed", "waiting", "paused")

router = Router(auth=ADMIN, tags=["Jobs", "Queues"])


# The values are checked below and by the jobs service, whose refusals name what is allowed (as Immich's
# messages do); the schema only documents the types for the OpenAPI document.
def _documented(json_type: str, **schema) -> Any:
    return Field(None, json_schema_extra={"type": json_type, **schema})


class JobCommandDto(Schema):
    command: Any = _documented("string", enum=list(services.COMMANDS))
    force: Any = _documented("boolean")


class QueueUpdateDto(Schema):
    isPaused: Any = _documented("boolean")


class QueueDeleteDto(Schema):
    failed: Any = _documented("boolean")


def _job_status(status: services.QueueStatus) -> dict:
    return {"jobCounts": status.counts.as_dict(),
            "queueStatus": {"isActive": status.is_active, "isPaused": status.is_paused}}


def _queue(status: services.QueueStatus) -> dict:
    return {"name": status.queue.name, "isPaused": status.is_paused, "statistics": status.counts.as_dict()}


def _refused(call, *args, **kwargs):
    """Run a jobs service call; its refusals are the client's 400."""
    try:
        return call(*args, **kwargs)
    except services.JobCommandError as error:
        raise bad_request(str(error))


@router.get("/jobs", url_name="api-jobs", summary="getQueuesLegacy")
def jobs(request):
    return {status.queue.name: _job_status(status) for status in services.queue_statuses()}


@router.put("/jobs/{name}", url_name="api-job", summary="runQueueCommandLegacy")
def job(request, name: str, body: JobCommandDto):
    if not isinstance(body.command, str):
        raise bad_request(f"command must be one of {', '.join(services.COMMANDS)}.")
    if body.force is not None and not isinstance(body.force, bool):
        raise bad_request("force must be a boolean.")
    _refused(services.run_command, name, body.command, body.force, user=request.user)
    return _job_status(services.queue_status(name))


@router.get("/queues", url_name="api-queues", summary="getQueues")
def queues(request):
    return [_queue(status) for status in services.queue_statuses()]


@router.get("/queues/{name}", url_name="api-queue", summary="getQueue")
def queue(request, name: str):
    _refused(services.get_queue, name)
    return _queue(services.queue_status(name))


@router.put("/queues/{name}", url_name="api-queue", summary="updateQueue")
def update_queue(request, name: str, body: QueueUpdateDto = None):
    _refused(services.get_queue, name)
    paused = body.isPaused if body else None
    if paused is not None:
        if not isinstance(paused, bool):
            raise bad_request("isPaused must be a boolean.")
        _refused(services.set_paused, name, paused)
    return _queue(services.queue_status(name))


@router.get("/queues/{name}/jobs", url_name="api-queue-jobs", summary="getQueueJobs")
def queue_jobs(request, name: str, status: list[str] = Query(None)):
    _refused(services.get_queue, name)
    statuses = status or list(JOB_STATUSES)
    if any(item not in JOB_STATUSES for item in statuses):
        raise bad_request(f"status must be one of {', '.join(JOB_STATUSES)}.")
    found = [job for state in statuses for job in services.jobs_of(name, state)][:1000]
    return [{"id": str(job.pk), "name": job.name, "data": job.data,
             "timestamp": int(job.created_at.timestamp() * 1000)} for job in found]


@router.delete("/queues/{name}/jobs", url_name="api-queue-jobs", summary="emptyQueue")
def empty_queue(request, name: str, body: QueueDeleteDto = None):
    _refused(services.get_queue, name)
    services.empty_queue(name)
    if body and body.failed is True:
        services.clear_failed(name)
    return HttpResponse(status=204)
