"""OpenID Connect login (Immich's OAuth settings).

Authorization code flow with PKCE (S256), `state` and `nonce`; the ID token's signature (RS256 and friends
through the provider's JWKS, HS256 with the client secret), `iss`, `aud` and `exp` are checked. Every
step reads the Authentication settings through get_config(), so a change applies at the next login.

The pending flow (state, nonce, PKCE verifier, redirect URI) lives in the visitor's Django session, the
counterpart of Immich's immich_oauth_state / immich_oauth_code_verifier cookies.

Errors are OAuthError with a message meant for the person logging in or the administrator, and an HTTP
status: 400 for a refused login or a setting that does not fit the provider, 502 when the provider is
unreachable or answers nonsense. The client secret never enters a message, a log line or a page.
"""

import base64
import hashlib
import ipaddress
import json
import logging
import math
import os
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from settings_app.events import ConfigInvalid, on_config_validate
from settings_app.forms import CATEGORY_FORMS
from settings_app.registry import KEYS_BY_PATH
from settings_app.services import Config, get_config, locked_paths

from .models import GIB

log = logging.getLogger(__name__)

START_PATH = "/auth/oauth/start/"
CALLBACK_PATH = "/auth/oauth/callback/"
MOBILE_REDIRECT_PATH = "/api/oauth/mobile-redirect"
# The Immich mobile app's own redirect URI; the mobile redirect override replaces it (Immich's
# resolveRedirectUri), because many providers refuse custom schemes for "web" clients.
MOBILE_APP_REDIRECT = "app.immich:///oauth-callback"
MOBILE_APP_REDIRECT_PATTERN = re.compile(r"app\.immich:/+oauth-callback")

SESSION_FLOWS = "oauth_flows"
SESSION_ID_TOKEN = "oauth_id_token"  # kept for RP-initiated logout (id_token_hint)
MAX_PENDING_FLOWS = 5  # a few tabs may start a login at once; older flows are dropped
FLOW_LIFETIME_SECONDS = 600
CLOCK_LEEWAY_SECONDS = 60  # tolerated clock difference with the provider for exp / iat
MAX_RESPONSE_BYTES = 1024 * 1024

AUTHENTICATION_FAILED = "OAuth authentication failed"
NOT_ENABLED = "OAuth is not enabled"


class OAuthError(Exception):
    """A refused OAuth step. `status` is 400 (login refused, settings do not fit the provider) or 502
    (the provider is unreachable or broken)."""

    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class ProviderUnavailable(OAuthError):
    status = 502


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


# --- Discovery and keys -----------------------------------------------------------------------------


@dataclass
class ProviderInfo:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str = ""
    userinfo_endpoint: str = ""
    end_session_endpoint: str = ""
    code_challenge_methods: list = field(default_factory=list)
    id_token_algorithms: list = field(default_factory=list)
    userinfo_algorithms: list = field(default_factory=list)
    auth_methods: list = field(default_factory=list)
    scopes: list = field(default_factory=list)


def _same_issuer(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def discover(oauth) -> ProviderInfo:
    """Fetch <issuer>/.well-known/openid-configuration and check it describes this issuer."""
    if not oauth.issuerUrl:
        raise OAuthError("The Issuer URL is not set (Authentication settings).")
    url = oauth.issuerUrl.rstrip("/") + "/.well-known/openid-configuration"
    reply = _request(oauth, "GET", url, "issuer URL", headers={"Accept": "application/json"})
    if reply.status != 200:
        raise ProviderUnavailable(
            f"OAuth discovery failed: {url} answered HTTP {reply.status}. Check the Issuer URL."
        )
    document = reply.json("issuer URL")
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"OAuth discovery failed: {url} is not an OpenID configuration document.")
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or not _same_issuer(issuer, oauth.issuerUrl):
        raise OAuthError(
            f"The provider says its issuer is {issuer!r}, but the Issuer URL setting is {oauth.issuerUrl!r}. "
            "Set the Issuer URL to exactly the provider's issuer."
        )
    missing = [name for name in ("authorization_endpoint", "token_endpoint") if not isinstance(document.get(name), str)]
    if missing:
        raise ProviderUnavailable(f"OAuth discovery failed: the provider's configuration lacks {', '.join(missing)}.")

    def strings(name):
        value = document.get(name)
        return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []

    def text(name):
        value = document.get(name)
        return value if isinstance(value, str) else ""

    return ProviderInfo(
        issuer=issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=text("jwks_uri"),
        userinfo_endpoint=text("userinfo_endpoint"),
        end_session_endpoint=text("end_session_endpoint"),
        code_challenge_methods=strings("code_challenge_methods_supported"),
        id_token_algorithms=strings("id_token_signing_alg_values_supported"),
        userinfo_algorithms=strings("userinfo_signing_alg_values_supported"),
        auth_methods=strings("token_endpoint_auth_methods_supported"),
        scopes=strings("scopes_supported"),
    )


