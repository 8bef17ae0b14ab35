"""OAuth fixtures: a real OpenID Connect provider (npm oidc-provider, see oauth_provider.js) on 127.0.0.1,
and helpers to drive a login through it with a plain HTTP client."""

import json
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from settings_app.services import save_values
from tests.node_packages import ensure_node_modules

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_SCRIPT = Path(__file__).resolve().parent / "oauth_provider.js"
STARTUP_SECONDS = 30
DJANGO_TEST_ORIGIN = "http://testserver"
WEB_CALLBACK = DJANGO_TEST_ORIGIN + "/auth/oauth/callback/"


class OidcProvider:
    """The running provider: its issuer, and its test controls (accounts, clients, clock)."""

    def __init__(self, issuer: str, verify=True):
        self.issuer = issuer
        self.verify = verify

    def post(self, path: str, body: dict) -> dict:
        response = requests.post(self.issuer + path, json=body, timeout=10, verify=self.verify)
        response.raise_for_status()
        return response.json()

    def set_account(self, sub: str, **claims) -> None:
        """The account the provider's login logs in next (its claims include email, immich_role, ...)."""
        self.post("/__test__/account", {"sub": sub, "claims": claims})

    def register_client(self, *, redirect_uris=(WEB_CALLBACK,), **metadata) -> dict:
        """Dynamic Client Registration: returns client_id and client_secret (None for public clients)."""
        client = self.post("/reg", {"redirect_uris": list(redirect_uris), "response_types": ["code"],
                                    "grant_types": ["authorization_code"], **metadata})
        return client

    def last_token_request(self) -> dict:
        return requests.get(self.issuer + "/__test__/last-token-request", timeout=10, verify=self.verify).json()

    def shift_next_token_clock(self, seconds: int) -> None:
        self.post("/__test__/clock", {"seconds": seconds})


def start_provider(env_extra: dict | None = None):
    ensure_node_modules("oidc-provider")
    node = shutil.which("node")
    if not node:
        pytest.fail("The OAuth tests need Node.js 20 or newer (apt-get install -y nodejs).")
    stderr = tempfile.TemporaryFile()
    env = {**os.environ, "PORT": "0", **(env_extra or {})}
    process = subprocess.Popen([node, str(PROVIDER_SCRIPT)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=stderr, text=True)
    ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
    line = process.stdout.readline() if ready else ""
    if not line:
        process.kill()
        stderr.seek(0)
        pytest.fail(f"The OpenID provider did not start: {stderr.read().decode(errors='replace')[-2000:]}")
    return process, json.loads(line)["issuer"]


def stop_provider(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def oidc_provider():
    process, issuer = start_provider()
    yield OidcProvider(issuer)
    stop_provider(process)


@pytest.fixture
def allow_private_issuers(settings):
    """The provider runs on 127.0.0.1, which the server otherwise refuses to contact."""
    settings.OAUTH_ALLOW_PRIVATE_ISSUERS = True


@pytest.fixture
def oauth_setup(db, oidc_provider, allow_private_issuers):
    """configure(**settings) registers a client at the provider (RS256, client_secret_post unless told)
    and saves matching Authentication settings; returns the client registration."""

    def configure(*, client_metadata=None, redirect_uris=(WEB_CALLBACK,), **oauth_settings):
        metadata = {"id_token_signed_response_alg": "RS256", "token_endpoint_auth_method": "client_secret_post",
                    **(client_metadata or {})}
        client = oidc_provider.register_client(redirect_uris=redirect_uris, **metadata)
        values = {
            "oauth.enabled": True,
            "oauth.issuerUrl": oidc_provider.issuer,
            "oauth.clientId": client["client_id"],
            "oauth.clientSecret": client.get("client_secret") or "",
            "oauth.signingAlgorithm": metadata["id_token_signed_response_alg"],
            "oauth.tokenEndpointAuthMethod": (metadata["token_endpoint_auth_method"]
                                              if metadata["token_endpoint_auth_method"] != "none"
                                              else "client_secret_post"),
        }
        values.update({f"oauth.{name}": value for name, value in oauth_settings.items()})
        result = save_values(values, source="command")
        assert result.ok, result.messages()
        return client

    return configure


def walk_provider(url: str, *, stop_at: str = DJANGO_TEST_ORIGIN, browser: requests.Session | None = None,
                  verify=True) -> str:
    """Follow the provider's redirects like a browser (its login logs in the chosen account at once) and
    return the URL it finally sends the browser to under `stop_at` (the redirect URI with code and state)."""
    browser = browser or requests.Session()
    for _ in range(20):
        if url.startswith(stop_at):
            return url
        response = browser.get(url, allow_redirects=False, timeout=10, verify=verify)
        if response.status_code not in (301, 302, 303, 307, 308):
            raise AssertionError(f"the provider stopped at {url} with {response.status_code}: {response.text[:500]}")
        url = urljoin(url, response.headers["Location"])
    raise AssertionError("too many redirects at the provider")


def local_path(url: str) -> str:
    """A testserver URL as the path + query the Django test client takes."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def oauth_login():
    """oauth_login(client) -> the Django response to the provider's redirect back (after following the
    OAuth button through the provider)."""

    def login(client, start="/auth/oauth/start/"):
        response = client.get(start)
        assert response.status_code == 302, response.content.decode()[:1000]
        return client.get(local_path(walk_provider(response["Location"])))

    return login
