from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from .models import ApiKey, User


class UserCreateForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name", "is_admin")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    list_display = ("email", "name", "is_admin", "is_active", "storage_label", "quota_size_in_bytes",
                    "deleted_at", "created_at")
    list_filter = ("is_admin", "is_active")
    search_fields = ("email", "name", "storage_label")
    ordering = ("email",)
    readonly_fields = ("created_at", "last_login", "oauth_id")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "storage_label", "quota_size_in_bytes")}),
        ("Access", {"fields": ("is_admin", "is_active", "oauth_id")}),
        ("Dates", {"fields": ("created_at", "last_login", "deleted_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "is_admin", "password1", "password2")}),)
    filter_horizontal = ()


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "created_at")
    readonly_fields = ("key_hash",)
    formfield_overrides = {}
    exclude = ()

    def has_add_permission(self, request):
        return False  # secrets are issued through POST /api/api-keys, shown once


