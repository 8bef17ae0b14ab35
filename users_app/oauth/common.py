"""What every part of the OAuth login shares: its paths, session keys, limits and errors."""

import re

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
