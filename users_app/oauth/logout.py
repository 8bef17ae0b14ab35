"""RP-initiated logout at the provider (its end_session_endpoint)."""

import logging
from urllib.parse import urlsplit

from settings_app.services import get_config

from .common import OAuthError
from .flow import _with_query
from .tokens import discover

log = logging.getLogger(__name__)

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
