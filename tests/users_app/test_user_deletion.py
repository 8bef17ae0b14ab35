"""Delayed user deletion: "Delete" schedules it (no login, sessions end), the nightly check removes the
user after the User settings delete delay, "Cancel deletion" restores, "Delete immediately" removes now
after a confirmation. The clock is frozen by passing `now`."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jobs_app.handlers import get_handler
from jobs_app.models import Job
from settings_app.services import save_values
from users_app.models import ApiKey
from users_app.services import (
    UserError,
    cancel_deletion,
    delete_due_users,
    deletion_due_at,
    schedule_deletion,
    user_purging,
)

pytestmark = pytest.mark.django_db
User = get_user_model()
USERS = "/console/users_app/user/"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USER_PASSWORD = "user-password-123"


def exists(user) -> bool:
    return User.objects.filter(pk=user.pk).exists()


def reload(user):
    return User.objects.get(pk=user.pk)


def can_log_in(user) -> bool:
    return Client().post("/login/", {"email": user.email, "password": USER_PASSWORD}).status_code == 302


@pytest.fixture
def api_key(user):
    return ApiKey.issue(user, "phone")[1]


def api_key_works(secret) -> bool:
    return Client().get("/api/api-keys", HTTP_X_API_KEY=secret).status_code == 200


# --- The nightly check with a frozen clock ---------------------------------------------------------


def test_day_6_nothing_gone_day_7_gone(user):
    schedule_deletion(user, now=T0)
    assert deletion_due_at(User.objects.get(pk=user.pk)) == T0 + timedelta(days=7)

    assert delete_due_users(now=T0 + timedelta(days=6, hours=23, minutes=59)) == 0
    assert exists(user)
    assert delete_due_users(now=T0 + timedelta(days=7)) == 1
    assert not exists(user)


def test_a_changed_delay_applies_at_the_next_run(user):
    schedule_deletion(user, now=T0)
    assert delete_due_users(now=T0 + timedelta(days=3)) == 0
    save_values({"user.deleteDelay": 3})
    assert delete_due_users(now=T0 + timedelta(days=3)) == 1
    assert not exists(user)


def test_a_longer_delay_postpones_a_pending_deletion(user):
    schedule_deletion(user, now=T0)
    save_values({"user.deleteDelay": 30})
    assert delete_due_users(now=T0 + timedelta(days=7)) == 0
    assert exists(user)
    assert delete_due_users(now=T0 + timedelta(days=30)) == 1


def test_only_due_users_are_removed(admin_user, user, django_user_model):
    later = django_user_model.objects.create_user("later@example.com", "later-pass-1")
    schedule_deletion(user, now=T0)
    schedule_deletion(later, now=T0 + timedelta(days=2))
    assert delete_due_users(now=T0 + timedelta(days=8)) == 1
    assert not exists(user) and exists(later) and exists(admin_user)


def test_cancel_restores_the_user_and_the_nightly_check_leaves_them(user, api_key):
    schedule_deletion(user, now=T0)
    assert not can_log_in(user) and not api_key_works(api_key)

    assert cancel_deletion(User.objects.get(pk=user.pk)) is True
    restored = User.objects.get(pk=user.pk)
    assert restored.deleted_at is None and restored.is_active
    assert delete_due_users(now=T0 + timedelta(days=30)) == 0
    assert can_log_in(restored) and api_key_works(api_key)  # nothing was lost, the API key included


def test_cancelling_a_user_not_scheduled_is_a_no_op(user):
    assert cancel_deletion(user) is False


def test_scheduling_twice_keeps_the_first_date(user):
    schedule_deletion(user, now=T0)
    schedule_deletion(User.objects.get(pk=user.pk), now=T0 + timedelta(days=5))
    assert User.objects.get(pk=user.pk).deleted_at == T0


def test_nobody_schedules_their_own_deletion(admin_user):
    with pytest.raises(UserError, match="You cannot delete your own account."):
        schedule_deletion(admin_user, by=admin_user)
    assert User.objects.get(pk=admin_user.pk).deleted_at is None


def test_the_purge_hook_sees_the_user_before_removal_and_takes_keys_along(user, api_key):
    seen = []

    def receiver(sender, user, **kwargs):
        seen.append((user.email, User.objects.filter(pk=user.pk).exists()))

    user_purging.connect(receiver)
    try:
        schedule_deletion(user, now=T0)
        delete_due_users(now=T0 + timedelta(days=7))
    finally:
        user_purging.disconnect(receiver)
    assert seen == [("user@example.com", True)]  # assets can still be found by owner at that point
    assert not ApiKey.objects.exists()


def test_a_failing_purge_hook_keeps_the_user(user):
    def failing(sender, user, **kwargs):
        raise OSError("disk unavailable")

    user_purging.connect(failing)
    try:
        schedule_deletion(user, now=T0)
        with pytest.raises(OSError):
            delete_due_users(now=T0 + timedelta(days=7))
    finally:
        user_purging.disconnect(failing)
    assert exists(user)  # nothing half-done: the next nightly run tries again


# --- "Delete" in the console -----------------------------------------------------------------------


def test_console_delete_confirmation_explains_the_schedule(admin_client, user):
    save_values({"user.deleteDelay": 10})
    html = admin_client.get(USERS + f"{user.pk}/delete/").content.decode()
    assert "Delete the user <strong>user@example.com</strong>?" in html
    assert "10 days, User settings" in html
    assert "Cancel deletion" in html and "Delete immediately" in html
    assert User.objects.get(pk=user.pk).deleted_at is None  # the GET changes nothing


def test_console_delete_schedules_ends_sessions_and_blocks_login(admin_client, user, api_key):
    user_browser = Client()
    user_browser.force_login(user)
    assert user_browser.get("/").status_code == 200

    response = admin_client.post(USERS + f"{user.pk}/delete/", {"post": "yes"}, follow=True)
    scheduled = User.objects.get(pk=user.pk)
    assert scheduled.deleted_at is not None and not scheduled.is_active
    assert "Deletion of user@example.com scheduled: they can no longer log in" in response.content.decode()

    assert user_browser.get("/").status_code == 302  # logged out
    assert not can_log_in(scheduled)
    assert not api_key_works(api_key)
    bearer = Client().post("/api/auth/login", {"email": "user@example.com", "password": USER_PASSWORD},
                           content_type="application/json")
    assert bearer.status_code == 401


def test_an_admin_cannot_delete_themselves_in_the_console(admin_client, admin_user):
    assert admin_client.get(USERS + f"{admin_user.pk}/delete/").status_code == 403
    assert admin_client.post(USERS + f"{admin_user.pk}/delete/", {"post": "yes"}).status_code == 403
    assert User.objects.get(pk=admin_user.pk).deleted_at is None


def test_list_action_schedules_and_cancels(admin_client, admin_user, user):
    admin_client.post(USERS, {"action": "schedule_deletion_action", "_selected_action": [user.pk, admin_user.pk]})
    assert User.objects.get(pk=user.pk).deleted_at is not None
    assert User.objects.get(pk=admin_user.pk).deleted_at is None  # never yourself

    response = admin_client.post(USERS, {"action": "cancel_deletion_action", "_selected_action": [user.pk]},
                                 follow=True)
    assert User.objects.get(pk=user.pk).deleted_at is None
    assert "Deletion cancelled, restored: user@example.com." in response.content.decode()


def test_cancel_button_on_the_users_page(admin_client, user):
    schedule_deletion(user)
    page = admin_client.get(USERS + f"{user.pk}/change/").content.decode()
    assert "Scheduled for deletion." in page and "Cancel deletion" in page
    assert admin_client.get(USERS + f"{user.pk}/cancel-deletion/").status_code == 405  # POST only
    response = admin_client.post(USERS + f"{user.pk}/cancel-deletion/", follow=True)
    assert "Deletion of user@example.com cancelled" in response.content.decode()
    assert User.objects.get(pk=user.pk).is_active
    assert can_log_in(user)


def test_django_s_delete_selected_is_not_offered(admin_client):
    actions = admin_client.get(USERS).context["action_form"].fields["action"].choices
    assert "delete_selected" not in [name for name, _ in actions]


# --- "Delete immediately" --------------------------------------------------------------------------


def run_user_delete_jobs() -> list[str]:
    """Run the queued UserDelete jobs through their real handler (workers themselves are tested in jobs_app)."""
    handler = get_handler("UserDelete")
    return [handler.func(job) for job in Job.objects.filter(queue="backgroundTask", name="UserDelete")]


def test_delete_immediately_needs_the_confirmation_and_queues_the_removal(admin_client, user, api_key):
    page = admin_client.get(USERS + f"delete-now/?ids={user.pk}")
    assert page.status_code == 200
    assert "user@example.com" in page.content.decode() and "now and for good" in page.content.decode()
    assert exists(user)

    admin_client.post(USERS + "delete-now/", {"ids": str(user.pk)})  # no confirm=yes: nothing happens
    assert exists(user) and not Job.objects.exists()

    response = admin_client.post(USERS + "delete-now/", {"ids": str(user.pk), "confirm": "yes"}, follow=True)
    assert "Queued for removal now: user@example.com." in response.content.decode()
    assert not can_log_in(user)  # blocked at once
    assert Job.objects.get(name="UserDelete").data == {"id": user.pk}

    assert run_user_delete_jobs() == [f"user {user.pk}: removed"]
    assert not exists(user)
    assert not ApiKey.objects.exists()


def test_delete_immediately_works_for_a_pending_deletion_too(admin_client, user):
    schedule_deletion(user, now=T0)
    admin_client.post(USERS + "delete-now/", {"ids": str(user.pk), "confirm": "yes"})
    run_user_delete_jobs()
    assert not exists(user)


def test_cancelled_before_the_job_runs_nothing_is_removed(admin_client, user):
    admin_client.post(USERS + "delete-now/", {"ids": str(user.pk), "confirm": "yes"})
    cancel_deletion(reload(user))
    assert run_user_delete_jobs() == [f"user {user.pk}: not scheduled for deletion any more, kept"]
    assert exists(user) and can_log_in(user)


def test_list_action_leads_to_the_confirmation(admin_client, user, django_user_model):
    other = django_user_model.objects.create_user("other@example.com", "other-pass-1")
    response = admin_client.post(USERS, {"action": "delete_now_action", "_selected_action": [user.pk, other.pk]})
    assert response.status_code == 302
    assert response["Location"].startswith(USERS + "delete-now/?ids=")
    page = admin_client.get(response["Location"]).content.decode()
    assert "user@example.com" in page and "other@example.com" in page and "Yes, delete 2 users now" in page
    assert exists(user) and exists(other)


def test_delete_immediately_never_removes_yourself(admin_client, admin_user):
    page = admin_client.get(USERS + f"delete-now/?ids={admin_user.pk}").content.decode()
    assert "You cannot delete your own account" in page
    admin_client.post(USERS + "delete-now/", {"ids": str(admin_user.pk), "confirm": "yes"})
    assert exists(admin_user)


def test_non_admins_cannot_delete_immediately(user_client, django_user_model):
    victim = django_user_model.objects.create_user("victim@example.com", "victim-pass-1")
    response = user_client.post(USERS + "delete-now/", {"ids": str(victim.pk), "confirm": "yes"}, follow=True)
    assert response.status_code == 403
    assert exists(victim)
