"""The People pages (server-rendered, htmx): the grid of people, a person's page (photos, rename, birth
date, hide, merge, faces to unassign or move), and the face boxes fragment of the photo page. Every page
shows only the signed-in user's people; another user's id answers 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from media_app.models import Asset

from .services import people, recognition

PHOTOS_PER_PAGE = 200


@login_required
@require_GET
def people_page(request):
    with_hidden = request.GET.get("hidden") == "1"
    return render(request, "people_app/people.html", {
        "rows": people.people_for_page(request.user, with_hidden=with_hidden), "with_hidden": with_hidden,
    })


def _person(request, person_id):
    try:
        return people.get_person(request.user, person_id)
    except people.PersonNotFound:
        raise Http404("No such person.")


def _person_context(request, person, errors=None) -> dict:
    photos = (Asset.objects.filter(faces__person=person, deleted_at__isnull=True).distinct()
              .order_by("-local_taken_at", "-created_at")[:PHOTOS_PER_PAGE])
    others = [row.person for row in people.people_for_page(request.user, with_hidden=True) if row.person != person]
    return {"person": person, "photos": photos, "others": others, "errors": errors or {},
            "faces": person.faces.select_related("asset").order_by("asset__local_taken_at")[:PHOTOS_PER_PAGE],
            "statistics": people.statistics(request.user, person.pk)}


@login_required
@require_GET
def person_page(request, person_id):
    return render(request, "people_app/person.html", _person_context(request, _person(request, person_id)))


@login_required
@require_POST
def person_edit(request, person_id):
    """Rename, birth date, hide: the form's fields (nothing stored when one is wrong)."""
    person = _person(request, person_id)
    changes = {"name": request.POST.get("name", person.name), "birthDate": request.POST.get("birth_date", ""),
               "isHidden": request.POST.get("is_hidden") == "on"}
    try:
        people.update_person(request.user, person.pk, changes)
    except people.PeopleError as error:
        context = _person_context(request, person, {error.field: error.message})
        return render(request, "people_app/person.html", context, status=400)
    messages.success(request, "Saved.")
    return redirect("people:person", person_id=person.pk)


@login_required
@require_POST
def person_merge(request, person_id):
    """Merge the chosen person into this one (the form asks for confirmation first)."""
    person = _person(request, person_id)
    other = request.POST.get("other", "")
    results = people.merge_people(request.user, person.pk, [other]) if other else []
    if results and results[0]["success"]:
        messages.success(request, "Merged: their photos are now this person's.")
    else:
        messages.error(request, "Choose another of your people to merge into this one.")
    return redirect("people:person", person_id=person.pk)


@login_required
@require_POST
def face_assign(request, face_id):
    """Unassign a face (no person), or move it to another person or a new one."""
    target = request.POST.get("person", "")
    back = request.POST.get("next") or reverse("people:index")
    try:
        if target == "new":
            people.reassign_face(request.user, face_id, new_name=request.POST.get("new_name", ""))
        else:
            people.reassign_face(request.user, face_id, target or None)
    except people.PersonNotFound:
        raise Http404("No such face or person.")
    except people.PeopleError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Face moved." if target else "Face removed from the person.")
    return redirect(back if back.startswith("/") and not back.startswith("//") else reverse("people:index"))


@login_required
@require_POST
def recluster(request):
    """Re-cluster my faces, keeping the people I named: unnamed clusters are dissolved and formed again."""
    count = recognition.reset_clusters(request.user, keep_named=True)
    from .tasks import queue_recognition

    queued = queue_recognition(str(pk) for pk in recognition.unassigned_faces().filter(asset__owner=request.user)
                               .order_by("created_at", "id").values_list("id", flat=True))
    messages.success(request, f"Re-clustering {queued} face(s) ({count} taken off unnamed people); named people kept.")
    return redirect("people:index")


@login_required
@require_GET
def asset_faces(request, asset_id):
    """The face boxes of a photo, drawn over its preview on the photo page (htmx fragment)."""
    asset = get_object_or_404(Asset, pk=asset_id, owner=request.user)
    faces = people.faces_of_asset(request.user, asset.pk)
    boxes = [{"face": face, "left": 100 * face.x1 / face.image_width, "top": 100 * face.y1 / face.image_height,
              "width": 100 * (face.x2 - face.x1) / face.image_width,
              "height": 100 * (face.y2 - face.y1) / face.image_height} for face in faces]
    return render(request, "people_app/asset_faces.html", {"asset": asset, "boxes": boxes})
