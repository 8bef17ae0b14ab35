"""Immich's user endpoints, a ninja Router of the one API layer (api_app): the caller's own account
(`/api/users/me`, preferences), other users' public profile, and the administrators' user management
(`/api/admin/users`). Thin: users_app.services and users_app.preferences decide; the statistics come from
media_app's."""

from datetime import datetime
from typing import Annotated, Literal

from django.contrib.auth import get_user_model
from ninja import Router, Schema, Status
from pydantic import AfterValidator, BaseModel, Field, StrictBool, StrictInt, StrictStr

from api_app.auth import admin, signed_in
from api_app.errors import ApiError, field_error, validation_failed
from media_app.api import AssetStatsResponseDto
from media_app.services.statistics import asset_statistics
from settings_app.services import get_config

from . import preferences, services
from .models import AVATAR_COLORS
from .services import user_admin_response, user_response

router = Router(tags=["Users", "Users (admin)"])

AvatarColor = Literal[AVATAR_COLORS]
AssetOrder = Literal["asc", "desc"]
USER_NOT_FOUND = "User not found"


class UserResponseDto(Schema):
    id: str
    name: str
    email: str
    avatarColor: AvatarColor
    profileImagePath: str
    profileChangedAt: datetime


class UserAdminResponseDto(UserResponseDto):
    isAdmin: bool
    shouldChangePassword: bool
    storageLabel: str | None
    quotaSizeInBytes: int | None
    quotaUsageInBytes: int | None
    oauthId: str
    status: Literal["active", "removing", "deleted"]
    createdAt: datetime
    updatedAt: datetime
    deletedAt: datetime | None
    license: None
    clusterGroupId: str


def _refused(error: services.UserFieldError) -> ApiError:
    return validation_failed([field_error([error.field], str(error))])


# --- The caller ------------------------------------------------------------------------------------------


class UserUpdateMeDto(Schema):
    name: str | None = Field(None, max_length=200)
    email: str | None = None
    password: str | None = Field(None, min_length=1)
    avatarColor: AvatarColor | None = None


@router.get("/users/me", auth=signed_in("user.read"), response=UserAdminResponseDto, url_name="api-users-me",
            summary="getMyUser")
def my_user(request):
    return user_admin_response(request.user)


@router.put("/users/me", auth=signed_in("user.update"), response=UserAdminResponseDto, url_name="api-users-me",
            summary="updateMyUser")
def update_my_user(request, body: UserUpdateMeDto):
    changes = {name: value for name, value in (("name", body.name), ("email", body.email),
                                                ("avatar_color", body.avatarColor)) if value is not None}
    try:
        return user_admin_response(services.update_user(request.user, changes, body.password))
    except services.UserFieldError as error:
        raise _refused(error)


class AlbumsResponse(Schema):
    defaultAssetOrder: AssetOrder


class CastResponse(Schema):
    gCastEnabled: bool


class DownloadResponse(Schema):
    archiveSize: int
    includeEmbeddedVideos: bool


class EmailNotificationsResponse(Schema):
    enabled: bool
    albumInvite: bool
    albumUpdate: bool


class FeatureResponse(Schema):
    enabled: bool
    sidebarWeb: bool


class MemoriesResponse(FeatureResponse):
    duration: int


class PeopleResponse(FeatureResponse):
    minimumFaces: int


class PurchaseResponse(Schema):
    showSupportBadge: bool
    hideBuyButtonUntil: str


class RatingsResponse(Schema):
    enabled: bool


class RecentlyAddedResponse(Schema):
    sidebarWeb: bool


class UserPreferencesResponseDto(Schema):
    albums: AlbumsResponse
    cast: CastResponse
    download: DownloadResponse
    emailNotifications: EmailNotificationsResponse
    folders: FeatureResponse
    memories: MemoriesResponse
    people: PeopleResponse
    purchase: PurchaseResponse
    ratings: RatingsResponse
    recentlyAdded: RecentlyAddedResponse
    sharedLinks: FeatureResponse
    tags: FeatureResponse


# Immich's UserPreferencesUpdateDto: every group and field may be left out (the `= None` defaults, never
# stored: the endpoints take only what was sent), none may be null; values of the wrong type ("true" for
# true, 5.0 for 5) are refused, as are sizes and counts under 1. The groups are plain pydantic models: ninja's
# Schema would read a null group as an empty one.
Switch = StrictBool
Positive = Annotated[StrictInt, Field(ge=1)]


