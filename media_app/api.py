"""Immich's asset endpoints (upload, bulk-upload check, info and edits, delete, statistics, thumbnails,
originals, video playback and HLS), the timeline buckets, map markers, trash and the server's media numbers,
a ninja Router of the one API layer (api_app). Thin: media_app.services decide; the file responses are
media_app.views'."""

import base64
import binascii
from datetime import datetime
from typing import Literal
from uuid import UUID

import pydantic_core
from django.http import HttpResponse
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from api_app.auth import SIGNED_IN, admin, signed_in
from api_app.errors import ApiError, field_error, validation_failed
from api_app.schemas import BulkIdsDto
from settings_app.services import get_config

from .models import Asset, Visibility
from .services import buckets, hls, memories, statistics, trash, video_probe
from .services.asset_edits import AssetChanges, AssetEditError, edit_assets, shift_dates
from .services.timeline import asset_response
from .services.upload import CREATED, DUPLICATE, existing_device_assets, store_upload
from .upload_views import client_timestamp
from .views import FILE_SIZES, file_response, generated_file, playback_path

router = Router(auth=SIGNED_IN, tags=["Assets"])

VisibilityName = Literal[tuple(Visibility.values)]


class AssetMediaResponseDto(Schema):
    id: str
    status: Literal["created", "duplicate"]


@router.post("/assets", auth=signed_in("asset.upload"), response={200: AssetMediaResponseDto,
                                                                   201: AssetMediaResponseDto},
             url_name="api-upload-asset", summary="uploadAsset")
def upload_asset(request, assetData: UploadedFile | None = File(None),  # Immich's multipart field names
                 sidecarData: UploadedFile | None = File(None)):
    """Multipart `assetData` (+ sidecarData, fileCreatedAt, fileModifiedAt, filename, deviceAssetId, deviceId).
    201 {id, status: "created"}, 200 {id, status: "duplicate"}, 400 with the reason for a file that is refused."""
    if assetData is None:
        raise ApiError(400, "assetData: a file is required (multipart field “assetData”).")
    if request.POST.get("filename"):
        assetData.name = request.POST["filename"]
    result = store_upload(request.user, assetData, file_created_at=client_timestamp(request, "fileCreatedAt"),
                          file_modified_at=client_timestamp(request, "fileModifiedAt"), sidecar=sidecarData,
                          device_asset_id=request.POST.get("deviceAssetId", "")[:255],
                          device_id=request.POST.get("deviceId", "")[:255])
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


# --- Bulk upload check (the CLI asks before uploading) -----------------------------------------------------


class AssetBulkUploadCheckItem(Schema):
    id: str
    checksum: str


class AssetBulkUploadCheckDto(Schema):
    assets: list[AssetBulkUploadCheckItem]


# Optional, never null (Immich leaves them out): `str = None` declares that, and the route's exclude_none
# leaves them out of the JSON.
class AssetBulkUploadCheckResult(Schema):
    id: str
    action: Literal["accept", "reject"]
    assetId: str = None
    isTrashed: bool = None
    reason: Literal["duplicate", "unsupported-format"] = None


class AssetBulkUploadCheckResponseDto(Schema):
    results: list[AssetBulkUploadCheckResult]


def hex_checksum(text: str) -> str | None:
    """A SHA1 as Immich accepts it (40 hex digits, or 28 characters of base64) -> hex; None if neither."""
    text = text.strip()
    if len(text) == 40 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.lower()
    if len(text) == 28:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
        return raw.hex() if len(raw) == 20 else None
    return None


@router.post("/assets/bulk-upload-check", auth=signed_in("asset.upload"), response=AssetBulkUploadCheckResponseDto,
             url_name="api-bulk-upload-check", summary="checkBulkUpload", exclude_none=True)
def check_bulk_upload(request, body: AssetBulkUploadCheckDto):
    """Which of these files (by SHA1) the caller already has: "reject" with the asset's id for those."""
    checksums = {}
    for index, item in enumerate(body.assets):
        checksums[item.id] = hex_checksum(item.checksum)
        if checksums[item.id] is None:
            raise validation_failed([field_error(["assets", str(index), "checksum"],
                                                 "checksum must be a SHA1: 40 hex digits or 28 base64 characters.")])
    existing = {row["checksum"]: row for row in Asset.objects.filter(
        owner=request.user, library__isnull=True, checksum__in=set(checksums.values())).values(
        "checksum", "id", "deleted_at")}
    results = []
    for item in body.assets:
        found = existing.get(checksums[item.id])
        results.append({"id": item.id, "action": "accept"} if found is None else {
            "id": item.id, "action": "reject", "reason": "duplicate", "assetId": str(found["id"]),
            "isTrashed": found["deleted_at"] is not None})
    return {"results": results}


