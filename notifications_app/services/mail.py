"""Which emails are sent, to whom, and how: every email is a SendEmail job on the notifications queue (a web
request never waits for the SMTP server; a failed attempt is retried with the queue's back-off). Album
emails honour the recipient's preferences at the time they are sent; album updates are debounced per album
and recipient (Immich: 300 s, job id `<albumId>/<recipientId>`)."""

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from django.contrib.auth import get_user_model

from albums_app.models import Album
from jobs_app.services import enqueue
from settings_app.services import get_config

from ..models import EmailPreferences
from . import smtp as smtp_client
from . import verification
from .templates import KINDS, RenderedEmail, render, render_configured

QUEUE = "notifications"
SEND_JOB = "SendEmail"
ALBUM_INVITE_JOB = "NotifyAlbumInvite"
ALBUM_UPDATE_JOB = "NotifyAlbumUpdate"
ALBUM_UPDATE_DELAY_SECONDS = 300


def external_base_url(fallback: str = "") -> str:
    """Server → External domain, else the address the caller knows (the request's host)."""
    return (get_config().server.externalDomain or fallback).rstrip("/")


def display_name(user) -> str:
    return user.name or user.email


def compose(smtp, to_email: str, to_name: str, email: RenderedEmail) -> EmailMessage:
    """The MIME message: From and Reply-To (falling back to From) from the SMTP settings, text then HTML."""
    message = EmailMessage()
    message["From"] = getattr(smtp, "from")
    message["Reply-To"] = smtp.replyTo or getattr(smtp, "from")
    message["To"] = formataddr((to_name, to_email))
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(getattr(smtp, "from"))[1].rpartition("@")[2] or None)
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def queue_email(to_email: str, to_name: str, email: RenderedEmail):
    """Queue one email; None (nothing queued) when email notifications are off."""
    if not get_config().notifications.smtp.enabled:
        return None
    return enqueue(QUEUE, SEND_JOB, {"to": to_email, "toName": to_name, "subject": email.subject,
                                     "html": email.html, "text": email.text})


def send_now(smtp, to_email: str, to_name: str, email: RenderedEmail) -> tuple[str, str]:
    """Deliver at once through these settings (the test email): (message id, the server's answer). Raises
    OSError / smtplib.SMTPException (smtp_client.explain says what they mean)."""
    message = compose(smtp, to_email, to_name, email)
    return message["Message-ID"], smtp_client.send(smtp, message)


def send_queued(data: dict) -> str:
    """The SendEmail job: deliver with the current settings; raises (to be retried) when the server fails.
    Emails queued before email was switched off are dropped."""
    smtp = get_config().notifications.smtp
    if not smtp.enabled:
        return f"skipped: email notifications are disabled (not sent to {data['to']})"
    rendered = RenderedEmail(data["subject"], data["html"], data["text"])
    answer = smtp_client.send(smtp, compose(smtp, data["to"], data.get("toName", ""), rendered))
    return f"sent to {data['to']}: {answer}"


# --- What is sent when ------------------------------------------------------------------------------------


def welcome(user, password: str, base_url: str):
    """The welcome email of a user an administrator created with "notify"."""
    values = {"username": user.email, "password": password, "displayName": display_name(user),
              "baseUrl": external_base_url(base_url)}
    return queue_email(user.email, display_name(user), render_configured(KINDS["welcome"], values, get_config()))


def preferences_of(user) -> EmailPreferences:
    return EmailPreferences.objects.filter(user=user).first() or EmailPreferences(user=user)


def set_preferences(user, **choices: bool) -> EmailPreferences:
    """Store some of the user's album-email switches (enabled, album_invite, album_update); the others stay."""
    preferences = preferences_of(user)
    for name, value in choices.items():
        setattr(preferences, name, value)
    preferences.save()
    return preferences


def wants(user, which: str) -> bool:
    """Whether the user wants album emails of this kind ("album_invite" or "album_update")."""
    preferences = preferences_of(user)
    return preferences.enabled and getattr(preferences, which)


def queue_album_invite(album, recipient, sender, base_url: str = ""):
    if not get_config().notifications.smtp.enabled:
        return None
    return enqueue(QUEUE, ALBUM_INVITE_JOB, {"id": str(album.id), "recipientId": recipient.pk,
                                             "senderId": sender.pk, "baseUrl": base_url})


def queue_album_update(album, by, base_url: str = "") -> list:
    """A debounced update email to each of the album's users (owner included) but the one who added."""
    if not get_config().notifications.smtp.enabled:
        return []
    recipients = [album.owner, *(member.user for member in album.album_users.select_related("user"))]
    return [enqueue(QUEUE, ALBUM_UPDATE_JOB, {"id": str(album.id), "recipientId": user.pk, "baseUrl": base_url},
                    dedupe_key=f"{album.id}/{user.pk}", delay=ALBUM_UPDATE_DELAY_SECONDS, replace_waiting=True)
            for user in recipients if user.pk != by.pk]


def _album_email(data: dict, kind: str, preference: str, extra) -> str:
    album = Album.objects.filter(pk=data["id"]).select_related("owner").first()
    recipient = get_user_model().objects.filter(pk=data["recipientId"], deleted_at__isnull=True).first()
    if album is None or recipient is None:
        return "skipped: the album or the recipient no longer exists"
    if recipient.pk != album.owner_id and not album.album_users.filter(user=recipient).exists():
        return f"skipped: {recipient.email} is no longer in the album"
    if not wants(recipient, preference):
        return f"skipped: {recipient.email} turned these emails off"
    values = {"recipientName": display_name(recipient), "albumId": str(album.id), "albumName": album.name,
              "baseUrl": external_base_url(data.get("baseUrl", "")), **extra(album)}
    job = queue_email(recipient.email, display_name(recipient), render_configured(KINDS[kind], values, get_config()))
    return f"queued for {recipient.email}" if job else "skipped: email notifications are disabled"


def album_invite(data: dict) -> str:
    def sender_name(album):
        sender = get_user_model().objects.filter(pk=data.get("senderId")).first() or album.owner
        return {"senderName": display_name(sender)}

    return _album_email(data, "album-invite", "album_invite", sender_name)


def album_update(data: dict) -> str:
    return _album_email(data, "album-update", "album_update", lambda album: {})


# --- The settings page: previews and the test email ------------------------------------------------------


def preview(kind_name: str, custom: str = "") -> RenderedEmail:
    """The email with sample values, from the given (unsaved) template or the built-in one."""
    kind = KINDS[kind_name]
    return render(kind, kind.sample, custom)


@dataclass(frozen=True)
class TestEmailResult:
    ok: bool
    message: str  # the server's answer, or what went wrong, in plain words
    message_id: str = ""


def send_test_email(config, user, base_url: str = "") -> TestEmailResult:
    """Send the test email to `user` through the SMTP settings of `config` (possibly unsaved), at once."""
    smtp = config.notifications.smtp
    if not smtp.transport.host:
        return TestEmailResult(False, "Enter the SMTP host first.")
    if not getattr(smtp, "from"):
        return TestEmailResult(False, "Enter the from address first.")
    values = {"displayName": display_name(user), "baseUrl": external_base_url(base_url)}
    try:
        message_id, answer = send_now(smtp, user.email, display_name(user), render(KINDS["test"], values))
    except (OSError, smtplib.SMTPException) as error:
        return TestEmailResult(False, smtp_client.explain(error, smtp))
    verification.record(config)
    return TestEmailResult(True, f"Sent to {user.email}. The server answered: {answer}", message_id)
