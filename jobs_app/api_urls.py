from django.urls import path

from . import api

urlpatterns = [
    path("jobs", api.jobs, name="api-jobs"),
    path("jobs/<str:name>", api.job, name="api-job"),
    path("queues", api.queues, name="api-queues"),
    path("queues/<str:name>", api.queue, name="api-queue"),
    path("queues/<str:name>/jobs", api.queue_jobs, name="api-queue-jobs"),
]
