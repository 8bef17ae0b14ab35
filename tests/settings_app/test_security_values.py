"""Settings that guard security: custom CSS that could load or run anything is refused (line and reason),
masked secrets never overwrite the stored ones, no credentials in the external domain, OAuth scope has openid.
Every writer goes through save_values, so dashboard, API, config file and CLI refuse alike."""

import json

import pytest

from settings_app import config_file
from settings_app.services import SECRET_MASK, get_config, save_values

from .test_dashboard import form_data, text_of, url

pytestmark = pytest.mark.django_db
API = "/api/system-config"


def css_errors(css: str) -> list[str]:
    save_values({"theme.customCss": "p { color: red; }"})
    result = save_values({"theme.customCss": css})
    assert not result.ok
    assert get_config().theme.customCss == "p { color: red; }"  # nothing stored
    return result.errors["theme.customCss"]


@pytest.mark.parametrize(("css", "line", "reason"), [
    ('@import "https://evil.example/x.css";', 1, "@import is not allowed"),
    ("a {}\n@IMPORT url(/x.css);", 2, "@import is not allowed"),
    ("a {}\n\n@\\69mport 'x.css';", 3, "@import is not allowed"),
    ("body { background: url(https://evil.example/a.png); }", 1, "url(https://evil.example/a.png) is not allowed"),
    ("body { background: url('//evil.example/a.png'); }", 1, "url(//evil.example/a.png) is not allowed"),
    ('a{}\nb { background: u\\72l("http://evil.example/t") }', 2, "url(http://evil.example/t) is not allowed"),
    ("b { background: \\75rl(http://evil.example/t) }", 1, "url(http://evil.example/t) is not allowed"),
    ("b { background: \\000075 rl(javascript:alert(1)) }", 1, "is not allowed"),
    ("b { background: ur/* hidden */l(http://evil.example/t) }", 1, "url(http://evil.example/t) is not allowed"),
    ("b { background: image-set('https://evil.example/a.png' 1x) }", 1, "image “https://evil.example/a.png”"),
    ("b { width: expression(alert(1)) }", 1, "expression() is not allowed"),
    ("b { width: e\\78pression(alert(1)) }", 1, "expression() is not allowed"),
    ("a{}\nb { -moz-binding: url(/x.xml#y) }", 2, "-moz-binding is not allowed"),
    ("b { behavior : url(/x.htc) }", 1, "behavior: is not allowed"),
    ("b { background: url(\n/x.png) }", 1, "url( is not closed on the same line"),
])
def test_dangerous_css_is_refused_with_line_and_reason(css, line, reason):
    errors = css_errors(css)
    assert any(error.startswith(f"Line {line}: ") and reason in error for error in errors), errors


def test_every_problem_is_listed():
    errors = css_errors("@import 'a.css';\nb { width: expression(1) }\nc { background: url(http://x.example/) }")
    assert [error.split(":")[0] for error in errors] == ["Line 1", "Line 2", "Line 3"]


@pytest.mark.parametrize("css", [
    "body { background: url(/static/bg.png); }",
    "body { background: url('img/bg.png') no-repeat; }",
    'body { background: url("data:image/png;base64,iVBORw0KGgo="); }',
    "body { background: image-set('/static/a.png' 1x, 'data:image/png;base64,AA==' 2x); }",
    "@media (max-width: 600px) { .urlish { color: red; } }\n/* @import is mentioned only in a comment */",
    ".behavior-note { content: 'no colon'; }",
])
def test_harmless_css_is_accepted(css):
    assert save_values({"theme.customCss": css}).ok
    assert get_config().theme.customCss == css


def test_css_over_64_kib_is_refused_before_parsing_with_size_and_limit():
    css = "a{}" * 21_846  # 65,538 bytes
    assert css_errors(css) == ["Custom CSS is 65,538 bytes; the limit is 65,536 bytes (64 KiB)."]
    multibyte = "/*" + "é" * 32_767 + "*/"  # 32,771 characters, 65,538 bytes: the limit counts bytes
    assert "65,538 bytes" in css_errors(multibyte)[0]
    exactly = "a{}" * 21_845 + "a"  # 65,536 bytes
    assert save_values({"theme.customCss": exactly}).ok