# --- Existing device assets (Immich's mobile app asks before its backup) ----------------------------------
# checkExistingAssets is gone from the pinned SDK 3.2.2 (and the CLI checks checksums instead), so the
# drift test cannot compare it; tests/media_app/test_upload.py calls it over plain HTTP.


class CheckExistingAssetsDto(Schema):
    deviceAssetIds: list[str] = Field(min_length=1)
    deviceId: str


class CheckExistingAssetsResponseDto(Schema):
    existingIds: list[str]


@router.post("/assets/exist", auth=signed_in("asset.upload"), response=CheckExistingAssetsResponseDto,
             url_name="api-assets-exist", summary="checkExistingAssets")
def check_existing_assets(request, body: CheckExistingAssetsDto):
    return {"existingIds": existing_device_assets(request.user, body.deviceId, body.deviceAssetIds)}


# --- Asset info and edits ------------------------------------------------------------------------------


class ExifResponseDto(Schema):
    make: str | None = None
    model: str | None = None
    lensModel: str | None = None
    exifImageWidth: int | None = None
    exifImageHeight: int | None = None
    fileSizeInByte: int | None = None
    orientation: str | None = None
    dateTimeOriginal: datetime | None = None
    timeZone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    description: str | None = None
    rating: int | None = None


class AssetResponseDto(Schema):
    id: str
    ownerId: str
    type: Literal["IMAGE", "VIDEO", "AUDIO", "OTHER"]
    checksum: str
    originalFileName: str
    originalPath: str
    fileCreatedAt: datetime
    fileModifiedAt: datetime
    localDateTime: datetime
    createdAt: datetime
    updatedAt: datetime
    isFavorite: bool
    isArchived: bool
    isTrashed: bool
    isOffline: bool
    isEdited: bool
    hasMetadata: bool
    visibility: VisibilityName
    thumbhash: str | None
    duration: float | None
    width: int | None
    height: int | None
    libraryId: str | None = None
    exifInfo: ExifResponseDto


class UpdateAssetDto(Schema):
    isFavorite: bool | None = None
    visibility: VisibilityName | None = None
    description: str | None = None
    rating: int | None = None
    dateTimeOriginal: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class AssetBulkUpdateDto(UpdateAssetDto):
    ids: list[UUID]
    dateTimeRelative: int | None = None


class AssetBulkDeleteDto(Schema):
    ids: list[UUID]
    force: bool | None = None


class AssetStatsResponseDto(Schema):
    images: int
    videos: int
    total: int


def _changes(body: UpdateAssetDto) -> AssetChanges:
    return AssetChanges(is_favorite=body.isFavorite, visibility=body.visibility, description=body.description,
                        rating=body.rating, rating_given="rating" in body.model_fields_set,
                        date_time_original=body.dateTimeOriginal, latitude=body.latitude,
                        longitude=body.longitude)


def _edit(request, asset_ids, changes: AssetChanges) -> None:
    try:
        edit_assets(request.user, asset_ids, changes)
    except AssetEditError as error:
        raise validation_failed([field_error([error.field], str(error))])


@router.get("/assets/statistics", auth=signed_in("asset.statistics"), response=AssetStatsResponseDto,
            url_name="api-asset-statistics", summary="getAssetStatistics")
def asset_statistics(request, isFavorite: bool | None = None, isTrashed: bool | None = None,  # noqa: N803
                     visibility: VisibilityName | None = None):
    return statistics.asset_statistics(request.user, is_favorite=isFavorite, is_trashed=isTrashed,
                                       visibility=visibility)


@router.put("/assets", auth=signed_in("asset.update"), response={204: None}, url_name="api-assets",
            summary="updateAssets")
def update_assets(request, body: AssetBulkUpdateDto):
    """The same changes to several of the caller's assets (others' ids are ignored)."""
    _edit(request, body.ids, _changes(body))
    if body.dateTimeRelative:
        shift_dates(request.user, body.ids, body.dateTimeRelative)
    return Status(204, None)


