"""Throttling of password guesses: password login (form and API) and shared-link passwords.

Failures are counted per (account or link, client address) and per address across all of them. Five
failures at one account from one address within 15 minutes lock that pair for 15 minutes; twenty from one
address lock the address. A correct password for the same account from another address still works, so
a guesser cannot lock the owner out. Administrators see and clear lock-outs in the console.

Why not django-axes: it counts every lockout parameter against one failure limit (no separate, higher
limit for the address alone), it knows nothing of shared-link passwords, and it needs its own
authentication backend with `request` passed to every authenticate() call. This is one model and a
few functions."""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import AuthFailure

LOGIN = "login"
SHARED_LINK = "shared-link"

PAIR_LIMIT = 5  # failures at one account (or link) from one address
ADDRESS_LIMIT = 20  # failures from one address across accounts (or links)
WINDOW = timedelta(minutes=15)  # failures older than this are forgotten
LOCKOUT = timedelta(minutes=15)

ANY_SUBJECT = ""


class Throttled(Exception):
    """Too many failures: answer 429 with Retry-After."""

    def __init__(self, scope: str, retry_after: int):
        self.scope, self.retry_after = scope, retry_after
        minutes = max(1, math.ceil(retry_after / 60))
        what = "failed login attempts" if scope == LOGIN else "wrong passwords for this link"
        super().__init__(f"Too many {what} from your address. Try again in {minutes} "
                         f"minute{'s' if minutes != 1 else ''}.")


def with_retry_after(response, retry_after: int | None):
    """Tell the client when to try again (429 page or JSON answer)."""
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@dataclass(frozen=True)
class Attempt:
    scope: str
    subject: str
    address: str


def client_address(request) -> str:
    """The client's IP: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT reverse proxies the address the
    outermost trusted proxy saw (X-Forwarded-For, counted from the right, where clients cannot forge it)."""
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    return forwarded[-proxies] if len(forwarded) >= proxies else remote


def attempt(request, scope: str, subject: str) -> Attempt:
    return Attempt(scope, str(subject).strip().lower()[:254], client_address(request)[:45])


def _retry_after(locked_until, now) -> int:
    return max(1, math.ceil((locked_until - now).total_seconds()))


def check(attempt: Attempt) -> None:
    """Raise Throttled while the pair or the address is locked (checked before the password is)."""
    now = timezone.now()
    locked = AuthFailure.objects.filter(
        scope=attempt.scope, address=attempt.address, subject__in=(attempt.subject, ANY_SUBJECT),
        locked_until__gt=now,
    ).order_by("-locked_until").first()
    if locked:
        raise Throttled(attempt.scope, _retry_after(locked.locked_until, now))


def _count(attempt: Attempt, subject: str, limit: int, now) -> AuthFailure:
    row, _ = AuthFailure.objects.select_for_update().get_or_create(
        scope=attempt.scope, subject=subject, address=attempt.address,
        defaults={"first_failure_at": now, "last_failure_at": now},
    )
    expired_lock = row.locked_until is not None and row.locked_until <= now
    if expired_lock or now - row.first_failure_at > WINDOW:
        row.failures, row.first_failure_at, row.locked_until = 0, now, None
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= limit:
        row.locked_until = now + LOCKOUT
    row.save()
    return row


def record_failure(attempt: Attempt) -> None:
    """Count a wrong password; raise Throttled when this failure reaches a limit."""
    now = timezone.now()
    with transaction.atomic():
        rows = [_count(attempt, attempt.subject, PAIR_LIMIT, now), _count(attempt, ANY_SUBJECT, ADDRESS_LIMIT, now)]
    locks = [row.locked_until for row in rows if row.locked_until]
    if locks:
        raise Throttled(attempt.scope, _retry_after(max(locks), now))


def record_success(attempt: Attempt) -> None:
    """A correct password forgets this pair's failures (not the address's: one valid account must not let
    an address go on guessing others)."""
    AuthFailure.objects.filter(scope=attempt.scope, subject=attempt.subject, address=attempt.address).delete()


def current_lockouts():
    return AuthFailure.objects.filter(locked_until__gt=timezone.now())


def clear(ids) -> int:
    """The console's "clear": forget these rows (locks and counts). Returns how many."""
    deleted, _ = AuthFailure.objects.filter(pk__in=list(ids)).delete()
    return deleted
