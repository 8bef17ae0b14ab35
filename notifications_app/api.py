"""Immich's notification admin endpoints: `POST /api/admin/notifications/test-email` (send the test email to
the caller with the given SMTP settings) and `POST /api/admin/notifications/templates/{name}` (render a
template with sample values). Thin: notifications_app.services.mail decides."""

from ninja import Field, Router, Schema

from api_app.auth import ADMIN
from api_app.errors import ApiError
from media_app.services.sharing import public_base_url
from settings_app.services import config_with, get_config, is_secret_placeholder

from .services import mail
from .services.templates import KINDS

router = Router(auth=ADMIN, tags=["Notifications (admin)"])


class SystemConfigSmtpTransportDto(Schema):
    host: str
    port: int
    secure: bool = False
    ignoreCert: bool = False
    username: str = ""
    password: str = ""


class SystemConfigSmtpDto(Schema):
    enabled: bool
    transport: SystemConfigSmtpTransportDto
    sender: str = Field("", alias="from")  # `from` is a Python keyword
    replyTo: str = ""


class TemplateDto(Schema):
    template: str


@router.post("/admin/notifications/test-email", url_name="api-test-email", summary="sendTestEmailAdmin")
def send_test_email(request, body: SystemConfigSmtpDto):
    """{messageId}; 400 with the reason in plain words when the SMTP server cannot be used. An empty (or
    masked) password uses the stored one, since the API never returns it."""
    transport = body.transport
    values = {f"notifications.smtp.transport.{name}": getattr(transport, name)
              for name in ("host", "port", "secure", "ignoreCert", "username")}
    if transport.password and not is_secret_placeholder(transport.password):
        values["notifications.smtp.transport.password"] = transport.password
    values["notifications.smtp.from"] = body.sender
    values["notifications.smtp.replyTo"] = body.replyTo
    result = mail.send_test_email(config_with(values, get_config()), request.user, public_base_url(request))
    if not result.ok:
        raise ApiError(400, f"Failed to verify SMTP configuration: {result.message}")
    return {"messageId": result.message_id}


@router.post("/admin/notifications/templates/{name}", url_name="api-email-template",
             summary="getNotificationTemplateAdmin")
def render_template(request, name: str, body: TemplateDto):
    """{name, html}: the template (empty = the built-in one) rendered with sample values."""
    if name not in KINDS or not KINDS[name].setting:
        raise ApiError(404, f"Unknown template “{name}”: expected one of "
                            f"{', '.join(kind.name for kind in KINDS.values() if kind.setting)}.")
    return {"name": name, "html": mail.preview(name, body.template).html}
