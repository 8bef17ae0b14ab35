"""The search page (smart search text plus metadata and OCR filters, results on the timeline grid, paged
with htmx) and the duplicates review page (keep some, trash the rest). Each shows only the signed-in
user's assets; the ML status fragment is for administrators."""

from datetime import datetime, time
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from media_app.services.timeline import decorate
from ml_client.client import MachineLearningError, MachineLearningUnavailable
from people_app.models import Person
from settings_app.services import get_config
from users_app.decorators import admin_required

from .services import duplicates, embeddings, search, status

PAGE_SIZE = 60
TEXT_FILTERS = {"filename": "original_file_name", "city": "city", "country": "country", "make": "make",
                "model": "model", "ocr": "ocr"}


def _date(value: str, field: str, end_of_day=False):
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise search.SearchError(field, f"{field}: enter a date as YYYY-MM-DD.")
    return datetime.combine(day, time.max if end_of_day else time.min).astimezone()


def _filters(request) -> search.Filters:
    params = request.GET
    filters = search.Filters(**{attribute: params.get(name, "").strip() for name, attribute in TEXT_FILTERS.items()})
    filters.type = params.get("type", "")
    filters.taken_after = _date(params.get("after", ""), "after")
    filters.taken_before = _date(params.get("before", ""), "before", end_of_day=True)
    person = params.get("person", "")
    if person:
        try:
            filters.person_ids = [UUID(person)]
        except ValueError:
            raise search.SearchError("person", "person: choose one of your people.")
    return filters


@login_required
@require_GET
def search_page(request):
    query = request.GET.get("q", "").strip()
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    context = {"query": query, "params": request.GET, "error": "", "results": None,
               "smart_available": not embeddings.disabled_reason(get_config()),
               "people": Person.objects.filter(owner=request.user).exclude(name="").order_by("name")}
    try:
        filters = _filters(request)
        if query:
            context["results"] = search.smart_search(request.user, query, filters, page, PAGE_SIZE)
        elif filters.any():
            context["results"] = search.metadata_search(request.user, filters, page, PAGE_SIZE)
    except search.SearchError as error:
        context["error"] = error.message
    except MachineLearningUnavailable as error:
        context["error"] = f"Smart search needs machine learning, which is not reachable ({error.reason})."
    except MachineLearningError as error:
        context["error"] = str(error)
    if context["results"]:
        for asset in context["results"].assets:
            decorate(asset)
        next_params = request.GET.copy()
        next_params["page"] = page + 1
        context["next_url"] = "?" + next_params.urlencode()
    template = "search_app/search.html#results" if request.htmx and page > 1 else "search_app/search.html"
    return render(request, template, context)


@login_required
@require_GET
def duplicates_page(request):
    groups = duplicates.groups(request.user)
    for group in groups:
        group["keep"] = duplicates.suggested_keep(group["assets"])
    return render(request, "search_app/duplicates.html", {"groups": groups})


@login_required
@require_POST
def resolve_duplicates(request, duplicate_id):
    try:
        result = duplicates.resolve(request.user, duplicate_id, request.POST.getlist("keep"))
    except (duplicates.DuplicatesSkipped, ValueError) as error:
        messages.error(request, str(error))
    else:
        gone = f"{result['trashed']} moved to the trash" if result["trashed"] else f"{result['deleted']} deleted"
        messages.success(request, f"Kept {result['kept']}, {gone}.")
    return redirect("search:duplicates")


@admin_required
@require_GET
def ml_status(request):
    """The Machine Learning settings page loads this into its form (htmx)."""
    return render(request, "search_app/ml_status.html", {"status": status.ml_status()})
