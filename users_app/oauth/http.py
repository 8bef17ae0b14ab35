"""Talking to the provider: which addresses the server may fetch (internal ones only when allowed), and
the HTTP requests themselves, with size limits and errors that never leak the client secret."""

import ipaddress
import json
import os
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings

from settings_app.events import ConfigInvalid, on_config_validate

from .common import MAX_RESPONSE_BYTES, OAuthError, ProviderUnavailable

# --- Addresses the server may fetch -----------------------------------------------------------------


def private_issuers_allowed() -> bool:
    """OAUTH_ALLOW_PRIVATE_ISSUERS (Django setting, else environment variable) = 1: tests and labs."""
    value = getattr(settings, "OAUTH_ALLOW_PRIVATE_ISSUERS", None)
    if value is None:
        value = os.environ.get("OAUTH_ALLOW_PRIVATE_ISSUERS", "")
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


INTERNAL_ISSUER_HINT = ("A provider on the server's own network is only used when “Allow insecure requests” is "
                        "turned on in the Authentication settings.")


def check_fetch_url(url: str, what: str, *, allow_internal: bool, internal_hint: str = INTERNAL_ISSUER_HINT) -> None:
    """Refuse URLs the server must not fetch: other schemes than http/https, and (unless allowed) hosts
    that resolve to loopback, private, link-local or otherwise non-public addresses, which would let the
    settings probe the server's own network. OAuthError names `what` and the address; `internal_hint` says
    how to allow an internal one (other outbound fetches, e.g. the version check, pass their own)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OAuthError(f"The {what} must be an http:// or https:// URL (got {url!r}).")
    if allow_internal:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OAuthError(f"The {what} {url} has an invalid port.")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError) as error:
        raise ProviderUnavailable(f"The {what} host {parts.hostname} could not be resolved ({error}).")
    internal = sorted(address for address in addresses if _internal(address))
    if internal:
        raise OAuthError(f"The {what} {url} points to an internal address ({internal[0]}). {internal_hint}")


def _allow_internal(oauth) -> bool:
    return bool(oauth.allowInsecureRequests) or private_issuers_allowed()


@on_config_validate
def issuer_url_is_fetchable(old, new):
    """Refuse saving an issuer URL the login would refuse anyway (scheme, internal address)."""
    oauth = new.oauth
    changed = (old.oauth.issuerUrl, old.oauth.allowInsecureRequests) != (oauth.issuerUrl, oauth.allowInsecureRequests)
    if not oauth.issuerUrl or not changed:
        return
    try:
        check_fetch_url(oauth.issuerUrl, "issuer URL", allow_internal=_allow_internal(oauth))
    except ProviderUnavailable:
        return  # an unresolvable host may be a temporary DNS problem; the login reports it clearly
    except OAuthError as error:
        raise ConfigInvalid("oauth.issuerUrl", error.message)


# --- HTTP towards the provider ----------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self, what: str):
        try:
            return json.loads(self.body)
        except ValueError:
            raise ProviderUnavailable(f"The {what} did not answer with JSON (Content-Type {self.content_type!r}).")


def _request(oauth, method: str, url: str, what: str, **kwargs) -> Reply:
    """One request to the provider with the Request timeout setting, TLS checks unless Allow insecure
    requests, no redirects (they could lead to addresses check_fetch_url refuses) and a size limit."""
    check_fetch_url(url, what, allow_internal=_allow_internal(oauth))
    timeout = oauth.timeout / 1000
    try:
        with requests.Session() as http, http.request(
            method, url, timeout=timeout, verify=not oauth.allowInsecureRequests, allow_redirects=False,
            stream=True, **kwargs,
        ) as response:
            body = b""
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise ProviderUnavailable(f"The {what} answered with more than {MAX_RESPONSE_BYTES} bytes.")
            reply = Reply(response.status_code, response.headers.get("Content-Type", ""), body)
            location = response.headers.get("Location", "")
    except requests.exceptions.SSLError as error:
        raise ProviderUnavailable(
            f"The TLS certificate of the {what} ({_host(url)}) could not be verified: {_reason(error)}. If the "
            "provider uses a self-signed certificate, turn on “Allow insecure requests”."
        )
    except requests.exceptions.Timeout:
        raise ProviderUnavailable(
            f"The {what} ({_host(url)}) did not answer within {oauth.timeout} ms (the Request timeout setting)."
        )
    except requests.exceptions.ConnectionError as error:
        raise ProviderUnavailable(f"Could not connect to the {what} ({_host(url)}): {_reason(error)}.")
    except requests.exceptions.RequestException as error:
        raise ProviderUnavailable(f"The request to the {what} ({_host(url)}) failed: {_reason(error)}.")
    if 300 <= reply.status < 400:
        raise ProviderUnavailable(f"The {what} {url} redirects to {location or 'another address'}; "
                                  "configure the final address instead.")
    return reply


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _reason(error: Exception) -> str:
    """The innermost cause of a requests error, without the long urllib3 wrapper text."""
    text = str(error)
    for pattern in (r"\[SSL: [^\]]+\] ([^(\"']+)", r"\[Errno -?\d+\] ([^(\"')]+)", r"Errno \d+\] ([^(\"')]+)"):
        match = re.search(pattern, text)
        if match:
            return match.group(1).strip().rstrip(".")
    return text[:200]
