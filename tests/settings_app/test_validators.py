"""Checks that need the environment or the network: the log level override and the SMTP connection test
(against a real SMTP server on 127.0.0.1)."""

import logging
import socket

import pytest
from aiosmtpd.controller import Controller

from settings_app.listeners import LOG_LEVELS, LOGGING_OFF
from settings_app.services import get_config, save_values

pytestmark = pytest.mark.django_db


def test_log_level_applies_in_this_process_and_logging_off_silences(admin_user):
    root = logging.getLogger()
    save_values({"logging.level": "warn"}, user=admin_user)
    assert root.level == LOG_LEVELS["warn"]
    save_values({"logging.enabled": False}, user=admin_user)
    assert root.level == LOGGING_OFF
    save_values({"logging.enabled": True, "logging.level": "log"}, user=admin_user)
    assert root.level == logging.INFO


def test_logging_cannot_be_changed_while_the_env_override_is_set(settings, admin_user):
    settings.LOG_LEVEL_OVERRIDE = "debug"
    result = save_values({"logging.level": "error"}, user=admin_user)
    assert result.errors == {
        "logging.level": ["Logging cannot be changed while the environment variable LOG_LEVEL is set."]
    }
    assert get_config().logging.level == "log"
    assert save_values({"trash.days": 3}, user=admin_user).ok  # other categories unaffected


class _Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_enabling_email_verifies_the_smtp_server(smtp_server, admin_user):
    result = save_values({
        "notifications.smtp.enabled": True,
        "notifications.smtp.transport.host": "127.0.0.1",
        "notifications.smtp.transport.port": smtp_server,
        "notifications.smtp.from": "Photos <noreply@example.com>",
    }, user=admin_user)
    assert result.ok, result.messages()
    assert get_config().notifications.smtp.enabled is True


def test_an_unreachable_smtp_server_refuses_the_save(admin_user):
    port = _free_port()  # nothing listens there
    result = save_values({
        "notifications.smtp.enabled": True,
        "notifications.smtp.transport.host": "127.0.0.1",
        "notifications.smtp.transport.port": port,
    }, user=admin_user)
    assert not result.ok
    [message] = result.errors["notifications.smtp.transport.host"]
    assert message.startswith(f"Invalid SMTP configuration: could not connect to 127.0.0.1:{port}")
    assert get_config().notifications.smtp.enabled is False


def test_enabling_email_without_a_host_is_refused(admin_user):
    result = save_values({"notifications.smtp.enabled": True}, user=admin_user)
    assert result.errors == {"notifications.smtp.transport.host": ["Required when email notifications are enabled."]}
