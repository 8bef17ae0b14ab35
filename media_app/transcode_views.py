"""The "Test transcode" panel of the Video Transcoding settings (admins): pick a video, see the decision with
its reasons and the exact ffmpeg command(s) the form's unsaved settings would run, optionally run them on
the first seconds. Nothing is saved."""

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from users_app.decorators import admin_required

from .models import Asset, AssetType
from .services import transcode
from .services.imaging import BadMediaFile

VIDEO_CHOICES = 200


@admin_required
@require_GET
def panel(request):
    videos = Asset.objects.filter(type=AssetType.VIDEO, is_offline=False).select_related("owner").order_by(
        "-created_at")[:VIDEO_CHOICES]
    return render(request, "media_app/transcode_test.html", {"videos": videos, "seconds": transcode.TEST_SECONDS})


@admin_required
@require_POST
def run(request):
    context = {"errors": [], "seconds": transcode.TEST_SECONDS}
    asset = _chosen_video(request.POST.get("transcode_test_asset", ""))
    config, errors = transcode.config_for_test(request.POST)
    if asset is None:
        errors = ["Pick a video to test.", *errors]
    if errors:
        context["errors"] = errors
        return render(request, "media_app/transcode_test.html#result", context)
    try:
        current = transcode.plan(asset.original_path, config)
    except BadMediaFile as error:
        context["errors"] = [f"{asset.original_filename}: {error.reason}"]
        return render(request, "media_app/transcode_test.html#result", context)
    context.update(asset=asset, plan=current, commands=transcode.command_lines(current, asset.original_path))
    if request.POST.get("transcode_test_run") and current.decision.transcode:
        context["sample"] = transcode.run_sample(current, asset.original_path)
    return render(request, "media_app/transcode_test.html#result", context)


def _chosen_video(value: str):
    try:
        return Asset.objects.filter(pk=value, type=AssetType.VIDEO).first()
    except (ValueError, ValidationError):
        return None
