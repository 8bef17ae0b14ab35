"""The Authentication settings page's help: redirect URIs to register, and the "test the configuration" check
that runs discovery, keys and a dry run of the flow against the settings being edited."""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from settings_app.forms import CATEGORY_FORMS
from settings_app.registry import KEYS_BY_PATH
from settings_app.services import Config, get_config, locked_paths

from .common import CALLBACK_PATH, MOBILE_APP_REDIRECT, MOBILE_REDIRECT_PATH, OAuthError
from .flow import _with_query
from .tokens import _verification_key, discover

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
