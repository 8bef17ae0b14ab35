"""The login flow: starting it (state, nonce, PKCE, the pending flow in the session) and finishing it (the
code redeemed at the token endpoint, the ID token checked, userinfo fetched)."""

import base64
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests

from settings_app.services import get_config

from .common import (
    FLOW_LIFETIME_SECONDS,
    MAX_PENDING_FLOWS,
    MOBILE_APP_REDIRECT,
    MOBILE_APP_REDIRECT_PATTERN,
    NOT_ENABLED,
    SESSION_FLOWS,
    START_PATH,
    OAuthError,
    ProviderUnavailable,
)
from .http import _request, check_fetch_url
from .tokens import ProviderInfo, _same_issuer, _verify_jwt, discover

log = logging.getLogger(__name__)

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
