"""The version check (Immich's VersionCheck job): asks this project's release feed, a JSON list of releases in
the shape of GitHub's releases API, for the newest release on the configured channel and stores the answer
for the dashboard header and `GET /api/server/version-check`.

Nothing is fetched while the check is disabled. Every failure (no network, an internal address, a redirect,
a timeout, a body that is too large or not a release list) is logged once and stored as "could not check";
the job never fails because of it."""

import importlib.metadata
import json
import logging
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, total_ordering
from pathlib import Path

import requests
from django.db import transaction
from django.utils import timezone

from jobs_app import services as jobs_services
from jobs_app.models import JobsMetadata
from users_app.oauth import OAuthError, check_fetch_url

from .models import ReleaseDismissal, VersionHistory
from .services import get_config

log = logging.getLogger(__name__)

# This project's releases, in GitHub's releases-API shape; VERSION_CHECK_URL points elsewhere (a mirror,
# a test server).
DEFAULT_RELEASE_FEED_URL = "https://api.github.com/repos/photoserver/photoserver/releases"
STATE_KEY = "version-check-state"
MIN_INTERVAL = timedelta(seconds=50)  # Immich skips checks closer together than this
MAX_FEED_BYTES = 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 5.0
COULD_NOT_CHECK = "could not check"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def feed_url() -> str:
    return os.environ.get("VERSION_CHECK_URL", "").strip() or DEFAULT_RELEASE_FEED_URL


