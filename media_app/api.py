"""Immich's asset endpoints (`POST /api/assets`, `GET /api/assets/{id}/thumbnail|original|video/playback`), a
ninja Router of the one API layer (api_app). Thin: the upload service and the file responses of
media_app.views decide."""

from typing import Literal
from uuid import UUID

from ninja import File, Router, Status
from ninja.files import UploadedFile

from api_app.auth import SIGNED_IN
from api_app.errors import ApiError

from .models import Asset
from .services import memories
from .services.upload import CREATED, DUPLICATE, store_upload
from .upload_views import client_timestamp
from .views import FILE_SIZES, file_response, generated_file, playback_path

router = Router(auth=SIGNED_IN, tags=["Assets"])


@router.post("/assets", response={200: dict, 201: dict}, url_name="api-upload-asset", summary="uploadAsset")
def upload_asset(request, assetData: UploadedFile | None = File(None)):  # Immich's multipart field name
    """Multipart `assetData` (+ fileCreatedAt, fileModifiedAt, filename). 201 {id, status: "created"},
    200 {id, status: "duplicate"}, 400 with the reason for a file that is refused."""
    if assetData is None:
        raise ApiError(400, "assetData: a file is required (multipart field “assetData”).")
    if request.POST.get("filename"):
        assetData.name = request.POST["filename"]
    result = store_upload(request.user, assetData, file_created_at=client_timestamp(request, "fileCreatedAt"),
                          file_modified_at=client_timestamp(request, "fileModifiedAt"))
    if result.status == CREATED:
        return Status(201, {"id": result.asset_id, "status": "created"})
    if result.status == DUPLICATE:
        return Status(200, {"id": result.asset_id, "status": "duplicate"})
    raise ApiError(400, f"{result.filename}: {result.reason}")


def _own_asset(request, asset_id: UUID) -> Asset:
    asset = Asset.objects.filter(pk=asset_id, owner=request.user).first()
    if asset is None:  # someone else's asset is not found either
        raise ApiError(404, "Asset not found")
    return asset


@router.get("/assets/{uuid:asset_id}/thumbnail", url_name="asset-thumbnail", summary="viewAsset")
def asset_thumbnail(request, asset_id: UUID, size: Literal[FILE_SIZES] = "thumbnail"):
    return generated_file(request, _own_asset(request, asset_id), size)


@router.get("/assets/{uuid:asset_id}/original", url_name="asset-original", summary="downloadAsset")
def asset_original(request, asset_id: UUID):
    return file_response(request, _own_asset(request, asset_id).original_path)


@router.get("/assets/{uuid:asset_id}/video/playback", url_name="asset-playback", summary="playAssetVideo")
def asset_playback(request, asset_id: UUID):
    """The transcoded file when there is one, the original otherwise, with byte ranges."""
    asset = _own_asset(request, asset_id)
    if not asset.is_video:
        raise ApiError(400, "Asset is not a video")
    return file_response(request, playback_path(asset))


@router.get("/memories", url_name="api-memories", summary="searchMemories")
def search_memories(request):
    """The signed-in user's memories to show now (Immich's MemoryResponseDto list)."""
    return [memories.as_immich(memory) for memory in memories.current_for(request.user)]
