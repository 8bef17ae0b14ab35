"""Busy-database retries: "database is locked" is tried again, other errors are not."""

import pytest
from django.db import OperationalError

from jobs_app.db import retry_on_busy


def test_a_locked_database_is_retried_until_it_works():
    calls = []

    @retry_on_busy
    def write():
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("database is locked")
        return "written"

    assert write() == "written" and len(calls) == 3


def test_other_database_errors_are_not_retried():
    calls = []

    @retry_on_busy
    def write():
        calls.append(1)
        raise OperationalError("no such table: jobs_app_job")

    with pytest.raises(OperationalError, match="no such table"):
        write()
    assert len(calls) == 1