def fetch_jwks(oauth, provider: ProviderInfo) -> list[dict]:
    if not provider.jwks_uri:
        raise ProviderUnavailable("The provider publishes no jwks_uri, so its signatures cannot be checked.")
    reply = _request(oauth, "GET", provider.jwks_uri, "JWKS endpoint", headers={"Accept": "application/json"})
    if reply.status != 200:
        raise ProviderUnavailable(f"The JWKS endpoint {provider.jwks_uri} answered HTTP {reply.status}.")
    document = reply.json("JWKS endpoint")
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ProviderUnavailable(f"The JWKS endpoint {provider.jwks_uri} did not return a key set.")
    return [key for key in keys if isinstance(key, dict)]


def _verification_key(oauth, provider: ProviderInfo, algorithm: str, kid: str | None, what: str):
    if algorithm.startswith("HS"):
        if not oauth.clientSecret:
            raise OAuthError(f"The {what} is signed with {algorithm}, which needs the client secret; set the "
                             "client secret or choose an asymmetric algorithm such as RS256.")
        return oauth.clientSecret.encode()
    for candidate in fetch_jwks(oauth, provider):
        if kid and candidate.get("kid") != kid:
            continue
        if candidate.get("use", "sig") != "sig" or candidate.get("alg", algorithm) != algorithm:
            continue
        try:
            return jwt.PyJWK(candidate, algorithm=algorithm).key
        except jwt.exceptions.PyJWTError:
            continue
    raise OAuthError(f"The provider's JWKS has no {algorithm} key" + (f" with kid {kid!r}" if kid else "")
                     + f" to check the {what}.")


