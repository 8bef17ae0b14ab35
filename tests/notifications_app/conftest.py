"""Real SMTP servers on 127.0.0.1 (aiosmtpd): plain, STARTTLS and implicit TLS with a self-signed certificate
made here, with or without authentication; and running the notifications queue's jobs as a worker does."""

import datetime
import email
import email.policy
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from jobs_app import engine, runner
from jobs_app.models import Job
from settings_app.services import refresh_config, save_values

SMTP_USER, SMTP_PASSWORD = "mailer", "smtp-secret-pass"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    message: email.message.EmailMessage
    tls: bool
    login: str


@dataclass
class Mailbox:
    """What one SMTP server received."""

    port: int
    controller: Controller = None
    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else ""
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed,
                                      server.transport.get_extra_info("ssl_object") is not None, login))
        return "250 Message accepted for delivery"

    def stop(self):
        self.controller.stop()


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@pytest.fixture
def start_smtp(certificate):
    """start_smtp(mode="plain"|"starttls"|"tls", auth=False, port=None) -> a running Mailbox."""
    started = []

    def start(mode: str = "plain", auth: bool = False, port: int | None = None) -> Mailbox:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*certificate)
        box = Mailbox(port or free_port())
        options = {"hostname": "127.0.0.1", "port": box.port}
        if mode == "starttls":
            options["tls_context"] = context
        if mode == "tls":
            options["ssl_context"] = context
        if auth:
            options.update(authenticator=_authenticate, auth_required=True, auth_require_tls=mode != "plain")
        box.controller = Controller(box, **options)
        box.controller.start()
        started.append(box)
        return box

    yield start
    for box in started:
        try:
            box.stop()
        except (AssertionError, RuntimeError):
            pass  # stopped by the test already


def use_smtp(box: Mailbox, **transport):
    """Email on, through this server; the save verifies the connection (True when it was accepted)."""
    values = {"notifications.smtp.enabled": True, "notifications.smtp.from": "Photo Server <photos@example.com>",
              "notifications.smtp.transport.host": "127.0.0.1", "notifications.smtp.transport.port": box.port}
    values.update({f"notifications.smtp.transport.{name}": value for name, value in transport.items()})
    result = save_values(values)
    refresh_config()
    return result


def run_due_jobs(queue: str = "notifications") -> list[str]:
    """Run every job of the queue that is due now, as a worker would (claim, run, record the outcome)."""
    outcomes = []
    while claims := engine.claim_ready([queue], "test:1"):
        for claim in claims:
            outcomes.append(runner.run_job(claim.job_id, claim.token))
    return outcomes


def make_due(**filters) -> int:
    """Let delayed or backed-off jobs run now."""
    a_second_ago = timezone.now() - datetime.timedelta(seconds=1)
    return Job.objects.filter(status=Job.WAITING, **filters).update(run_at=a_second_ago)
