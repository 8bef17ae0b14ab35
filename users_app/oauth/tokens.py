"""The provider's discovery document and keys (JWKS), and the checks of the JWTs it signs (ID tokens,
signed userinfo): signature, `iss`, `aud`, `exp`, `iat`."""

from dataclasses import dataclass, field

import jwt

from .common import CLOCK_LEEWAY_SECONDS, OAuthError, ProviderUnavailable
from .http import _request

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