def test_css_refusal_reaches_the_dashboard_and_the_api(admin_client, htmx_headers):
    data = form_data("theme", {"theme.customCss": "a {}\nb { background: url(https://evil.example/x) }"})
    page = text_of(admin_client.post(url("theme"), data, **htmx_headers))
    assert "Line 2: url(https://evil.example/x) is not allowed" in page
    config = admin_client.get(API).json()
    config["theme"]["customCss"] = "@import 'x.css';"
    response = admin_client.put(API, json.dumps(config), content_type="application/json")
    assert response.status_code == 400
    assert "Line 1: @import is not allowed" in json.dumps(response.json())
    assert get_config().theme.customCss == ""


# --- Secrets: placeholders never overwrite -----------------------------------------------------------

PLACEHOLDERS = ["••••", "****", "●●●●●●", " •••••••• ", SECRET_MASK, ""]


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_a_placeholder_keeps_the_stored_secret_in_the_dashboard(admin_client, admin_user, htmx_headers,
                                                                 placeholder):
    save_values({"oauth.clientSecret": "real-secret-1"}, user=admin_user)
    data = form_data("authentication", {"oauth.clientSecret": placeholder, "oauth.clientId": "abc"})
    assert "Settings saved" in text_of(admin_client.post(url("authentication"), data, **htmx_headers))
    assert get_config().oauth.clientId == "abc"
    assert get_config().oauth.clientSecret == "real-secret-1"


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_a_placeholder_keeps_the_stored_secret_in_the_api(admin_client, admin_user, placeholder):
    save_values({"notifications.smtp.transport.password": "smtp-pass-2"}, user=admin_user)
    config = admin_client.get(API).json()
    assert config["notifications"]["smtp"]["transport"]["password"] == ""  # the API's own rendering
    config["notifications"]["smtp"]["transport"]["password"] = placeholder
    config["trash"]["days"] = 7
    response = admin_client.put(API, json.dumps(config), content_type="application/json")
    assert response.status_code == 200, response.content
    assert get_config().trash.days == 7
    assert get_config().notifications.smtp.transport.password == "smtp-pass-2"


def test_a_real_new_secret_still_replaces_the_old_one_and_clearing_still_clears(admin_user):
    save_values({"oauth.clientSecret": "old"}, user=admin_user)
    assert save_values({"oauth.clientSecret": "new-**-secret"}).ok
    assert get_config().oauth.clientSecret == "new-**-secret"
    assert save_values({"oauth.clientSecret": "****"}, clear_secrets=frozenset({"oauth.clientSecret"})).ok
    assert get_config().oauth.clientSecret == ""


# --- External domain and OAuth scope -----------------------------------------------------------------


@pytest.mark.parametrize("domain", ["https://user:pass@photos.example.com", "https://user@photos.example.com",
                                    "http://:pw@photos.example.com"])
def test_an_external_domain_with_credentials_is_refused(domain):
    result = save_values({"server.externalDomain": domain})
    assert not result.ok
    assert "must not contain a user name or password" in result.errors["server.externalDomain"][0]
    assert get_config().server.externalDomain == ""


@pytest.mark.parametrize("scope", ["email profile", "openidemail", "OpenID-ish email", ""])
def test_a_scope_without_openid_is_refused(admin_client, scope):
    result = save_values({"oauth.scope": scope})
    assert not result.ok
    message = result.errors["oauth.scope"][0]
    assert "must include openid" in message or "Required" in message
    assert get_config().oauth.scope == "openid email profile"
    config = admin_client.get(API).json()
    config["oauth"]["scope"] = scope
    response = admin_client.put(API, json.dumps(config), content_type="application/json")
    assert response.status_code == 400 and "oauth" in json.dumps(response.json())


def test_a_scope_with_openid_anywhere_is_accepted():
    assert save_values({"oauth.scope": "email openid profile"}).ok
    assert get_config().oauth.scope == "email openid profile"


def test_the_config_file_is_held_to_the_same_rules(use_config_file):
    with pytest.raises(config_file.ConfigFileError) as raised:
        use_config_file({"theme": {"customCss": "a {}\n@import 'https://evil.example/x.css';"},
                         "server": {"externalDomain": "https://user:pass@photos.example.com"},
                         "oauth": {"scope": "email"}})
    problems = str(raised.value)
    assert "Line 2: @import is not allowed" in problems
    assert "must not contain a user name or password" in problems
    assert "must include openid" in problems