def timeout_seconds() -> float:
    try:
        return max(0.1, float(os.environ.get("VERSION_CHECK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)))
    except ValueError:
        return DEFAULT_TIMEOUT_SECONDS


@cache
def project_version() -> str:
    try:
        return importlib.metadata.version("photoserver")
    except importlib.metadata.PackageNotFoundError:  # running from a checkout that was never pip-installed
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"]


# --- Semantic versions --------------------------------------------------------------------------------

_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


@total_ordering
@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple = ()  # identifiers: ints for numeric ones, strings otherwise

    @classmethod
    def parse(cls, text: str) -> "SemVer | None":
        match = _SEMVER.match(str(text).strip())
        if not match:
            return None
        pre = tuple(int(part) if part.isdigit() else part for part in (match[4] or "").split(".") if part)
        return cls(int(match[1]), int(match[2]), int(match[3]), pre)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _key(self):
        # A release sorts after its pre-releases; numeric identifiers sort before alphanumeric ones.
        pre = tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)

    def __lt__(self, other: "SemVer") -> bool:
        return self._key() < other._key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return text + ("-" + ".".join(str(part) for part in self.prerelease) if self.prerelease else "")

    def as_immich(self) -> dict:
        """ServerVersionResponseDto: `prerelease` is the number of an rc.N pre-release, else null."""
        numbers = [part for part in self.prerelease if isinstance(part, int)]
        return {"major": self.major, "minor": self.minor, "patch": self.patch,
                "prerelease": numbers[-1] if self.prerelease and numbers else None}


def running_version() -> SemVer:
    return SemVer.parse(project_version()) or SemVer(0, 0, 0)


# --- The feed -----------------------------------------------------------------------------------------


class CouldNotCheck(Exception):
    """The feed could not be asked or did not answer with a release list; the message says why."""


@dataclass(frozen=True)
class Release:
    version: SemVer
    url: str  # its release notes


def _fetch_feed(url: str, channel: str) -> bytes:
    try:
        check_fetch_url(url, "release feed URL", allow_internal=_env_flag("VERSION_CHECK_ALLOW_PRIVATE"),
                        internal_hint="Set VERSION_CHECK_ALLOW_PRIVATE=true to allow a feed on an internal address.")
    except OAuthError as refused:
        raise CouldNotCheck(refused.message)
    try:
        with requests.get(url, params={"channel": "rc" if channel == "releaseCandidate" else "stable"},
                          headers={"Accept": "application/json"}, timeout=timeout_seconds(),
                          allow_redirects=False, stream=True) as response:
            if response.is_redirect or 300 <= response.status_code < 400:
                raise CouldNotCheck(f"the feed redirects to {response.headers.get('Location') or 'another address'}")
            if response.status_code != 200:
                raise CouldNotCheck(f"the feed answered HTTP {response.status_code}")
            body = b""
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_FEED_BYTES:
                    raise CouldNotCheck(f"the feed answered with more than {MAX_FEED_BYTES} bytes")
            return body
    except requests.exceptions.Timeout:
        raise CouldNotCheck(f"the feed did not answer within {timeout_seconds():g} s")
    except requests.exceptions.RequestException as error:
        raise CouldNotCheck(f"the feed could not be reached ({type(error).__name__})")


def newest_release(body: bytes, channel: str) -> Release | None:
    """The newest release of a GitHub-shaped release list on the channel: drafts never count, pre-releases
    (flagged, or with a semantic-version pre-release part) only on the release candidate channel."""
    try:
        releases = json.loads(body)
    except ValueError:
        raise CouldNotCheck("the feed did not answer with JSON")
    if not isinstance(releases, list):
        raise CouldNotCheck("the feed did not answer with a list of releases")
    candidates = []
    for entry in releases:
        if not isinstance(entry, dict) or entry.get("draft"):
            continue
        version = SemVer.parse(entry.get("tag_name") or "")
        if version is None:
            continue
        if (entry.get("prerelease") or version.is_prerelease) and channel != "releaseCandidate":
            continue
        url = entry.get("html_url")
        candidates.append(Release(version, url if isinstance(url, str) and url.startswith("https://") else ""))
    return max(candidates, key=lambda release: release.version, default=None)


# --- The check and its stored state ---------------------------------------------------------------------


def state() -> dict:
    row = JobsMetadata.objects.filter(key=STATE_KEY).first()
    return row.value if row else {}


def run_check(*, now: datetime | None = None) -> str:
    """The VersionCheck job: one question to the feed, at most every 50 s, never when disabled."""
    config = get_config()
    if not config.newVersionCheck.enabled:
        return "version check disabled"
    now = now or timezone.now()
    previous = state()
    checked_at = previous.get("checkedAt")
    if checked_at and now - datetime.fromisoformat(checked_at) < MIN_INTERVAL:
        return "version check skipped: checked less than 50 s ago"
    record_running_version()
    channel, url = config.newVersionCheck.channel, feed_url()
    result = {"checkedAt": now.isoformat(), "channel": channel, "releaseVersion": None, "releaseUrl": "",
              "error": ""}
    try:
        release = newest_release(_fetch_feed(url, channel), channel)
    except CouldNotCheck as problem:
        result["error"] = str(problem)
        if previous.get("error") != result["error"]:  # logged once, not every hour
            log.warning("Version check: %s (%s)", problem, url)
        outcome = f"version check: {COULD_NOT_CHECK}: {problem}"
    else:
        if release:
            result["releaseVersion"], result["releaseUrl"] = str(release.version), release.url
        outcome = f"version check: newest release {result['releaseVersion'] or 'none'} on the {channel} channel"
    JobsMetadata.objects.update_or_create(key=STATE_KEY, defaults={"value": result})
    return outcome


def available_release() -> dict | None:
    """The stored newest release when it is newer than the running version: {"version", "url"}."""
    if not get_config().newVersionCheck.enabled:
        return None
    current = state()
    release = SemVer.parse(current.get("releaseVersion") or "")
    if release is None or not release > running_version():
        return None
    return {"version": str(release), "url": current.get("releaseUrl") or ""}


def notice_for(user) -> dict | None:
    """What the header shows an administrator: the available release unless they dismissed that version."""
    if not getattr(user, "is_admin", False):
        return None
    release = available_release()
    if release is None or ReleaseDismissal.objects.filter(user=user, version=release["version"]).exists():
        return None
    return release


def dismiss(user, version: str) -> None:
    ReleaseDismissal.objects.get_or_create(user=user, version=version[:40])


def status() -> dict:
    """The last check for the Version Check settings page: when, what it found, or why it could not check."""
    current = state()
    checked_at = current.get("checkedAt")
    return {"checked_at": datetime.fromisoformat(checked_at) if checked_at else None,
            "release": current.get("releaseVersion"), "error": current.get("error", ""),
            "running": str(running_version()), "available": available_release()}


def check_state_response() -> dict:
    """Immich's VersionCheckStateResponseDto."""
    current = state()
    return {"checkedAt": current.get("checkedAt"), "releaseVersion": current.get("releaseVersion")}


def record_running_version() -> None:
    """Immich's version history: the first time each server version runs."""
    version = project_version()
    latest = VersionHistory.objects.order_by("-created_at").first()
    if latest is None or latest.version != version:
        with transaction.atomic():
            VersionHistory.objects.create(version=version)


def history_response() -> list[dict]:
    """Immich's ServerVersionHistoryResponseDto[], newest first."""
    return [{"id": str(entry.id), "createdAt": entry.created_at.isoformat(), "version": entry.version}
            for entry in VersionHistory.objects.order_by("-created_at")]


def check_when_switched_on(old, new) -> None:
    """config_update listener: turning the check on asks the feed at once (Immich's onConfigUpdate)."""
    if new.newVersionCheck.enabled and not old.newVersionCheck.enabled:
        jobs_services.enqueue("backgroundTask", "VersionCheck", dedupe_key="VersionCheck")
