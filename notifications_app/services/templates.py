"""The emails' subjects and bodies. Each email has a built-in template (a clean HTML mail and its plain-text
part); a custom template from the Notification settings replaces the HTML, its tags `{name}` filled with the
values HTML-escaped (unknown tags stay as they are) and its text part derived from it."""

import html
import re
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.html import escape, strip_tags

TAG = re.compile(r"{(.*?)}")
BLANK_LINES = re.compile(r"\n\s*\n+")


@dataclass(frozen=True)
class EmailKind:
    name: str  # Immich's template name (POST /api/admin/notifications/templates/{name})
    title: str
    setting: str  # the settings path of its custom template ("" for the test email)
    builtin: str  # notifications_app/email/<builtin>.html and .txt
    subject: str  # with {tags}
    sample: dict  # values for the settings page's preview


SAMPLE_BASE_URL = "https://photos.example.com"
KINDS = {kind.name: kind for kind in (
    EmailKind("welcome", "Welcome", "templates.email.welcomeTemplate", "welcome", "Welcome to Photo Server",
              {"username": "jane@example.com", "password": "a-generated-password", "displayName": "Jane Doe",
               "baseUrl": SAMPLE_BASE_URL}),
    EmailKind("album-invite", "Album invite", "templates.email.albumInviteTemplate", "album_invite",
              "You have been added to a shared album - {albumName}",
              {"senderName": "Jane Doe", "recipientName": "John Smith", "albumId": "b3f9c5e2-album-id",
               "albumName": "Summer 2025", "baseUrl": SAMPLE_BASE_URL}),
    EmailKind("album-update", "Album update", "templates.email.albumUpdateTemplate", "album_update",
              "New media has been added to an album - {albumName}",
              {"recipientName": "John Smith", "albumId": "b3f9c5e2-album-id", "albumName": "Summer 2025",
               "baseUrl": SAMPLE_BASE_URL}),
    EmailKind("test", "Test email", "", "test", "Test email from Photo Server",
              {"displayName": "Jane Doe", "baseUrl": SAMPLE_BASE_URL}),
)}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def replace_tags(template: str, values: dict, *, html_escape: bool = True) -> str:
    def value(match):
        name = match.group(1)
        if name not in values:
            return match.group(0)
        return escape(str(values[name])) if html_escape else str(values[name])

    return TAG.sub(value, template)


def text_of(markup: str) -> str:
    """A plain-text part from HTML: tags dropped, entities decoded, blank runs folded."""
    text = html.unescape(strip_tags(re.sub(r"(?i)<br\s*/?>|</p>|</tr>|</h\d>", "\n", markup)))
    return BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.splitlines())).strip() + "\n"


def render(kind: EmailKind, values: dict, custom: str = "") -> RenderedEmail:
    """The email for these values, from the custom template when there is one, else the built-in one."""
    subject = replace_tags(kind.subject, values, html_escape=False)
    if custom.strip():
        markup = replace_tags(custom, values)
        return RenderedEmail(subject, markup, text_of(markup))
    context = {**values, "subject": subject}
    return RenderedEmail(subject, render_to_string(f"notifications_app/email/{kind.builtin}.html", context),
                         render_to_string(f"notifications_app/email/{kind.builtin}.txt", context).strip() + "\n")


def render_configured(kind: EmailKind, values: dict, config) -> RenderedEmail:
    return render(kind, values, config.get(kind.setting) if kind.setting else "")
