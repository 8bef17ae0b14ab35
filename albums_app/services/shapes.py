"""Albums in Immich's JSON shapes (AlbumResponseDto, AlbumUserResponseDto, UserResponseDto)."""

from media_app.services.timeline import asset_response, iso
from users_app.services import user_response

from ..models import Album
from . import albums


def album_json(album: Album, *, with_assets: bool = True) -> dict:
    assets = list(albums.album_assets(album))
    start, end = albums.date_range(album)
    cover = albums.cover(album)
    members = list(albums.members(album))
    answer = {
        "id": str(album.id), "albumName": album.name, "description": album.description,
        "albumThumbnailAssetId": str(cover.id) if cover else None,
        "ownerId": str(album.owner_id), "owner": user_response(album.owner),
        "albumUsers": [{"role": member.role, "user": user_response(member.user)} for member in members],
        "shared": bool(members), "hasSharedLink": albums.has_shared_link(album),
        "assetCount": len(assets), "assets": [asset_response(asset) for asset in assets] if with_assets else [],
        "createdAt": iso(album.created_at), "updatedAt": iso(album.updated_at),
        "isActivityEnabled": album.is_activity_enabled, "order": album.order,
    }
    if start:
        answer.update(startDate=iso(start), endDate=iso(end))
    if assets:
        answer["lastModifiedAssetTimestamp"] = iso(max(asset.updated_at for asset in assets))
    return answer
