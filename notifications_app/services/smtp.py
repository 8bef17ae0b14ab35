"""The SMTP client (what nodemailer does for Immich): connect with implicit TLS when `secure`, otherwise
upgrade with STARTTLS when the server offers it; `ignoreCert` accepts any certificate; log in when a username
is set. The same connection verifies the settings on save and delivers mail. Errors are explained in plain
words (`explain`); the password never appears in them."""

import smtplib
import socket
import ssl
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

TIMEOUT_SECONDS = 10


class DeliveryRefused(smtplib.SMTPException):
    """The server accepted the connection but refused this message (its answer is the message)."""


def _tls_context(transport) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if transport.ignoreCert:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@contextmanager
def connection(smtp):
    """A logged-in smtplib client for the `notifications.smtp` settings section."""
    transport = smtp.transport
    context = _tls_context(transport)
    if transport.secure:
        client = smtplib.SMTP_SSL(transport.host, transport.port, timeout=TIMEOUT_SECONDS, context=context)
    else:
        client = smtplib.SMTP(transport.host, transport.port, timeout=TIMEOUT_SECONDS)
    with client:
        client.ehlo()
        if not transport.secure and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if transport.username:
            client.login(transport.username, transport.password)
        yield client


def verify(smtp) -> None:
    """Connect, upgrade, log in and say NOOP: raises what a send would raise."""
    with connection(smtp) as client:
        client.noop()


def send(smtp, message: EmailMessage) -> str:
    """Deliver the message; returns the server's answer to it (e.g. "250 OK queued as …")."""
    sender = parseaddr(message["From"])[1]
    recipients = [address for _, address in getaddresses(message.get_all("To", []))]
    with connection(smtp) as client:
        code, reply = client.mail(sender)
        if code != 250:
            raise DeliveryRefused(f"the server refused the sender {sender}: {code} {reply.decode(errors='replace')}")
        for recipient in recipients:
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                raise DeliveryRefused(f"the server refused the recipient {recipient}: "
                                      f"{code} {reply.decode(errors='replace')}")
        code, reply = client.data(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))  # SMTP wants CRLF
        if code != 250:
            raise DeliveryRefused(f"the server refused the message: {code} {reply.decode(errors='replace')}")
        return f"{code} {reply.decode(errors='replace')}"


def explain(error: BaseException, smtp) -> str:
    """What went wrong, for a person configuring the server."""
    where = f"{smtp.transport.host}:{smtp.transport.port}"
    if isinstance(error, ssl.SSLCertVerificationError):
        return (f"The TLS certificate of {where} is not trusted ({error.verify_message}). For a self-signed "
                "certificate turn on “Ignore certificate errors”.")
    if isinstance(error, ssl.SSLError):
        hint = ("is the port one for implicit TLS (usually 465)?" if smtp.transport.secure
                else "the port may expect implicit TLS: turn on “Use TLS (SMTPS)”.")
        return f"The TLS handshake with {where} failed ({error.reason or error}): {hint}"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return (f"{where} refused the username or password ({error.smtp_code} "
                f"{error.smtp_error.decode(errors='replace')}).")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return f"{where} does not support this: {error}. Check the TLS settings."
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return f"{where} closed the connection ({error or 'without an answer'})."
    if isinstance(error, DeliveryRefused):
        return f"{where}: {error}."
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{where} answered {error.smtp_code} {error.smtp_error.decode(errors='replace')}."
    if isinstance(error, ConnectionRefusedError):
        return f"Could not connect to {where}: connection refused (is the SMTP server running on that port?)."
    if isinstance(error, socket.timeout | TimeoutError):
        return f"{where} did not answer within {TIMEOUT_SECONDS} seconds."
    if isinstance(error, socket.gaierror):
        return f"The host name {smtp.transport.host} could not be resolved ({error.strerror})."
    return f"Could not send through {where}: {error}."
