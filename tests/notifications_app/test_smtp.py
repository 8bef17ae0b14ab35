"""The SMTP client against real servers on 127.0.0.1: STARTTLS and implicit TLS with a self-signed
certificate (refused unless ignoreCert), authentication, From/Reply-To, text and HTML parts, and a server
that is down: the SendEmail job is retried with back-off and delivered once it is back."""

import pytest
from django.utils import timezone

from jobs_app.models import Job
from notifications_app.services import mail
from notifications_app.services.templates import RenderedEmail
from settings_app.services import get_config, save_values

from .conftest import SMTP_PASSWORD, SMTP_USER, make_due, run_due_jobs, use_smtp

pytestmark = pytest.mark.django_db

HELLO = RenderedEmail("Hello", "<p>Hi <b>there</b></p>", "Hi there\n")


def deliver(to="jane@example.com"):
    job = mail.queue_email(to, "Jane Doe", HELLO)
    assert job is not None
    return job, run_due_jobs()


def test_plain_delivery_with_reply_to_falling_back_to_from(start_smtp):
    box = start_smtp()
    assert use_smtp(box).ok
    job, outcomes = deliver()
    assert outcomes == ["sent to jane@example.com: 250 Message accepted for delivery"]
    [received] = box.messages
    assert received.mail_from == "photos@example.com" and received.rcpt_tos == ["jane@example.com"]
    message = received.message
    assert message["From"] == "Photo Server <photos@example.com>" and message["To"] == "Jane Doe <jane@example.com>"
    assert message["Reply-To"] == "Photo Server <photos@example.com>" and message["Subject"] == "Hello"
    assert message.get_body(("plain",)).get_content() == "Hi there\r\n"  # as sent on the wire
    assert message.get_body(("html",)).get_content().strip() == "<p>Hi <b>there</b></p>"
    assert not received.tls
    job.refresh_from_db()
    assert job.status == Job.COMPLETED and "html" not in job.data  # the body is not kept once delivered


def test_reply_to_is_used_when_set(start_smtp):
    box = start_smtp()
    assert save_values({"notifications.smtp.replyTo": "help@example.com"}).ok
    assert use_smtp(box).ok
    deliver()
    assert box.messages[0].message["Reply-To"] == "help@example.com"


def test_starttls_with_a_self_signed_certificate_needs_ignore_cert(start_smtp):
    box = start_smtp("starttls", auth=True)
    refused = use_smtp(box, username=SMTP_USER, password=SMTP_PASSWORD)
    [message] = refused.errors["notifications.smtp.transport.host"]
    assert "certificate" in message and "Ignore certificate errors" in message
    assert get_config().notifications.smtp.enabled is False

    assert use_smtp(box, username=SMTP_USER, password=SMTP_PASSWORD, ignoreCert=True).ok
    deliver()
    [received] = box.messages
    assert received.tls and received.login == SMTP_USER


def test_implicit_tls_needs_secure_and_ignore_cert(start_smtp):
    box = start_smtp("tls")
    assert not use_smtp(box, secure=True).ok  # self-signed, not ignored
    assert use_smtp(box, secure=True, ignoreCert=True).ok
    deliver()
    assert box.messages[0].tls


def test_wrong_password_is_refused_in_plain_words(start_smtp):
    box = start_smtp("starttls", auth=True)
    result = use_smtp(box, username=SMTP_USER, password="wrong-password", ignoreCert=True)
    [message] = result.errors["notifications.smtp.transport.host"]
    assert "refused the username or password" in message and "wrong-password" not in message


def test_server_down_is_retried_with_back_off_then_delivered(start_smtp):
    box = start_smtp()
    port = box.port
    assert use_smtp(box).ok
    box.stop()
    job = mail.queue_email("jane@example.com", "Jane", HELLO)
    [outcome] = run_due_jobs()
    assert outcome.startswith("failed:")
    job.refresh_from_db()
    assert job.status == Job.WAITING and job.failures == 1 and "Connection refused" in job.error
    assert (job.run_at - timezone.now()).total_seconds() > 20  # the queue's back-off: not due yet
    assert run_due_jobs() == []

    make_due()
    run_due_jobs()
    job.refresh_from_db()
    assert job.failures == 2 and (job.run_at - timezone.now()).total_seconds() > 50  # doubled

    back = start_smtp(port=port)
    make_due()
    assert run_due_jobs() == ["sent to jane@example.com: 250 Message accepted for delivery"]
    job.refresh_from_db()
    assert job.status == Job.COMPLETED and len(back.messages) == 1


def test_nothing_is_queued_while_email_is_off(db):
    assert mail.queue_email("jane@example.com", "Jane", HELLO) is None
    assert not Job.objects.exists()


def test_queued_mail_is_dropped_once_email_is_switched_off(start_smtp):
    box = start_smtp()
    assert use_smtp(box).ok
    job = mail.queue_email("jane@example.com", "Jane", HELLO)
    assert save_values({"notifications.smtp.enabled": False}).ok
    assert run_due_jobs() == ["skipped: email notifications are disabled (not sent to jane@example.com)"]
    job.refresh_from_db()
    assert job.status == Job.COMPLETED and box.messages == []