def _verify_jwt(oauth, provider: ProviderInfo, token: str, algorithm: str, what: str, *, require_claims: bool):
    """Check a JWT from the provider: the algorithm is the configured one, the signature verifies, and
    iss / aud / exp are right (required for the ID token, checked when present in a signed userinfo)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.exceptions.DecodeError:
        raise OAuthError(f"The {what} from the provider is not a valid JWT.")
    received = header.get("alg")
    if received != algorithm:
        raise OAuthError(
            f"The {what} is signed with {received}, but the settings expect {algorithm}. Set the "
            f"{'ID token' if what == 'ID token' else 'profile'} signing algorithm to match the provider."
        )
    key = _verification_key(oauth, provider, algorithm, header.get("kid"), what)
    options = {"require": ["exp", "iat", "iss", "aud", "sub"]} if require_claims else {
        "verify_aud": False, "verify_iss": False, "require": ["sub"]}
    try:
        claims = jwt.decode(
            token, key, algorithms=[algorithm], audience=oauth.clientId if require_claims else None,
            issuer=provider.issuer if require_claims else None, leeway=CLOCK_LEEWAY_SECONDS, options=options,
        )
    except jwt.exceptions.ExpiredSignatureError:
        raise OAuthError(f"The {what} has expired. Check that the server's clock and the provider's agree.")
    except jwt.exceptions.ImmatureSignatureError:
        raise OAuthError(f"The {what} is not valid yet. Check that the server's clock and the provider's agree.")
    except jwt.exceptions.InvalidAudienceError:
        raise OAuthError(f"The {what} was issued for another client (aud does not contain the Client ID).")
    except jwt.exceptions.InvalidIssuerError:
        raise OAuthError(f"The {what} was issued by another issuer than {provider.issuer}.")
    except jwt.exceptions.InvalidSignatureError:
        raise OAuthError(f"The {what}'s signature does not verify"
                         + (" with the client secret." if algorithm.startswith("HS") else " with the provider's keys."))
    except jwt.exceptions.MissingRequiredClaimError as error:
        raise OAuthError(f"The {what} lacks the {error.claim!r} claim.")
    except jwt.exceptions.PyJWTError as error:
        raise OAuthError(f"The {what} is invalid: {error}.")
    if not require_claims:
        if "iss" in claims and claims["iss"] != provider.issuer:
            raise OAuthError(f"The {what} was issued by another issuer than {provider.issuer}.")
        audience = claims.get("aud")
        if audience is not None and oauth.clientId not in (audience if isinstance(audience, list) else [audience]):
            raise OAuthError(f"The {what} was issued for another client (aud does not contain the Client ID).")
    return claims


# --- Starting a login -------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode()).digest())


def resolve_redirect_uri(oauth, uri: str) -> str:
    """Immich's resolveRedirectUri: with the mobile override, the app's custom scheme is replaced by the
    configured mobile redirect URI (which forwards to the app, see mobile_app_redirect)."""
    if oauth.mobileOverrideEnabled and oauth.mobileRedirectUri:
        return MOBILE_APP_REDIRECT_PATTERN.sub(lambda _match: oauth.mobileRedirectUri, uri)
    return uri


def auto_launch(query) -> bool:
    """Auto launch: the login page goes straight to the provider, unless ?autoLaunch=0 (the way back in
    when the provider is broken)."""
    oauth = get_config().oauth
    return bool(oauth.enabled and oauth.autoLaunch) and query.get("autoLaunch") != "0"


def start_url(next_url: str = "") -> str:
    return START_PATH + (f"?{urlencode({'next': next_url})}" if next_url else "")


def mobile_app_redirect(query_string: str) -> str:
    """GET /api/oauth/mobile-redirect forwards the provider's answer to the app's custom scheme."""
    return f"{MOBILE_APP_REDIRECT}?{query_string}"


def _enabled_oauth():
    oauth = get_config().oauth
    if not oauth.enabled:
        raise OAuthError(NOT_ENABLED)
    if not oauth.clientId:
        raise OAuthError("The Client ID is not set (Authentication settings).")
    return oauth


def begin(session, redirect_uri: str, *, next_url: str = "") -> str:
    """Start a login: remember state, nonce and the PKCE verifier in the session and return the
    provider's authorization URL."""
    oauth = _enabled_oauth()
    provider = discover(oauth)
    check_fetch_url(provider.authorization_endpoint, "authorization endpoint", allow_internal=True)
    redirect_uri = resolve_redirect_uri(oauth, redirect_uri)
    flow = {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(64),
        "redirect_uri": redirect_uri,
        "issuer": provider.issuer,
        "client_id": oauth.clientId,
        "next": next_url,
        "created": time.time(),
    }
    params = {
        "response_type": "code",
        "client_id": oauth.clientId,
        "redirect_uri": redirect_uri,
        "scope": oauth.scope,
        "state": flow["state"],
        "nonce": flow["nonce"],
        "code_challenge": pkce_challenge(flow["verifier"]),
        "code_challenge_method": "S256",
    }
    if oauth.prompt:
        params["prompt"] = oauth.prompt
    _remember_flow(session, flow)
    return _with_query(provider.authorization_endpoint, params)


