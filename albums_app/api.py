"""Immich's album endpoints (`/api/albums…`), a ninja Router of the one API layer. Thin: albums_app.services
decides who may do what."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Router, Schema, Status

from api_app.auth import SIGNED_IN
from api_app.errors import ApiError
from api_app.schemas import BulkIdResponseDto, BulkIdsDto
from media_app.services.sharing import public_base_url
from users_app.users_api import UserResponseDto

from .services import albums
from .services.shapes import album_json

router = Router(auth=SIGNED_IN, tags=["Albums"])

# The SDK's AlbumUserRole includes "owner"; the services refuse it for a member (an album has one owner).
Role = Literal["editor", "viewer", "owner"]


class AlbumUserCreateDto(Schema):
    userId: str
    role: Role


class AlbumUserAddDto(Schema):
    userId: str
    role: Role | None = None


class CreateAlbumDto(Schema):
    albumName: str
    description: str | None = None
    assetIds: list[UUID] = []
    albumUsers: list[AlbumUserCreateDto] = []


class UpdateAlbumDto(Schema):
    albumName: str | None = None
    description: str | None = None
    albumThumbnailAssetId: UUID | None = None
    isActivityEnabled: bool | None = None
    order: Literal["asc", "desc"] | None = None


class AddUsersDto(Schema):
    albumUsers: list[AlbumUserAddDto]


class UpdateAlbumUserDto(Schema):
    role: Role


class AlbumUserResponseDto(Schema):
    role: Role
    user: UserResponseDto


class AlbumResponseDto(Schema):
    """Immich's AlbumResponseDto as the pinned SDK declares it, for search's album results (always empty).
    The album endpoints answer these fields plus owner, ownerId and assets, which earlier Immich versions'
    AlbumResponseDto carried, so it is not imposed on them."""
    id: str
    albumName: str
    description: str
    albumThumbnailAssetId: str | None
    albumUsers: list[AlbumUserResponseDto]
    assetCount: int
    shared: bool
    hasSharedLink: bool
    isActivityEnabled: bool
    createdAt: datetime
    updatedAt: datetime
    order: Literal["asc", "desc"] = None
    startDate: datetime = None
    endDate: datetime = None
    lastModifiedAssetTimestamp: datetime = None


def _album(request, album_id: UUID):
    try:
        return albums.get_album(request.user, album_id)
    except albums.AlbumError as error:
        raise ApiError(error.status, str(error))


def _run(action, *args, **kwargs):
    try:
        return action(*args, **kwargs)
    except albums.AlbumError as error:
        raise ApiError(error.status, str(error))


@router.get("/albums", url_name="api-albums", summary="getAllAlbums")
def list_albums(request, isOwned: bool | None = None, isShared: bool | None = None,  # noqa: N803
                assetId: UUID | None = None, id: UUID | None = None, name: str | None = None):  # noqa: A002
    """Owned and shared-with-me albums, narrowed as Immich's: isOwned (the user's own or the others'),
    isShared (shared with anyone or not), the album holding assetId, one id, an exact name."""
    found = albums.visible_albums(request.user)
    if isShared is True:
        found = albums.shared_albums(request.user)
    elif isShared is False:
        found = found.filter(album_users__isnull=True)
    if isOwned is not None:
        found = found.filter(owner=request.user) if isOwned else found.exclude(owner=request.user)
    if assetId is not None:
        found = found.filter(assets=assetId)
    if id is not None:
        found = found.filter(pk=id)
    if name is not None:
        found = found.filter(name=name)
    return [album_json(album, with_assets=False) for album in found]


@router.post("/albums", response={201: dict}, url_name="api-albums", summary="createAlbum")
def create_album(request, body: CreateAlbumDto):
    album = _run(albums.create_album, request.user, body.albumName, description=body.description or "",
                 asset_ids=[str(value) for value in body.assetIds],
                 users=[(member.userId, member.role) for member in body.albumUsers],
                 base_url=public_base_url(request))
    return Status(201, album_json(album))


@router.get("/albums/{uuid:album_id}", url_name="api-album", summary="getAlbumInfo")
def album_info(request, album_id: UUID):
    return album_json(_album(request, album_id))


@router.patch("/albums/{uuid:album_id}", url_name="api-album", summary="updateAlbumInfo")
def update_album(request, album_id: UUID, body: UpdateAlbumDto):
    album = _run(albums.update_album, request.user, _album(request, album_id), name=body.albumName,
                 description=body.description, order=body.order, is_activity_enabled=body.isActivityEnabled,
                 thumbnail_id=str(body.albumThumbnailAssetId) if body.albumThumbnailAssetId else None)
    return album_json(album, with_assets=False)


@router.delete("/albums/{uuid:album_id}", response={204: None}, url_name="api-album", summary="deleteAlbum")
def delete_album(request, album_id: UUID):
    _run(albums.delete_album, request.user, _album(request, album_id))
    return Status(204, None)


@router.put("/albums/{uuid:album_id}/assets", response=list[BulkIdResponseDto], url_name="api-album-assets",
            summary="addAssetsToAlbum", exclude_none=True)
def add_assets(request, album_id: UUID, body: BulkIdsDto):
    results = _run(albums.add_assets, request.user, _album(request, album_id), [str(v) for v in body.ids],
                   base_url=public_base_url(request))
    return [result.as_immich() for result in results]


@router.delete("/albums/{uuid:album_id}/assets", response=list[BulkIdResponseDto], url_name="api-album-assets",
               summary="removeAssetFromAlbum", exclude_none=True)
def remove_assets(request, album_id: UUID, body: BulkIdsDto):
    results = _run(albums.remove_assets, request.user, _album(request, album_id), [str(v) for v in body.ids])
    return [result.as_immich() for result in results]


@router.put("/albums/{uuid:album_id}/users", url_name="api-album-users", summary="addUsersToAlbum")
def add_users(request, album_id: UUID, body: AddUsersDto):
    album = _run(albums.add_users, request.user, _album(request, album_id),
                 [(member.userId, member.role) for member in body.albumUsers], base_url=public_base_url(request))
    return album_json(album, with_assets=False)


@router.put("/albums/{uuid:album_id}/user/{user_id}", response={204: None}, url_name="api-album-user",
            summary="updateAlbumUser")
def update_album_user(request, album_id: UUID, user_id: str, body: UpdateAlbumUserDto):
    _run(albums.set_role, request.user, _album(request, album_id), user_id, body.role)
    return Status(204, None)


@router.delete("/albums/{uuid:album_id}/user/{user_id}", response={204: None}, url_name="api-album-user",
               summary="removeUserFromAlbum")
def remove_user(request, album_id: UUID, user_id: str):
    _run(albums.remove_user, request.user, _album(request, album_id), user_id)
    return Status(204, None)
