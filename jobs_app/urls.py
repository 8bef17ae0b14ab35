from django.urls import path

from . import views

app_name = "jobs"
urlpatterns = [
    path("", views.jobs_dashboard, name="dashboard"),
    path("queues/<str:name>/<str:command>/", views.queue_command, name="command"),
    path("failed/<int:job_id>/retry/", views.retry_job, name="retry-job"),
    path("stuck/requeue/", views.requeue_stuck_jobs, name="requeue-stuck"),
]
