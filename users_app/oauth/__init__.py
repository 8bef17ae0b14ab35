"""OpenID Connect login (Immich's OAuth settings).

Authorization code flow with PKCE (S256), `state` and `nonce`; the ID token's signature (RS256 and friends
through the provider's JWKS, HS256 with the client secret), `iss`, `aud` and `exp` are checked. Every
step reads the Authentication settings through get_config(), so a change applies at the next login.

The pending flow (state, nonce, PKCE verifier, redirect URI) lives in the visitor's Django session, the
counterpart of Immich's immich_oauth_state / immich_oauth_code_verifier cookies.

Errors are OAuthError with a message meant for the person logging in or the administrator, and an HTTP
status: 400 for a refused login or a setting that does not fit the provider, 502 when the provider is
unreachable or answers nonsense. The client secret never enters a message, a log line or a page.

By concern: common (paths, session keys, errors), http (the addresses the server may fetch, requests to
the provider), tokens (discovery, JWKS, JWT checks), flow (starting and finishing a login), provisioning
(users from the provider's profile, linking), logout (RP-initiated), configuration (the settings page's
redirect URIs and configuration check). This package exports what the views and the API use.
"""

from .common import (
                     AUTHENTICATION_FAILED,
                     CALLBACK_PATH,
                     MOBILE_REDIRECT_PATH,
                     NOT_ENABLED,
                     SESSION_FLOWS,
                     SESSION_ID_TOKEN,
                     START_PATH,
                     OAuthError,
                     ProviderUnavailable,
)
from .configuration import CheckReport, check_configuration, redirect_uris, settings_for_test
from .flow import (
                     Completed,
                     auto_launch,
                     begin,
                     callback_params,
                     complete,
                     mobile_app_redirect,
                     resolve_redirect_uri,
                     start_url,
)
from .http import check_fetch_url, issuer_url_is_fetchable
from .logout import end_session_url
from .provisioning import link, unlink, user_for_profile

__all__ = [
    "AUTHENTICATION_FAILED", "CALLBACK_PATH", "MOBILE_REDIRECT_PATH", "NOT_ENABLED", "SESSION_FLOWS",
    "SESSION_ID_TOKEN", "START_PATH", "CheckReport", "Completed", "OAuthError", "ProviderUnavailable", "auto_launch",
    "begin", "callback_params", "check_configuration", "check_fetch_url", "complete", "end_session_url",
    "issuer_url_is_fetchable", "link", "mobile_app_redirect", "redirect_uris", "resolve_redirect_uri",
    "settings_for_test", "start_url", "unlink", "user_for_profile",
]