def _with_query(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _remember_flow(session, flow: dict) -> None:
    now = time.time()
    flows = {
        state: pending for state, pending in (session.get(SESSION_FLOWS) or {}).items()
        if now - pending.get("created", 0) < FLOW_LIFETIME_SECONDS
    }
    flows[flow["state"]] = flow
    session[SESSION_FLOWS] = dict(sorted(flows.items(), key=lambda item: item[1]["created"])[-MAX_PENDING_FLOWS:])


def _take_flow(session, state: str) -> dict:
    """The pending flow this state belongs to, removed from the session (a state is used once)."""
    flows = dict(session.get(SESSION_FLOWS) or {})
    flow = flows.pop(state, None) if state else None
    if flow is not None:
        session[SESSION_FLOWS] = flows
    if flow is None:
        raise OAuthError(
            "The OAuth state does not match a login started from this browser (it was tampered with, "
            "already used, or the login took too long). Start the login again."
        )
    if time.time() - flow.get("created", 0) >= FLOW_LIFETIME_SECONDS:
        raise OAuthError("The OAuth login took too long. Start it again.")
    return flow


# --- Finishing a login ------------------------------------------------------------------------------


@dataclass
class Completed:
    """A finished authorization: the verified ID token, its claims merged with the userinfo profile."""

    profile: dict
    id_token: str
    next_url: str


def callback_params(url: str) -> dict:
    """The query parameters of the URL the provider redirected to (Immich's POST /oauth/callback {url})."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def complete(session, params: dict) -> Completed:
    """Check the provider's answer against the pending flow, redeem the code (with the PKCE verifier),
    verify the ID token and fetch the profile."""
    oauth = _enabled_oauth()
    if params.get("error") and not params.get("state"):
        raise OAuthError(_provider_refusal(params))
    flow = _take_flow(session, params.get("state", ""))
    if params.get("error"):
        raise OAuthError(_provider_refusal(params))
    provider = discover(oauth)
    if not _same_issuer(provider.issuer, flow["issuer"]) or oauth.clientId != flow["client_id"]:
        raise OAuthError("The OAuth settings changed during this login. Start the login again.")
    if "iss" in params and params["iss"] != provider.issuer:  # RFC 9207 mix-up protection
        raise OAuthError(f"The answer comes from issuer {params['iss']!r}, not {provider.issuer!r}.")
    if not params.get("code"):
        raise OAuthError("The provider's answer has no authorization code.")
    tokens = _redeem_code(oauth, provider, params["code"], flow)
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise OAuthError("The provider's token response has no ID token; include “openid” in the scope.")
    claims = _verify_jwt(oauth, provider, id_token, oauth.signingAlgorithm, "ID token", require_claims=True)
    if claims.get("nonce") != flow["nonce"]:
        raise OAuthError("The ID token's nonce does not match this login (a replayed or injected token).")
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != oauth.clientId:
        raise OAuthError("The ID token names another authorized party (azp) than this client.")
    profile = dict(claims)
    access_token = tokens.get("access_token")
    if provider.userinfo_endpoint and isinstance(access_token, str):
        userinfo = _fetch_userinfo(oauth, provider, access_token)
        if userinfo.get("sub") != claims["sub"]:
            raise OAuthError("The provider's userinfo describes another subject than the ID token.")
        profile.update(userinfo)
    return Completed(profile=profile, id_token=id_token, next_url=flow.get("next", ""))


def _provider_refusal(params: dict) -> str:
    description = params.get("error_description")
    return f"The provider refused the login: {params['error']}" + (f" ({description})." if description else ".")


def _redeem_code(oauth, provider: ProviderInfo, code: str, flow: dict) -> dict:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow["redirect_uri"],
        "code_verifier": flow["verifier"],
    }
    auth = None
    if not oauth.clientSecret:
        data["client_id"] = oauth.clientId  # public client: PKCE is its proof
    elif oauth.tokenEndpointAuthMethod == "client_secret_basic":
        # RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
        auth = requests.auth.HTTPBasicAuth(quote(oauth.clientId, safe=""), quote(oauth.clientSecret, safe=""))
    else:
        data.update(client_id=oauth.clientId, client_secret=oauth.clientSecret)
    reply = _request(oauth, "POST", provider.token_endpoint, "token endpoint", data=data, auth=auth,
                     headers={"Accept": "application/json"})
    if reply.status >= 500:
        raise ProviderUnavailable(f"The token endpoint answered HTTP {reply.status}.")
    body = reply.json("token endpoint")
    if reply.status != 200 or not isinstance(body, dict):
        error = body.get("error", f"HTTP {reply.status}") if isinstance(body, dict) else f"HTTP {reply.status}"
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        hint = ""
        if error == "invalid_client":
            hint = " Check the Client ID, the client secret and the token endpoint auth method."
        elif error == "invalid_grant":
            hint = (" The authorization code was not accepted: it expired, was already used, or the PKCE code "
                    "verifier does not match. Start the login again.")
        log.warning("OAuth token request refused: %s %s", error, description)
        raise OAuthError(f"The provider refused the token request: {error}"
                         + (f" ({description})." if description else ".") + hint)
    return body


def _fetch_userinfo(oauth, provider: ProviderInfo, access_token: str) -> dict:
    signed = oauth.profileSigningAlgorithm != "none"
    reply = _request(oauth, "GET", provider.userinfo_endpoint, "userinfo endpoint", headers={
        "Authorization": f"Bearer {access_token}",
        "Accept": "application/jwt" if signed else "application/json",
    })
    if reply.status != 200:
        raise ProviderUnavailable(f"The userinfo endpoint answered HTTP {reply.status}.")
    is_jwt = reply.content_type.split(";")[0].strip().lower() == "application/jwt"
    if signed and not is_jwt:
        raise OAuthError(
            f"The profile signing algorithm is {oauth.profileSigningAlgorithm}, but the provider's userinfo is "
            "unsigned JSON. Set the profile signing algorithm to none, or configure the provider to sign it."
        )
    if not signed and is_jwt:
        raise OAuthError("The provider's userinfo is a signed JWT, but the profile signing algorithm is none. "
                         "Set it to the provider's userinfo signing algorithm.")
    if signed:
        return _verify_jwt(oauth, provider, reply.body.decode(errors="replace").strip(),
                           oauth.profileSigningAlgorithm, "userinfo", require_claims=False)
    userinfo = reply.json("userinfo endpoint")
    if not isinstance(userinfo, dict):
        raise ProviderUnavailable("The userinfo endpoint did not return a JSON object.")
    return userinfo


# --- Users ------------------------------------------------------------------------------------------


def _claim(profile: dict, name: str):
    return profile.get(name) if name else None


def quota_bytes(value) -> int | None:
    """A storage quota claim in GiB (a number ≥ 0, or its text) as bytes; None when not usable."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        gib = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(gib) or gib < 0:
        return None
    return int(gib * GIB)


def role_of(profile: dict, claim: str) -> str | None:
    value = _claim(profile, claim)
    return value if value in ("admin", "user") else None


def _storage_label(profile: dict, claim: str) -> str | None:
    """The storage label claim as a single safe folder name, or None (unusable or already taken)."""
    value = _claim(profile, claim)
    if not isinstance(value, str):
        return None
    label = re.sub(r"[\x00-\x1f/\\:*?\"<>|]", "", value).strip().lstrip(".")[:100]
    if not label:
        return None
    if get_user_model().objects.filter(storage_label=label).exists():
        log.warning("OAuth: storage label %r is already used by another user; the new user gets none", label)
        return None
    return label


def _display_name(profile: dict, email: str) -> str:
    full = f"{profile.get('given_name') or ''} {profile.get('family_name') or ''}".strip()
    name = profile.get("name") or full or profile.get("preferred_username") or email
    return str(name)[:200]


def _set_role(user, role: str) -> bool:
    is_admin = role == "admin"
    if user.is_admin == is_admin:
        return False
    user.is_admin = user.is_superuser = is_admin
    return True


def user_for_profile(profile: dict):
    """Immich's account linking: by subject, else by normalized email (refused when that user is linked
    to another subject), else a new user when auto register is on. The role claim, when present, sets
    admin or user at every login; storage label and quota claims apply to new users."""
    oauth = get_config().oauth
    subject = profile.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OAuthError("The provider's profile has no subject (sub).")
    email = profile.get("email")
    email = email.strip().lower() if isinstance(email, str) and email.strip() else ""
    users = get_user_model().objects
    role = role_of(profile, oauth.roleClaim)
    with transaction.atomic():
        user = users.filter(oauth_id=subject).first()
        if user is None and email:
            user = users.filter(email__iexact=email).first()
            if user is not None:
                if user.oauth_id and user.oauth_id != subject:
                    log.warning("OAuth login refused: %s is linked to another OAuth account", email)
                    raise OAuthError(f"{AUTHENTICATION_FAILED}: the account {email} is linked to another OAuth "
                                     "identity. An administrator can unlink it in the console.")
                user.oauth_id = subject
                user.save(update_fields=["oauth_id"])
        if user is None:
            if not oauth.autoRegister:
                log.warning("OAuth login refused: no user for %s/%s and auto register is off", subject, email)
                raise OAuthError(f"{AUTHENTICATION_FAILED}: there is no account for {email or subject} on this "
                                 "server, and new accounts are not created automatically (Auto register is off).")
            if not email:
                raise OAuthError("OAuth profile does not have an email address.")
            quota = quota_bytes(_claim(profile, oauth.storageQuotaClaim))
            if quota is None and oauth.defaultStorageQuota is not None:
                quota = int(oauth.defaultStorageQuota) * GIB
            user = users.create_user(
                email, None, name=_display_name(profile, email), oauth_id=subject, quota_size_in_bytes=quota,
                storage_label=_storage_label(profile, oauth.storageLabelClaim),
                is_admin=role == "admin", is_superuser=role == "admin",
            )
            log.info("OAuth: registered %s (%s)", email, subject)
            return user
        if not user.is_active or user.deleted_at is not None:
            raise OAuthError(f"{AUTHENTICATION_FAILED}: this account is disabled or scheduled for deletion.")
        if role and _set_role(user, role):
            user.save(update_fields=["is_admin", "is_superuser"])
            log.info("OAuth: %s is now %s (role claim)", user.email, role)
    return user


def link(user, profile: dict) -> None:
    """Immich's POST /oauth/link: attach this OAuth identity to a signed-in user."""
    subject = profile.get("sub")
    other = get_user_model().objects.filter(oauth_id=subject).exclude(pk=user.pk).first()
    if other is not None:
        raise OAuthError("This OAuth account has already been linked to another user.")
    user.oauth_id = subject
    user.save(update_fields=["oauth_id"])


def unlink(user) -> None:
    user.oauth_id = ""
    user.save(update_fields=["oauth_id"])


# --- Logout -----------------------------------------------------------------------------------------


def end_session_url(id_token: str | None) -> str | None:
    """Where to send a browser after logging out of an OAuth session (RP-initiated logout): the End
    session endpoint setting, else the provider's end_session_endpoint, with id_token_hint. None when the
    session did not come from OAuth, OAuth is off, or the provider has no such endpoint."""
    oauth = get_config().oauth
    if not id_token or not oauth.enabled:
        return None
    endpoint = oauth.endSessionEndpoint
    if not endpoint:
        try:
            endpoint = discover(oauth).end_session_endpoint
        except OAuthError as error:
            log.warning("OAuth logout: no end-session endpoint (%s)", error.message)
            return None
    if not endpoint or urlsplit(endpoint).scheme not in ("http", "https"):
        return None
    return _with_query(endpoint, {"id_token_hint": id_token})


# --- Settings page ----------------------------------------------------------------------------------


def redirect_uris(origin: str, oauth=None) -> list[tuple[str, str]]:
    """(purpose, URI) pairs the administrator registers at the provider."""
    oauth = oauth or get_config().oauth
    uris = [("Web login", origin + CALLBACK_PATH)]
    if oauth.mobileOverrideEnabled and oauth.mobileRedirectUri:
        uris.append(("Mobile app (override)", oauth.mobileRedirectUri))
    else:
        uris.append(("Mobile app", MOBILE_APP_REDIRECT))
        uris.append(("Mobile app, for providers that refuse custom schemes (turn on the override)",
                     origin + MOBILE_REDIRECT_PATH))
    return uris


def settings_for_test(data) -> tuple[object | None, list[str]]:
    """The OAuth settings "Test configuration" checks: the Authentication form's posted values laid over the
    saved ones (an empty client secret and locked keys keep the saved value), or the saved settings when
    the form was not posted. Returns (oauth settings, []) or (None, ["Field: problem", ...])."""
    flat = get_config().flat()
    form_class = CATEGORY_FORMS["authentication"]
    if not any(key.column in data for key in form_class.category.keys if key.path.startswith("oauth.")):
        return Config(flat).oauth, []
    locked = locked_paths()
    form = form_class(data, locked=locked, from_browser=True)
    if not form.is_valid():
        return None, [f"{form.fields[column].label}: {message}" if column in form.fields else message
                      for column, messages in form.errors.items() for message in messages]
    for path, value in form.values().items():
        if not path.startswith("oauth.") or path in locked or (KEYS_BY_PATH[path].secret and not value):
            continue
        flat[path] = value
    return Config(flat).oauth, []


@dataclass
class CheckReport:
    """What "Test configuration" found: problems (the login would fail), warnings and facts."""

    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    facts: list = field(default_factory=list)  # (label, value)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_configuration(oauth, redirect_uri: str) -> CheckReport:
    """Discovery + JWKS fetch + what a login would request, without logging anyone in."""
    report = CheckReport()
    if not oauth.enabled:
        report.warnings.append("OAuth login is turned off: the login page shows no OAuth button.")
    if not oauth.issuerUrl:
        report.problems.append("The Issuer URL is empty.")
        return report
    if not oauth.clientId:
        report.problems.append("The Client ID is empty.")
    try:
        provider = discover(oauth)
    except OAuthError as error:
        report.problems.append(error.message)
        return report
    report.facts.append(("Issuer", provider.issuer))
    report.facts.append(("Authorization endpoint", provider.authorization_endpoint))
    report.facts.append(("Token endpoint", provider.token_endpoint))
    if provider.userinfo_endpoint:
        report.facts.append(("Userinfo endpoint", provider.userinfo_endpoint))
    else:
        report.warnings.append("The provider has no userinfo endpoint: only the ID token's claims are used.")
    logout = oauth.endSessionEndpoint or provider.end_session_endpoint
    report.facts.append(("Logout", logout or "none (logging out stays on this server)"))
    if urlsplit(oauth.issuerUrl).scheme == "http":
        report.warnings.append("The issuer uses plain http: codes and tokens travel unencrypted.")
    if oauth.allowInsecureRequests:
        report.warnings.append("Allow insecure requests is on: TLS certificates of the provider are not checked.")
    if provider.code_challenge_methods and "S256" not in provider.code_challenge_methods:
        report.problems.append("The provider does not support PKCE with S256, which this server always uses.")
    algorithm = oauth.signingAlgorithm
    if provider.id_token_algorithms and algorithm not in provider.id_token_algorithms:
        report.problems.append(
            f"The provider does not sign ID tokens with {algorithm} (it offers "
            f"{', '.join(provider.id_token_algorithms)}). Change the ID token signing algorithm."
        )
    profile_algorithm = oauth.profileSigningAlgorithm
    offered = provider.userinfo_algorithms
    if profile_algorithm != "none" and offered and profile_algorithm not in offered:
        report.problems.append(f"The provider does not sign userinfo with {profile_algorithm}.")
    for used in {algorithm, profile_algorithm} - {"none"}:
        if used.startswith("HS"):
            if not oauth.clientSecret:
                report.problems.append(f"{used} needs the client secret, which is not set.")
            continue
        try:
            _verification_key(oauth, provider, used, None, "ID token" if used == algorithm else "userinfo")
            report.facts.append((f"{used} key", "found in the provider's JWKS"))
        except OAuthError as error:
            report.problems.append(error.message)
    method = oauth.tokenEndpointAuthMethod if oauth.clientSecret else "none"
    if provider.auth_methods and method not in provider.auth_methods:
        report.problems.append(f"The provider does not accept the token endpoint auth method {method} "
                               f"(it offers {', '.join(provider.auth_methods)}).")
    report.facts.append(("Client authentication", "public client (PKCE only)" if method == "none" else method))
    unknown = [scope for scope in oauth.scope.split() if provider.scopes and scope not in provider.scopes]
    if unknown:
        report.warnings.append(f"The provider does not list these scopes: {', '.join(unknown)}.")
    report.facts.append(("Would request", _with_query(provider.authorization_endpoint, {
        "response_type": "code", "client_id": oauth.clientId, "redirect_uri": redirect_uri, "scope": oauth.scope,
        **({"prompt": oauth.prompt} if oauth.prompt else {}), "code_challenge_method": "S256",
    })))
    return report