def _iso_date(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date string") from None
    return value


class AlbumsUpdate(BaseModel):
    defaultAssetOrder: AssetOrder = None


class AvatarUpdate(BaseModel):
    color: AvatarColor = None


class CastUpdate(BaseModel):
    gCastEnabled: Switch = None


class DownloadUpdate(BaseModel):
    archiveSize: Positive = None
    includeEmbeddedVideos: Switch = None


class EmailNotificationsUpdate(BaseModel):
    enabled: Switch = None
    albumInvite: Switch = None
    albumUpdate: Switch = None


class FeatureUpdate(BaseModel):
    enabled: Switch = None
    sidebarWeb: Switch = None


class MemoriesUpdate(FeatureUpdate):
    duration: Positive = None


class PeopleUpdate(FeatureUpdate):
    minimumFaces: Positive = None


class PurchaseUpdate(BaseModel):
    showSupportBadge: Switch = None
    hideBuyButtonUntil: Annotated[StrictStr, AfterValidator(_iso_date)] = None


class RatingsUpdate(BaseModel):
    enabled: Switch = None


class RecentlyAddedUpdate(BaseModel):
    sidebarWeb: Switch = None


class UserPreferencesUpdateDto(Schema):
    albums: AlbumsUpdate = None
    avatar: AvatarUpdate = None
    cast: CastUpdate = None
    download: DownloadUpdate = None
    emailNotifications: EmailNotificationsUpdate = None
    folders: FeatureUpdate = None
    memories: MemoriesUpdate = None
    people: PeopleUpdate = None
    purchase: PurchaseUpdate = None
    ratings: RatingsUpdate = None
    recentlyAdded: RecentlyAddedUpdate = None
    sharedLinks: FeatureUpdate = None
    tags: FeatureUpdate = None


@router.get("/users/me/preferences", auth=signed_in("userPreference.read"), response=UserPreferencesResponseDto,
            url_name="api-users-me-preferences", summary="getMyPreferences")
def my_preferences(request):
    return preferences.preferences(request.user)


@router.put("/users/me/preferences", auth=signed_in("userPreference.update"),
            response=UserPreferencesResponseDto, url_name="api-users-me-preferences", summary="updateMyPreferences")
def update_my_preferences(request, body: UserPreferencesUpdateDto):
    return preferences.update_preferences(request.user, body.model_dump(exclude_unset=True))


def _user(user_id: str, *, with_deleted: bool = False):
    users = get_user_model().objects.all() if with_deleted else get_user_model().objects.filter(
        deleted_at__isnull=True)
    user = users.filter(pk=user_id).first() if str(user_id).isdigit() else None
    if user is None:
        raise ApiError(404, USER_NOT_FOUND)
    return user


@router.get("/users/{user_id}", auth=signed_in("user.read"), response=UserResponseDto, url_name="api-user",
            summary="getUser")
def get_user(request, user_id: str):
    return user_response(_user(user_id))


@router.get("/users/{user_id}/profile-image", auth=signed_in("userProfileImage.read"),
            url_name="api-user-profile-image", summary="getProfileImage")
def profile_image(request, user_id: str):
    _user(user_id)
    raise ApiError(404, "User does not have a profile image")  # this server keeps none


# --- Administrators' user management ---------------------------------------------------------------------


class UserAdminUpdateDto(Schema):
    name: str | None = Field(None, max_length=200)
    email: str | None = None
    password: str | None = Field(None, min_length=1)
    isAdmin: bool | None = None
    storageLabel: str | None = Field(None, max_length=100)
    quotaSizeInBytes: int | None = None
    shouldChangePassword: bool | None = None
    avatarColor: AvatarColor | None = None


class UserAdminCreateDto(UserAdminUpdateDto):
    name: str = Field(max_length=200)
    email: str
    password: str = Field(min_length=1)
    notify: bool | None = None


class UserAdminDeleteDto(Schema):
    force: bool | None = None


# API name -> model field of the profile values an administrator sets.
ADMIN_FIELDS = {"name": "name", "isAdmin": "is_admin", "storageLabel": "storage_label",
                "quotaSizeInBytes": "quota_size_in_bytes", "shouldChangePassword": "should_change_password",
                "avatarColor": "avatar_color", "email": "email"}
NULLABLE = {"storageLabel", "quotaSizeInBytes", "avatarColor"}


def _admin_changes(body: Schema) -> dict:
    """The fields the client sent (null only where it means something: no label, unlimited, default)."""
    sent = body.model_dump(include=set(ADMIN_FIELDS) & body.model_fields_set)
    return {ADMIN_FIELDS[name]: value for name, value in sent.items() if value is not None or name in NULLABLE}


def public_base_url(request) -> str:
    """Where the server is reached: the External domain setting, else this request's scheme and host."""
    return get_config().server.externalDomain.rstrip("/") or request.build_absolute_uri("/").rstrip("/")


@router.get("/admin/users", auth=admin("adminUser.read"), response=list[UserAdminResponseDto],
            url_name="api-admin-users", summary="searchUsersAdmin")
def search_users(request, withDeleted: bool = False, id: str | None = None):  # noqa: N803, A002
    users = get_user_model().objects.order_by("created_at", "pk")
    if not withDeleted:
        users = users.filter(deleted_at__isnull=True)
    if id is not None:
        users = users.filter(pk=id) if id.isdigit() else users.none()
    return [user_admin_response(user) for user in users]


@router.post("/admin/users", auth=admin("adminUser.create"), response={201: UserAdminResponseDto},
             url_name="api-admin-users", summary="createUserAdmin")
def create_user(request, body: UserAdminCreateDto):
    """A new user; `notify` asks for the welcome email (sent by whoever listens to `user_created`)."""
    fields = _admin_changes(body)
    email = fields.pop("email")
    try:
        user = services.create_user(email, body.password, **fields)
    except services.UserFieldError as error:
        raise _refused(error)
    services.user_created.send(sender=type(user), user=user, password=body.password, notify=bool(body.notify),
                               base_url=public_base_url(request))
    return Status(201, user_admin_response(user))


@router.get("/admin/users/{user_id}", auth=admin("adminUser.read"), response=UserAdminResponseDto,
            url_name="api-admin-user", summary="getUserAdmin")
def get_user_admin(request, user_id: str):
    return user_admin_response(_user(user_id, with_deleted=True))


@router.put("/admin/users/{user_id}", auth=admin("adminUser.update"), response=UserAdminResponseDto,
            url_name="api-admin-user", summary="updateUserAdmin")
def update_user_admin(request, user_id: str, body: UserAdminUpdateDto):
    user = _user(user_id)
    try:
        return user_admin_response(services.update_user(user, _admin_changes(body), body.password, by=request.user))
    except services.UserFieldError as error:
        raise _refused(error)


@router.delete("/admin/users/{user_id}", auth=admin("adminUser.delete"), response=UserAdminResponseDto,
               url_name="api-admin-user", summary="deleteUserAdmin")
def delete_user_admin(request, user_id: str, body: UserAdminDeleteDto | None = None):
    """Scheduled for removal after the delete delay (User settings), or at once (a background job) with
    `force`; the answer is the user as now marked for deletion."""
    user = _user(user_id, with_deleted=True)
    try:
        if body is not None and body.force:
            services.queue_immediate_deletion(user, by=request.user)
        else:
            services.schedule_deletion(user, by=request.user)
    except services.UserError as error:
        raise ApiError(400, str(error))
    return user_admin_response(user)


@router.post("/admin/users/{user_id}/restore", auth=admin("adminUser.delete"), response=UserAdminResponseDto,
             url_name="api-admin-user-restore", summary="restoreUserAdmin")
def restore_user_admin(request, user_id: str):
    user = _user(user_id, with_deleted=True)
    services.cancel_deletion(user)
    return user_admin_response(user)


@router.get("/admin/users/{user_id}/statistics", auth=admin("adminUser.read"), response=AssetStatsResponseDto,
            url_name="api-admin-user-statistics", summary="getUserStatisticsAdmin")
def user_statistics_admin(request, user_id: str, isFavorite: bool | None = None,  # noqa: N803
                          isTrashed: bool | None = None, visibility: str | None = None):  # noqa: N803
    return asset_statistics(_user(user_id, with_deleted=True), is_favorite=isFavorite, is_trashed=isTrashed,
                            visibility=visibility)


@router.get("/admin/users/{user_id}/preferences", auth=admin("adminUser.read"), response=UserPreferencesResponseDto,
            url_name="api-admin-user-preferences", summary="getUserPreferencesAdmin")
def user_preferences_admin(request, user_id: str):
    return preferences.preferences(_user(user_id, with_deleted=True))


@router.put("/admin/users/{user_id}/preferences", auth=admin("adminUser.update"),
            response=UserPreferencesResponseDto, url_name="api-admin-user-preferences",
            summary="updateUserPreferencesAdmin")
def update_user_preferences_admin(request, user_id: str, body: UserPreferencesUpdateDto):
    return preferences.update_preferences(_user(user_id), body.model_dump(exclude_unset=True))
