from django.shortcuts import render

from users_app.decorators import admin_required


@admin_required
def jobs_dashboard(request):
    return render(request, "jobs_app/dashboard.html")
