"""Immich's asset endpoints (`POST /api/assets`, `GET /api/assets/{id}/thumbnail|original|video/playback`), a
ninja Router of the one API layer (api_app). Thin: the upload service and the file responses of
media_app.views decide."""

from typing import Literal
from uuid import UUID

from django.http import HttpResponse
from ninja import File, Router, Status
from ninja.files import UploadedFile

from api_app.auth import SIGNED_IN
from api_app.errors import ApiError
from settings_app.services import get_config

from .models import Asset
from .services import hls, memories, video_probe
from .services.upload import CREATED, DUPLICATE, store_upload
from .upload_views import client_timestamp
from .views import FILE_SIZES, file_response, generated_file, playback_path

router = Router(auth=SIGNED_IN, tags=["Assets"])


@router.post("/assets", response={200: dict, 201: dict}, url_name="api-upload-asset", summary="uploadAsset")
def upload_asset(request, assetData: UploadedFile | None = File(None),  # Immich's multipart field names
                 sidecarData: UploadedFile | None = File(None)):
    """Multipart `assetData` (+ sidecarData, fileCreatedAt, fileModifiedAt, filename). 201 {id, status: "created"},
    200 {id, status: "duplicate"}, 400 with the reason for a file that is refused."""
    if assetData is None:
        raise ApiError(400, "assetData: a file is required (multipart field “assetData”).")
    if request.POST.get("filename"):
        assetData.name = request.POST["filename"]
    result = store_upload(request.user, assetData, file_created_at=client_timestamp(request, "fileCreatedAt"),
                          file_modified_at=client_timestamp(request, "fileModifiedAt"), sidecar=sidecarData)
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
    return file_response(request, playback_path(_own_video(request, asset_id)))


def _own_video(request, asset_id: UUID) -> Asset:
    asset = _own_asset(request, asset_id)
    if not asset.is_video:
        raise ApiError(400, "Asset is not a video")
    return asset


def _hls_response(content, path_suffix: str) -> HttpResponse:
    response = HttpResponse(content, content_type=hls.CONTENT_TYPES[path_suffix])
    response["Cache-Control"] = "no-store" if path_suffix == ".m3u8" else "private, max-age=3600"
    return response


@router.get("/assets/{uuid:asset_id}/video/hls/master.m3u8", url_name="asset-hls-master",
            summary="startHlsSession")
def asset_hls_master(request, asset_id: UUID):
    """A new real-time HLS session: its master playlist lists each offered codec and resolution. Refused
    while real-time transcoding (ffmpeg.realtime.enabled) is off."""
    asset = _own_video(request, asset_id)
    config = get_config().ffmpeg
    if not config.realtime.enabled:
        raise ApiError(403, "Real-time transcoding is disabled (ffmpeg.realtime.enabled); "
                            "use /video/playback instead.")
    offered = hls.variants(video_probe.probe(asset.original_path), config.realtime)
    return _hls_response(hls.master_playlist(hls.create_session(asset, offered), offered), ".m3u8")


@router.delete("/assets/{uuid:asset_id}/video/hls/{session_id}", response={204: None}, url_name="asset-hls-session",
               summary="endHlsSession")
def asset_hls_end(request, asset_id: UUID, session_id: str):
    """The player is done (page left): stop the session's ffmpeg and remove its segments now."""
    session = hls.session_folder(session_id, _own_video(request, asset_id))
    if session is None:
        raise ApiError(404, "HLS session not found (it ended or never existed).")
    hls.end_session(session)
    return Status(204, None)


def _hls_variant(request, asset_id: UUID, session_id: str, variant: str):
    asset = _own_video(request, asset_id)
    session = hls.session_folder(session_id, asset)
    if session is None:
        raise ApiError(404, "HLS session not found (it ended or never existed); load the master playlist again.")
    if variant not in hls.session_variants(session):
        raise ApiError(404, f"Variant {variant!r} is not offered in this session.")
    return asset, session


@router.get("/assets/{uuid:asset_id}/video/hls/{session_id}/{variant}/playlist.m3u8",
            url_name="asset-hls-playlist", summary="getHlsPlaylist")
def asset_hls_playlist(request, asset_id: UUID, session_id: str, variant: str):
    """The variant's media playlist, starting its encode; waits for the first segment."""
    asset, session = _hls_variant(request, asset_id, session_id, variant)
    config = get_config().ffmpeg
    folder = hls.start_variant(session, variant, asset.original_path, video_probe.probe(asset.original_path),
                               config)
    try:
        playlist = hls.media_playlist(folder)
    except hls.HlsError as error:
        raise ApiError(500, str(error))
    if playlist is None:
        raise ApiError(503, "The first segment is not ready yet; retry shortly.", headers={"Retry-After": "2"})
    return _hls_response(playlist, ".m3u8")


@router.get("/assets/{uuid:asset_id}/video/hls/{session_id}/{variant}/{name}", url_name="asset-hls-segment",
            summary="getHlsSegment")
def asset_hls_segment(request, asset_id: UUID, session_id: str, variant: str, name: str):
    """init.mp4 or segment-NNNNN.m4s of a running or finished encode (waits while ffmpeg produces it)."""
    _asset, session = _hls_variant(request, asset_id, session_id, variant)
    try:
        path = hls.segment(session / variant, name)
    except hls.HlsError as error:
        raise ApiError(500, str(error))
    if path is None:
        raise ApiError(404, f"Segment {name!r} not found in this session.")
    return _hls_response(path.read_bytes(), path.suffix)


@router.get("/memories", url_name="api-memories", summary="searchMemories")
def search_memories(request):
    """The signed-in user's memories to show now (Immich's MemoryResponseDto list)."""
    return [memories.as_immich(memory) for memory in memories.current_for(request.user)]
