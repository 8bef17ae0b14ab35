"""The admin console (/console/): administrators list, create and edit users, reset passwords and delete
users. "Delete" schedules the deletion (undoable until the User settings delete delay has passed);
"Delete immediately" queues the removal at once, after a confirmation page. Lock-outs lists the password
throttling (users_app.throttle) and clears it, after a confirmation page."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, BaseUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme

from . import services, throttle
from .models import GIB, ApiKey, AuthFailure, User

# Groups and per-model permissions play no part here: the console is open to administrators (is_admin).
admin.site.unregister(Group)


def console_login(request, extra_context=None):
    """The console has no login form of its own: anonymous visitors use the site's login page (which
    honours "password login disabled"), signed-in non-administrators get the site's 403 page."""
    target = request.GET.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("admin:index")
    if not request.user.is_authenticated:
        return redirect_to_login(target)
    if not admin.site.has_permission(request):
        return render(request, "403.html", status=403)
    return redirect(target)


admin.site.login = console_login
admin.site.site_url = "/admin/system-settings/"
admin.site.enable_nav_sidebar = False  # the header links to every section; the tables need the width


def when(moment) -> str:
    return date_format(timezone.localtime(moment), "Y-m-d H:i")


class ProfileFieldsMixin(forms.ModelForm):
    """Email, storage label and quota rules shared by the create and edit forms."""

    quota_gib = forms.DecimalField(
        label="Storage quota (GiB)", required=False, min_value=0, max_digits=12, decimal_places=2,
        help_text="Empty = unlimited.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.quota_in_gib is not None:
            gib = Decimal(self.instance.quota_size_in_bytes) / GIB
            self.initial["quota_gib"] = gib.quantize(Decimal("0.01"))

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A user with this email already exists.")
        return email

    def clean_storage_label(self):
        label = (self.cleaned_data.get("storage_label") or "").strip()
        if not label:
            return None  # NULL, not "": the label is unique
        if not services.STORAGE_LABEL_RE.match(label):
            raise forms.ValidationError(
                "The storage label may contain only letters, digits, spaces, “-” and “_” (it is used as a "
                "folder name)."
            )
        return label

    def _post_clean(self):
        super()._post_clean()
        if "quota_gib" in self.changed_data:  # an untouched (rounded) display value must not drift the bytes
            quota = self.cleaned_data.get("quota_gib")
            self.instance.quota_size_in_bytes = None if quota is None else int(quota * GIB)
        self.instance.is_superuser = self.instance.is_admin


class UserCreateForm(ProfileFieldsMixin, BaseUserCreationForm):
    notify = forms.BooleanField(
        label="Send a welcome email", required=False,
        help_text="Emails the new user their address, this password and the server's address (needs email "
                  "notifications on in the Notification settings).",
    )

    class Meta:
        model = User
        fields = ("email", "name", "is_admin", "storage_label")
        labels = {"is_admin": "Administrator"}


class UserEditForm(ProfileFieldsMixin, UserChangeForm):
    class Meta:
        model = User
        fields = ("email", "password", "name", "is_admin", "storage_label")
        labels = {"is_admin": "Administrator"}


class AdministratorFilter(admin.BooleanFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "administrator"


class PasswordResetForm(AdminPasswordChangeForm):
    """The console's password reset also logs the user out everywhere (API tokens included)."""

    def save(self, commit=True):
        user = super().save(commit=commit)
        if commit:
            services.end_user_sessions(user)
        return user


class DeletionFilter(admin.SimpleListFilter):
    title = "deletion"
    parameter_name = "deletion"

    def lookups(self, request, model_admin):
        return (("pending", "Scheduled for deletion"), ("none", "Not scheduled"))

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "none":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    change_password_form = PasswordResetForm
    change_form_template = "admin/users_app/user/change_form.html"
    list_display = ("email", "name", "admin_role", "storage_label", "quota", "pending_deletion")
    list_display_links = ("email",)
    list_filter = (("is_admin", AdministratorFilter), DeletionFilter)
    search_fields = ("email", "name", "storage_label")
    ordering = ("email",)
    readonly_fields = ("deletion_status", "oauth_id", "created_at", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "storage_label", "quota_gib")}),
        ("Access", {"fields": ("is_admin", "oauth_id")}),
        ("Status", {"fields": ("deletion_status", "created_at", "last_login")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),
        ("Profile", {"fields": ("storage_label", "quota_gib")}),
        ("Access", {"fields": ("is_admin",)}),
        ("Notification", {"fields": ("notify",)}),
    )
    filter_horizontal = ()
    actions = ("cancel_deletion_action", "schedule_deletion_action", "delete_now_action")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            services.user_created.send(sender=User, user=obj, password=form.cleaned_data["password1"],
                                       notify=bool(form.cleaned_data.get("notify")),
                                       base_url=request.build_absolute_uri("/").rstrip("/"))

    # --- List columns ---

    @admin.display(description="Admin", boolean=True, ordering="is_admin")
    def admin_role(self, user):
        return user.is_admin

    @admin.display(description="Quota", ordering="quota_size_in_bytes")
    def quota(self, user):
        return "unlimited" if user.quota_in_gib is None else f"{user.quota_in_gib:g} GiB"

    @admin.display(description="Deletion due", ordering="deleted_at", empty_value="")
    def pending_deletion(self, user):
        due = services.deletion_due_at(user)
        return when(due) if due else None

    @admin.display(description="Deletion")
    def deletion_status(self, user):
        due = services.deletion_due_at(user)
        if not due:
            return "Not scheduled"
        return f"Scheduled on {when(user.deleted_at)}: removed for good after {when(due)}"

    # --- Delete = schedule the deletion ---

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # replaced by the scheduled/immediate actions below
        return actions

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.pk == request.user.pk:
            return False  # nobody deletes their own account from here
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        services.schedule_deletion(obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            services.schedule_deletion(user, by=request.user)

    def log_deletion(self, request, obj, object_repr):
        pass  # nothing is deleted yet; the user row stays until the delay has passed

    def log_deletions(self, request, queryset):
        pass

    def get_deleted_objects(self, objs, request):
        # "Delete" only schedules the deletion, so there is no cascade to list (and walking every asset of
        # a large library here would be slow): (objects, counts, permissions needed, protected).
        return [], {}, set(), []

    def render_delete_form(self, request, context):
        context["delete_delay_days"] = services.delete_delay().days
        context["deletion_due"] = services.deletion_due_at(context["object"]) or (
            timezone.now() + services.delete_delay()
        )
        context["delete_now_url"] = reverse("admin:users_app_user_delete_now") + f"?ids={context['object'].pk}"
        return super().render_delete_form(request, context)

    def response_delete(self, request, obj_display, obj_id):
        user = User.objects.filter(pk=obj_id).first()
        if user and user.deleted_at:
            self.message_user(request, self._scheduled_message(user), messages.SUCCESS)
        return redirect("admin:users_app_user_changelist")

    @staticmethod
    def _scheduled_message(user) -> str:
        return (
            f"Deletion of {user.email} scheduled: they can no longer log in and will be removed for good "
            f"after {when(services.deletion_due_at(user))}. “Cancel deletion” restores them until then."
        )

    @admin.action(description="Delete selected users (after the delete delay)")
    def schedule_deletion_action(self, request, queryset):
        for user in queryset.exclude(pk=request.user.pk):
            services.schedule_deletion(user, by=request.user)
            self.message_user(request, self._scheduled_message(user), messages.SUCCESS)
        if queryset.filter(pk=request.user.pk).exists():
            self.message_user(request, "You cannot delete your own account.", messages.ERROR)

    @admin.action(description="Cancel deletion of selected users")
    def cancel_deletion_action(self, request, queryset):
        restored = [user.email for user in queryset if services.cancel_deletion(user)]
        if restored:
            self.message_user(request, f"Deletion cancelled, restored: {', '.join(restored)}.", messages.SUCCESS)
        else:
            self.message_user(request, "None of the selected users was scheduled for deletion.", messages.WARNING)

    @admin.action(description="Delete selected users immediately…")
    def delete_now_action(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return redirect(reverse("admin:users_app_user_delete_now") + f"?ids={ids}")

    # --- Extra views: cancel from the user's page, and the "Delete immediately" confirmation ---

    def get_urls(self):
        extra = [
            path("<int:user_id>/cancel-deletion/", self.admin_site.admin_view(self.cancel_deletion_view),
                 name="users_app_user_cancel_deletion"),
            path("delete-now/", self.admin_site.admin_view(self.delete_now_view), name="users_app_user_delete_now"),
        ]
        return extra + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {}), "deletion_due": user and services.deletion_due_at(user)}
        return super().change_view(request, object_id, form_url, extra_context)

    def cancel_deletion_view(self, request, user_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        user = get_object_or_404(User, pk=user_id)
        if services.cancel_deletion(user):
            self.message_user(request, f"Deletion of {user.email} cancelled; they can log in again.", messages.SUCCESS)
        else:
            self.message_user(request, f"{user.email} was not scheduled for deletion.", messages.WARNING)
        return redirect("admin:users_app_user_change", user.pk)

    def delete_now_view(self, request):
        source = request.POST if request.method == "POST" else request.GET
        ids = [int(part) for part in source.get("ids", "").split(",") if part.strip().isdigit()]
        users = list(User.objects.filter(pk__in=ids).order_by("email"))
        refused = [user for user in users if user.pk == request.user.pk]
        users = [user for user in users if user.pk != request.user.pk]
        if request.method == "POST" and source.get("confirm") == "yes" and users:
            for user in users:
                services.queue_immediate_deletion(user, by=request.user)
            self.message_user(request, f"Queued for removal now: {', '.join(u.email for u in users)}. They can no "
                              "longer log in; the background job removes them and their files.", messages.SUCCESS)
            return redirect("admin:users_app_user_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Delete users immediately",
            "opts": self.opts,
            "users": users,
            "refused": refused,
            "ids": ",".join(str(user.pk) for user in users),
        }
        return TemplateResponse(request, "admin/users_app/user/delete_now_confirmation.html", context)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "created_at")
    readonly_fields = ("key_hash",)

    def has_add_permission(self, request):
        return False  # secrets are issued through POST /api/api-keys, shown once


class LockStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("locked", "Locked now"), ("counting", "Not locked (counting failures)"))

    def queryset(self, request, queryset):
        locked = throttle.current_lockouts().values("pk")
        if self.value() == "locked":
            return queryset.filter(pk__in=locked)
        if self.value() == "counting":
            return queryset.exclude(pk__in=locked)
        return queryset


@admin.register(AuthFailure)
class LockoutAdmin(admin.ModelAdmin):
    """Read-only list of failed-password counters; the only action is "Clear", which forgets them."""

    list_display = ("what", "target", "address", "failures", "last_failure", "status")
    list_display_links = None
    list_filter = (LockStatusFilter, "scope")
    search_fields = ("subject", "address")
    actions = ("clear_action",)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "title": "Lock-outs: failed passwords "
                                                 "by address (select and clear to let an address try again)"})

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # "Clear" (with its own confirmation) is the way to remove rows

    @admin.display(description="Password of", ordering="scope")
    def what(self, row):
        return row.get_scope_display()

    @admin.display(description="Account or link", ordering="subject")
    def target(self, row):
        return self.describe_target(row)

    @staticmethod
    def describe_target(row) -> str:
        if not row.subject:
            return "any account" if row.scope == throttle.LOGIN else "any shared link"
        if row.scope == throttle.SHARED_LINK:
            from media_app.models import SharedLink

            link = SharedLink.objects.filter(pk=row.subject).first()
            return f"shared link #{row.subject}" + (f" ({link.description})" if link and link.description else "")
        return row.subject

    @admin.display(description="Last failure", ordering="last_failure_at")
    def last_failure(self, row):
        return when(row.last_failure_at)

    @admin.display(description="Status", ordering="locked_until")
    def status(self, row):
        if row.locked_until and row.locked_until > timezone.now():
            return f"Locked until {when(row.locked_until)}"
        return "Not locked"

    @admin.action(description="Clear selected lock-outs…")
    def clear_action(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return redirect(reverse("admin:users_app_authfailure_clear") + f"?ids={ids}")

    def get_urls(self):
        extra = [path("clear/", self.admin_site.admin_view(self.clear_view), name="users_app_authfailure_clear")]
        return extra + super().get_urls()

    def clear_view(self, request):
        source = request.POST if request.method == "POST" else request.GET
        ids = [int(part) for part in source.get("ids", "").split(",") if part.strip().isdigit()]
        rows = list(AuthFailure.objects.filter(pk__in=ids))
        if request.method == "POST" and source.get("confirm") == "yes" and rows:
            cleared = throttle.clear(row.pk for row in rows)
            self.message_user(request, f"Cleared {cleared} lock-out{'s' if cleared != 1 else ''}: those addresses "
                              "can try their passwords again.", messages.SUCCESS)
            return redirect("admin:users_app_authfailure_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Clear lock-outs",
            "opts": self.opts,
            "rows": [(row, self.describe_target(row), self.status(row)) for row in rows],
            "ids": ",".join(str(row.pk) for row in rows),
        }
        return TemplateResponse(request, "admin/users_app/authfailure/clear_confirmation.html", context)