@router.delete("/assets", auth=signed_in("asset.delete"), response={204: None}, url_name="api-assets",
               summary="deleteAssets")
def delete_assets(request, body: AssetBulkDeleteDto):
    """To the trash (Trash settings), or for good with `force` or when the trash is off."""
    trash.delete_assets(request.user, body.ids, force=bool(body.force))
    return Status(204, None)


@router.get("/assets/{uuid:asset_id}", auth=signed_in("asset.read"), response=AssetResponseDto,
            url_name="api-asset", summary="getAssetInfo")
def asset_info(request, asset_id: UUID):
    return asset_response(_own_asset(request, asset_id))


@router.put("/assets/{uuid:asset_id}", auth=signed_in("asset.update"), response=AssetResponseDto,
            url_name="api-asset", summary="updateAsset")
def update_asset(request, asset_id: UUID, body: UpdateAssetDto):
    asset = _own_asset(request, asset_id)
    _edit(request, [asset.pk], _changes(body))
    asset.refresh_from_db()
    return asset_response(asset)


@router.get("/assets/{uuid:asset_id}/thumbnail", auth=signed_in("asset.view"),
            url_name="asset-thumbnail", summary="viewAsset")
def asset_thumbnail(request, asset_id: UUID, size: Literal[FILE_SIZES] = "thumbnail"):
    return generated_file(request, _own_asset(request, asset_id), size)


@router.get("/assets/{uuid:asset_id}/original", auth=signed_in("asset.download"),
            url_name="asset-original", summary="downloadAsset")
def asset_original(request, asset_id: UUID):
    return file_response(request, _own_asset(request, asset_id).original_path)


@router.get("/assets/{uuid:asset_id}/video/playback", auth=signed_in("asset.view"),
            url_name="asset-playback", summary="playAssetVideo")
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


class OnThisDayDto(Schema):
    year: int


class MemoryResponseDto(Schema):
    id: str
    ownerId: str
    type: Literal["on_this_day"]
    data: OnThisDayDto
    memoryAt: datetime
    isSaved: bool
    createdAt: datetime
    updatedAt: datetime
    assets: list[AssetResponseDto]
    # Optional, never null: the service leaves them out when unset, and exclude_unset keeps them out.
    showAt: datetime = None
    hideAt: datetime = None
    seenAt: datetime = None


@router.get("/memories", response=list[MemoryResponseDto], url_name="api-memories", summary="searchMemories",
            exclude_unset=True)
def search_memories(request):
    """The signed-in user's memories to show now (Immich's MemoryResponseDto list)."""
    return [memories.as_immich(memory) for memory in memories.current_for(request.user)]


# --- Timeline buckets and map ---------------------------------------------------------------------------


def _prebuilt(data) -> HttpResponse:
    """JSON the buckets service already shaped: answered as it is, since re-validating tens of thousands of
    items against the declared schema would cost more than the query (the SDK tests check the shapes), and
    written by pydantic's serializer, several times faster than the json module on a 30,000-marker map."""
    return HttpResponse(pydantic_core.to_json(data), content_type="application/json")


class TimeBucketsResponseDto(Schema):
    timeBucket: str
    count: int


class TimeBucketAssetResponseDto(Schema):
    id: list[str]
    ownerId: list[str]
    ratio: list[float]
    isFavorite: list[bool]
    visibility: list[VisibilityName]
    isTrashed: list[bool]
    isImage: list[bool]
    thumbhash: list[str | None]
    fileCreatedAt: list[str]
    localOffsetHours: list[float]
    duration: list[int | None]
    projectionType: list[str | None]
    livePhotoVideoId: list[str | None]
    createdAt: list[str]
    # Only withCoordinates (left out otherwise, as AssetBulkUploadCheckResult's optional fields).
    latitude: list[float | None] = None
    longitude: list[float | None] = None
    city: list[str | None] = None
    country: list[str | None] = None


class BucketQuery(Schema):
    isFavorite: bool | None = None
    isTrashed: bool | None = None
    visibility: VisibilityName | None = None
    order: Literal["asc", "desc"] = "desc"


def _bucket_filter(query: BucketQuery) -> buckets.BucketFilter:
    return buckets.BucketFilter(visibility=query.visibility, is_favorite=query.isFavorite,
                                is_trashed=bool(query.isTrashed), descending=query.order == "desc")


