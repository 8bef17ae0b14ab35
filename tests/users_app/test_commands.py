"""The server CLI (manage.py commands): they change real rows and settings, need no workers, and refuse
clearly when the config file locks a key."""

import io
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from settings_app.models import SettingChange
from settings_app.services import get_config, save_values
from tests.conftest import ADMIN_PASSWORD
from users_app.services import schedule_deletion

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = "/admin/system-settings/"

pytestmark = pytest.mark.django_db


def run(name, *args, stdin=None, **options):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        options["stdin"] = io.StringIO(stdin)
    call_command(name, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get(DASHBOARD).status_code == 200
    return client


def reload(user):
    return get_user_model().objects.get(pk=user.pk)


# --- reset_admin_password --------------------------------------------------------------------------


def test_reset_with_a_given_password_ends_the_admins_sessions(admin_user):
    browser = logged_in(admin_user)
    out, _ = run("reset_admin_password", "--password", "brand-new-secret", "--end-sessions")
    assert reload(admin_user).check_password("brand-new-secret")
    assert "The password of admin@example.com has been updated." in out
    assert "Existing sessions have been ended." in out
    assert "brand-new-secret" not in out  # a chosen password is not echoed
    response = browser.get(DASHBOARD)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_generated_password_is_printed_and_sessions_can_be_kept(admin_user):
    browser = logged_in(admin_user)
    out, _ = run("reset_admin_password", "--generate", "--keep-sessions")
    password = re.search(r"The new password is: (\S+)", out).group(1)
    # 24 random bytes in base64 are 32 characters; "+", "/" and "=" are stripped.
    assert re.fullmatch(r"\w{26,32}", password)
    assert reload(admin_user).check_password(password)
    assert "Existing sessions were kept." in out
    assert browser.get(DASHBOARD).status_code == 200  # still logged in despite the new password hash


def test_two_resets_generate_different_passwords(admin_user):
    first, _ = run("reset_admin_password", "--generate", "--keep-sessions")
    second, _ = run("reset_admin_password", "--generate", "--keep-sessions")
    assert re.search(r"is: (\S+)", first).group(1) != re.search(r"is: (\S+)", second).group(1)


def test_prompted_password_and_default_answer_ends_sessions(admin_user):
    browser = logged_in(admin_user)
    out, _ = run("reset_admin_password", stdin="typed-password-1\n\n")
    assert "Please choose a new password (optional): " in out
    assert "Invalidate existing sessions? [Y/n]" in out
    assert reload(admin_user).check_password("typed-password-1")
    assert "The new password is" not in out
    assert browser.get(DASHBOARD).status_code == 302


def test_empty_prompt_answer_generates_and_no_keeps_sessions(admin_user):
    browser = logged_in(admin_user)
    out, _ = run("reset_admin_password", stdin="\nn\n")
    password = re.search(r"The new password is: (\S+)", out).group(1)
    assert reload(admin_user).check_password(password)
    assert browser.get(DASHBOARD).status_code == 200


def test_other_users_sessions_are_not_touched(admin_user, user):
    user_browser = Client()
    user_browser.force_login(user)
    run("reset_admin_password", "--generate", "--end-sessions")
    assert user_browser.get("/").status_code == 200  # the user's home page, still logged in


def test_a_password_failing_validation_changes_nothing(admin_user):
    with pytest.raises(CommandError, match="The password was not accepted: .*at least 8 characters"):
        run("reset_admin_password", "--password", "short", "--end-sessions")
    assert reload(admin_user).check_password(ADMIN_PASSWORD)


def test_several_admins_need_email(admin_user, other_admin):
    with pytest.raises(CommandError, match="2 administrators .*admin@example.com.*second-admin@example.com.*--email"):
        run("reset_admin_password", "--generate", "--end-sessions")
    out, _ = run("reset_admin_password", "--email", "Second-Admin@example.com", "--password", "another-secret-1",
                 "--end-sessions")
    assert "second-admin@example.com has been updated" in out
    assert reload(other_admin).check_password("another-secret-1")
    assert reload(admin_user).check_password(ADMIN_PASSWORD)


def test_email_of_a_non_admin_is_refused(admin_user, user):
    with pytest.raises(CommandError, match="user@example.com is not an administrator"):
        run("reset_admin_password", "--email", "user@example.com", "--generate", "--end-sessions")


def test_no_admin_is_explained(user):
    with pytest.raises(CommandError, match="There is no administrator.*grant_admin"):
        run("reset_admin_password", "--generate")


def test_no_input_generates_and_ends_sessions(admin_user):
    browser = logged_in(admin_user)
    out, _ = run("reset_admin_password", "--no-input")
    assert reload(admin_user).check_password(re.search(r"is: (\S+)", out).group(1))
    assert browser.get(DASHBOARD).status_code == 302


def test_reset_admin_password_prompts_through_manage_py(child_env, admin_user):
    """The real command line: a separate process, answers on stdin, no workers running."""
    browser = logged_in(admin_user)
    result = subprocess.run(
        [sys.executable, "manage.py", "reset_admin_password"], cwd=ROOT, env=child_env,
        input="piped-password-42\ny\n", capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Please choose a new password (optional):" in result.stdout
    assert "Invalidate existing sessions? [Y/n]" in result.stdout
    assert "The password of admin@example.com has been updated." in result.stdout
    assert reload(admin_user).check_password("piped-password-42")
    assert browser.get(DASHBOARD).status_code == 302


def test_manage_py_reports_errors_on_stderr_with_a_failing_status(child_env, admin_user):
    result = subprocess.run(
        [sys.executable, "manage.py", "grant_admin", "nobody@example.com"], cwd=ROOT, env=child_env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "User does not exist" in result.stderr


# --- login method switches -------------------------------------------------------------------------


def test_disable_and_enable_password_login_go_through_the_settings_history():
    out, _ = run("disable_password_login")
    assert out.strip() == "Password login has been disabled."
    assert get_config().passwordLogin.enabled is False
    change = SettingChange.objects.get()
    assert (change.path, change.old_value, change.new_value, change.source) == (
        "passwordLogin.enabled", True, False, "command")

    out, _ = run("disable_password_login")
    assert out.strip() == "Password login is already disabled."
    assert SettingChange.objects.count() == 1

    out, _ = run("enable_password_login")
    assert out.strip() == "Password login has been enabled."
    assert get_config().passwordLogin.enabled is True


def test_disabled_password_login_refuses_the_login_form_and_enable_restores_it(admin_user):
    run("disable_password_login")
    response = Client().post("/login/", {"email": "admin@example.com", "password": ADMIN_PASSWORD})
    assert response.status_code == 401 and b"Password login has been disabled" in response.content
    run("enable_password_login")
    response = Client().post("/login/", {"email": "admin@example.com", "password": ADMIN_PASSWORD})
    assert response.status_code == 302


def test_oauth_login_switches():
    out, _ = run("enable_oauth_login")
    assert out.strip() == "OAuth login has been enabled."
    assert get_config().oauth.enabled is True
    out, _ = run("disable_oauth_login")
    assert out.strip() == "OAuth login has been disabled."
    assert get_config().oauth.enabled is False
    assert list(SettingChange.objects.order_by("id").values_list("path", "new_value", "source")) == [
        ("oauth.enabled", True, "command"), ("oauth.enabled", False, "command")]


def test_disabling_the_last_login_method_warns_how_to_recover():
    _, err = run("disable_password_login")  # OAuth is disabled by default
    assert "nobody can log in" in err
    assert "enable_password_login" in err and "enable_oauth_login" in err


def test_no_warning_while_oauth_still_allows_logins():
    save_values({"oauth.enabled": True})
    _, err = run("disable_password_login")
    assert err == ""


@pytest.mark.parametrize(("command", "path", "document"), [
    ("disable_password_login", "passwordLogin.enabled", {"passwordLogin": {"enabled": True}}),
    ("enable_password_login", "passwordLogin.enabled", {"passwordLogin": {"enabled": False}}),
    ("enable_oauth_login", "oauth.enabled", {"oauth": {"enabled": False}}),
    ("disable_oauth_login", "oauth.enabled", {"oauth": {"enabled": False}}),
])
def test_locked_keys_are_refused_naming_the_key(use_config_file, command, path, document):
    config_path = use_config_file(document)
    with pytest.raises(CommandError) as refused:
        run(command)
    assert f"{path} is set by the config file ({config_path}" in str(refused.value)
    assert get_config().get(path) == document[path.split(".")[0]]["enabled"]
    assert not SettingChange.objects.exists()


def test_an_unlocked_key_still_works_beside_a_config_file(use_config_file):
    use_config_file({"oauth": {"enabled": False}})
    run("disable_password_login")
    assert get_config().passwordLogin.enabled is False


# --- grant_admin / revoke_admin ---------------------------------------------------------------------


def test_grant_and_revoke_admin(admin_user, user):
    out, _ = run("grant_admin", "User@Example.com")
    assert out.strip() == "Admin access has been granted to user@example.com."
    assert reload(user).is_admin
    assert Client().login(email="user@example.com", password="user-password-123")
    browser = Client()
    browser.force_login(user)
    assert browser.get(DASHBOARD).status_code == 200

    out, _ = run("revoke_admin", "user@example.com")
    assert out.strip() == "Admin access has been revoked from user@example.com."
    assert not reload(user).is_admin
    assert browser.get(DASHBOARD).status_code == 403


def test_grant_admin_asks_for_the_email_when_omitted(user):
    out, _ = run("grant_admin", stdin="user@example.com\n")
    assert "Please enter the user's email: " in out
    assert reload(user).is_admin


@pytest.mark.parametrize("command", ["grant_admin", "revoke_admin"])
def test_unknown_email_is_refused(admin_user, command):
    with pytest.raises(CommandError, match="^User does not exist$"):
        run(command, "nobody@example.com")


def test_revoking_the_last_admin_warns(admin_user):
    _, err = run("revoke_admin", "admin@example.com")
    assert "there is no administrator left" in err and "grant_admin" in err


# --- list_users ------------------------------------------------------------------------------------


def test_list_users_shows_everyone_including_pending_deletions(admin_user, user, django_user_model):
    gone = django_user_model.objects.create_user("leaving@example.com", "leaving-pass-1", name="Leaving",
                                                 storage_label="leaving", quota_size_in_bytes=5 * 1024**3)
    scheduled_at = timezone.now() - timedelta(days=2)
    schedule_deletion(gone, now=scheduled_at)
    out, _ = run("list_users")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "Email", "Name", "Admin", "Storage", "label", "Quota", "Created", "Status"]
    admin_line = next(line for line in lines if "admin@example.com" in line)
    assert " yes " in admin_line and "unlimited" in admin_line and admin_line.endswith("active")
    user_line = next(line for line in lines if "user@example.com" in line)
    assert " no " in user_line
    leaving_line = next(line for line in lines if "leaving@example.com" in line)
    due = timezone.localtime(scheduled_at + timedelta(days=7))
    assert "5 GiB" in leaving_line and "leaving" in leaving_line
    assert f"removed after {due:%Y-%m-%d %H:%M}" in leaving_line
    assert lines[-1] == "3 user(s)."


def test_list_users_due_date_follows_the_delete_delay(user):
    schedule_deletion(user)
    save_values({"user.deleteDelay": 30})
    out, _ = run("list_users")
    due = timezone.localtime(reload(user).deleted_at + timedelta(days=30))
    assert f"removed after {due:%Y-%m-%d %H:%M}" in out


def test_list_users_without_users():
    out, _ = run("list_users")
    assert out.strip() == "There are no users."


# --- ensure_admin ----------------------------------------------------------------------------------


def test_ensure_admin_creates_the_first_admin_once(monkeypatch):
    monkeypatch.delenv("ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    out, _ = run("ensure_admin")
    password = re.search(r"Password: (\S+)", out).group(1)
    assert "Email:    admin@example.com" in out
    admin = get_user_model().objects.get()
    assert admin.is_admin and admin.check_password(password)

    out, _ = run("ensure_admin")
    assert out.strip() == "Administrator exists: admin@example.com"
    assert get_user_model().objects.count() == 1


def test_ensure_admin_takes_email_and_password_from_the_environment(monkeypatch, user):
    monkeypatch.setenv("ADMIN_EMAIL", "Boss@Example.com")
    monkeypatch.setenv("ADMIN_PASSWORD", "chosen-admin-pass")
    out, _ = run("ensure_admin")
    assert "Email:    boss@example.com" in out and "Password: chosen-admin-pass" in out
    assert Client().login(email="boss@example.com", password="chosen-admin-pass")
    assert get_user_model().objects.get(email="boss@example.com").is_admin


def test_ensure_admin_leaves_an_existing_admin_alone(monkeypatch, admin_user):
    monkeypatch.setenv("ADMIN_EMAIL", "someone-else@example.com")
    out, _ = run("ensure_admin")
    assert out.strip() == "Administrator exists: admin@example.com"
    assert not get_user_model().objects.filter(email="someone-else@example.com").exists()


def test_ensure_admin_refuses_to_promote_an_existing_user_silently(monkeypatch, user):
    monkeypatch.setenv("ADMIN_EMAIL", "user@example.com")
    with pytest.raises(CommandError, match="user@example.com exists but is not an administrator.*grant_admin"):
        run("ensure_admin")
    assert not reload(user).is_admin
