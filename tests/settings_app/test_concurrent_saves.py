"""The embedded SQLite default holds ten administrators saving at once: every save lands, none sees
"database is locked"."""

import threading

import pytest
from django.db import connection

from settings_app.models import SettingChange
from settings_app.registry import CATEGORIES_BY_SLUG
from settings_app.services import get_config, save_values

ADMINS = 10


@pytest.mark.django_db(transaction=True)
def test_ten_admins_saving_at_once(django_user_model):
    admins = [
        django_user_model.objects.create_superuser(f"admin{i}@example.com", "pw-123456789") for i in range(ADMINS)
    ]
    # Each administrator changes a different job queue's concurrency (same category row, so the saves contend).
    paths = [key.path for key in CATEGORIES_BY_SLUG["job"].keys][:ADMINS]
    assert len(paths) == ADMINS
    start = threading.Barrier(ADMINS)
    results, failures = {}, []

    def save(admin, path):
        try:
            start.wait()
            results[path] = save_values({path: 7}, user=admin, source="api")
        except Exception as error:  # anything, "database is locked" included, fails the test below
            failures.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=pair) for pair in zip(admins, paths, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert failures == []
    assert all(result.ok for result in results.values()), {p: r.messages() for p, r in results.items()}
    config = get_config()
    assert all(config.get(path) == 7 for path in paths)
    assert SettingChange.objects.filter(category="job").count() == ADMINS
    assert sorted(SettingChange.objects.values_list("category_version", flat=True)) == list(range(1, ADMINS + 1))
