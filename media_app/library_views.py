"""External libraries admin pages (/admin/libraries/): list with the last scan's figures, create/edit
through libraries.save_library (its errors shown beside the fields), "Scan now", delete after a
confirmation. Deleting a library never touches the files on disk."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from settings_app.services import get_config
from users_app.decorators import admin_required

from .models import Asset, Library
from .services import libraries, library_admin, watcher
from .tasks import queue_library_scan


class LibraryForm(forms.Form):
    name = forms.CharField(max_length=200)
    owner = forms.ModelChoiceField(queryset=get_user_model().objects.filter(is_active=True).order_by("email"))
    import_paths = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                   help_text="Absolute folders on the server, one per line. They must exist and be "
                                             "readable by the server.")
    exclusion_patterns = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                                         help_text="Glob patterns, one per line, e.g. **/@eaDir/** or *.tmp.")

    @staticmethod
    def initial_for(library: Library) -> dict:
        return {"name": library.name, "owner": library.owner_id, "import_paths": "\n".join(library.import_paths),
                "exclusion_patterns": "\n".join(library.exclusion_patterns)}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _save(request, form: LibraryForm, library: Library | None):
    """save_library with the form's values; its errors go beside the matching fields. A form refused for
    one field still has its paths and patterns checked, so every problem shows at once."""
    if not form.is_valid():
        problems = libraries.library_input_errors(import_paths=_lines(form.data.get("import_paths", "")),
                                                  exclusion_patterns=_lines(form.data.get("exclusion_patterns", "")))
        for field, field_messages in problems.items():
            if field not in form.errors:
                for message in field_messages:
                    form.add_error(field, message)
        return None
    data = form.cleaned_data
    target = library or Library(owner=data["owner"])
    target.owner = data["owner"]
    try:
        return libraries.save_library(target, name=data["name"], import_paths=_lines(data["import_paths"]),
                                      exclusion_patterns=_lines(data["exclusion_patterns"]))
    except libraries.LibraryInputError as error:
        for field, field_messages in error.errors.items():
            for message in field_messages:
                form.add_error(field if field in form.fields else None, message)
        return None


def _library_or_404(library_id: str) -> Library:
    # Ids in the URL are plain strings (the admin-only test enumerates every URL with sample ids): a
    # malformed one is "not found", not a server error.
    try:
        return get_object_or_404(Library, pk=library_id)
    except ValidationError:
        raise Http404("No such library.")


@admin_required
def library_list(request):
    rows = []
    for library in Library.objects.select_related("owner").order_by("name"):
        assets = Asset.objects.filter(library=library)
        rows.append({"library": library, "total": assets.count(), "offline": assets.filter(is_offline=True).count()})
    watch = get_config().library.watch
    return render(request, "media_app/libraries.html", {
        "rows": rows, "watch": watch, "watching_worker": watcher.watching_worker() if watch.enabled else ""})


@admin_required
@require_http_methods(["GET", "POST"])
def library_create(request):
    initial = {"exclusion_patterns": "\n".join(Library._meta.get_field("exclusion_patterns").get_default())}
    owners = LibraryForm.base_fields["owner"].queryset.all()
    if owners.count() == 1:  # the only possible owner is chosen already
        initial["owner"] = owners.get().pk
    form = LibraryForm(request.POST or None, initial=initial)
    if request.method == "POST" and (library := _save(request, form, None)):
        messages.success(request, f"Library “{library.name}” created. Scan it to import its files.")
        return redirect("libraries:list")
    return render(request, "media_app/libraries_form.html", {"form": form, "library": None})


@admin_required
@require_http_methods(["GET", "POST"])
def library_edit(request, library_id):
    library = _library_or_404(library_id)
    form = LibraryForm(request.POST or None, initial=LibraryForm.initial_for(library))
    if request.method == "POST" and (saved := _save(request, form, library)):
        messages.success(request, f"Library “{saved.name}” saved.")
        return redirect("libraries:list")
    return render(request, "media_app/libraries_form.html", {"form": form, "library": library})


@admin_required
@require_POST
def library_scan(request, library_id):
    library = _library_or_404(library_id)
    if queue_library_scan(library):
        messages.success(request, f"Scan of “{library.name}” queued; the figures update when it has run.")
    else:
        messages.info(request, f"A scan of “{library.name}” is already waiting or running.")
    return redirect("libraries:list")


@admin_required
@require_http_methods(["GET", "POST"])
def library_delete(request, library_id):
    library = _library_or_404(library_id)
    if request.method == "POST":
        name = library.name
        count = library_admin.delete_library(library)
        messages.success(request, f"Library “{name}” deleted ({count} assets removed from the server; "
                                  f"no file was deleted from disk).")
        return redirect("libraries:list")
    count = Asset.objects.filter(library=library).count()
    return render(request, "media_app/libraries_delete.html", {"library": library, "count": count})