@router.get("/timeline/buckets", auth=signed_in("timeline.read"), response=list[TimeBucketsResponseDto],
            url_name="api-time-buckets", summary="getTimeBuckets")
def time_buckets(request, query: BucketQuery = Query(...)):
    """The caller's months with how many assets each holds."""
    return _prebuilt(buckets.month_buckets(request.user, _bucket_filter(query)))


@router.get("/timeline/bucket", auth=signed_in("timeline.read"), response=TimeBucketAssetResponseDto,
            url_name="api-time-bucket", summary="getTimeBucket", exclude_none=True)
def time_bucket(request, timeBucket: str, query: BucketQuery = Query(...),  # noqa: N803
                withCoordinates: bool = False):  # noqa: N803
    """One month's assets (timeBucket "YYYY-MM-01") as columns."""
    try:
        month = buckets.parse_month(timeBucket)
    except ValueError:
        raise validation_failed([field_error(["timeBucket"], "timeBucket must be a date such as 2024-05-01.")])
    return _prebuilt(buckets.month_assets(request.user, month, _bucket_filter(query),
                                          with_coordinates=withCoordinates))


class MapMarkerResponseDto(Schema):
    id: str
    lat: float
    lon: float
    city: str | None
    state: str | None
    country: str | None


@router.get("/map/markers", auth=signed_in("map.read"), response=list[MapMarkerResponseDto],
            url_name="api-map-markers", summary="getMapMarkers")
def map_markers(request, isArchived: bool | None = None, isFavorite: bool | None = None,  # noqa: N803
                fileCreatedAfter: datetime | None = None, fileCreatedBefore: datetime | None = None):  # noqa: N803
    return _prebuilt(buckets.map_markers(request.user, is_archived=isArchived, is_favorite=isFavorite,
                                         created_after=fileCreatedAfter, created_before=fileCreatedBefore))


# --- Trash ----------------------------------------------------------------------------------------------


class TrashResponseDto(Schema):
    count: int


@router.post("/trash/empty", auth=signed_in("asset.delete"), response=TrashResponseDto, url_name="api-trash-empty",
             summary="emptyTrash")
def empty_trash(request):
    return {"count": trash.empty_trash(request.user)}


@router.post("/trash/restore", auth=signed_in("asset.delete"), response=TrashResponseDto,
             url_name="api-trash-restore", summary="restoreTrash")
def restore_trash(request):
    return {"count": trash.restore_assets(request.user, trash.trashed_assets(request.user).values_list("pk",
                                                                                                        flat=True))}


@router.post("/trash/restore/assets", auth=signed_in("asset.delete"), response=TrashResponseDto,
             url_name="api-trash-restore-assets", summary="restoreAssets")
def restore_trash_assets(request, body: BulkIdsDto):
    return {"count": trash.restore_assets(request.user, body.ids)}


# --- The server's media (Immich's /server/* numbers) ----------------------------------------------------


class ServerMediaTypesResponseDto(Schema):
    image: list[str]
    video: list[str]
    sidecar: list[str]


class UsageByUserDto(Schema):
    userId: str
    userName: str
    photos: int
    videos: int
    usage: int
    usagePhotos: int
    usageVideos: int
    quotaSizeInBytes: int | None


class ServerStatsResponseDto(Schema):
    photos: int
    videos: int
    usage: int
    usagePhotos: int
    usageVideos: int
    usageByUser: list[UsageByUserDto]


class ServerStorageResponseDto(Schema):
    diskSize: str
    diskUse: str
    diskAvailable: str
    diskSizeRaw: int
    diskUseRaw: int
    diskAvailableRaw: int
    diskUsagePercentage: float


@router.get("/server/media-types", auth=None, response=ServerMediaTypesResponseDto, tags=["Server"],
            url_name="api-server-media-types", summary="getSupportedMediaTypes")
def server_media_types(request):
    """Public, as Immich's: the file extensions uploads accept."""
    return statistics.media_types()


@router.get("/server/statistics", auth=admin("server.statistics"), response=ServerStatsResponseDto,
            tags=["Server"], url_name="api-server-statistics", summary="getServerStatistics")
def server_statistics(request):
    return statistics.server_statistics()


@router.get("/server/storage", auth=signed_in("server.storage"), response=ServerStorageResponseDto,
            tags=["Server"], url_name="api-server-storage", summary="getStorage")
def server_storage(request):
    return statistics.server_storage()
