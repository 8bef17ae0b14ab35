"""Immich-compatible jobs and queues API (admin only, JSON):
GET /api/jobs, PUT /api/jobs/{name} {command, force}, GET /api/queues, GET|PUT /api/queues/{name}
{isPaused}, GET|DELETE /api/queues/{name}/jobs."""

import json

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods

from users_app.decorators import api_admin_required, api_error

from . import services

JOB_STATUSES = ("active", "completed", "failed", "delayed", "waiting", "paused")


def _job_status(status: services.QueueStatus) -> dict:
    return {"jobCounts": status.counts.as_dict(),
            "queueStatus": {"isActive": status.is_active, "isPaused": status.is_paused}}


def _queue(status: services.QueueStatus) -> dict:
    return {"name": status.queue.name, "isPaused": status.is_paused, "statistics": status.counts.as_dict()}


def _body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise services.JobCommandError("The request body is not valid JSON.")
    if not isinstance(body, dict):
        raise services.JobCommandError("The request body must be a JSON object.")
    return body


def _bad_request(error: Exception):
    return api_error(str(error), 400, error="Bad Request")


@api_admin_required
@require_GET
def jobs(request):
    return JsonResponse({status.queue.name: _job_status(status) for status in services.queue_statuses()})


@api_admin_required
@require_http_methods(["PUT"])
def job(request, name):
    try:
        body = _body(request)
        command, force = body.get("command"), body.get("force")
        if not isinstance(command, str):
            raise services.JobCommandError(f"command must be one of {', '.join(services.COMMANDS)}.")
        if force is not None and not isinstance(force, bool):
            raise services.JobCommandError("force must be a boolean.")
        services.run_command(name, command, force, user=request.user)
    except services.JobCommandError as error:
        return _bad_request(error)
    return JsonResponse(_job_status(services.queue_status(name)))


@api_admin_required
@require_GET
def queues(request):
    return JsonResponse([_queue(status) for status in services.queue_statuses()], safe=False)


@api_admin_required
@require_http_methods(["GET", "PUT"])
def queue(request, name):
    try:
        services.get_queue(name)
        if request.method == "PUT":
            paused = _body(request).get("isPaused")
            if paused is not None:
                if not isinstance(paused, bool):
                    raise services.JobCommandError("isPaused must be a boolean.")
                services.set_paused(name, paused)
    except services.JobCommandError as error:
        return _bad_request(error)
    return JsonResponse(_queue(services.queue_status(name)))


@api_admin_required
@require_http_methods(["GET", "DELETE"])
def queue_jobs(request, name):
    try:
        services.get_queue(name)
        if request.method == "DELETE":
            body = _body(request)
            services.empty_queue(name)
            if body.get("failed") is True:
                services.clear_failed(name)
            return HttpResponse(status=204)
        statuses = request.GET.getlist("status") or list(JOB_STATUSES)
        unknown = [status for status in statuses if status not in JOB_STATUSES]
        if unknown:
            raise services.JobCommandError(f"status must be one of {', '.join(JOB_STATUSES)}.")
    except services.JobCommandError as error:
        return _bad_request(error)
    found = [job for status in statuses for job in services.jobs_of(name, status)][:1000]
    return JsonResponse([{"id": str(job.pk), "name": job.name, "data": job.data,
                          "timestamp": int(job.created_at.timestamp() * 1000)} for job in found], safe=False)
