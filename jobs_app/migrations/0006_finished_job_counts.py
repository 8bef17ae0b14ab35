"""Per-queue counts of completed and failed jobs, kept by triggers on the job table (SQLite: row
triggers; PostgreSQL: statement triggers over transition tables, so a statement that finishes or deletes
jobs of several queues updates each counter once, in queue order, and concurrent ones cannot deadlock on
them). The counters are built from the existing rows after the triggers exist, in the same transaction."""

from django.db import migrations, models

FINISHED = "('completed', 'failed')"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER job_finished_count_insert AFTER INSERT ON jobs_app_job
    WHEN NEW.status IN {FINISHED} BEGIN
        INSERT INTO jobs_app_finishedjobcount (queue, completed, failed)
        VALUES (NEW.queue, NEW.status = 'completed', NEW.status = 'failed')
        ON CONFLICT (queue) DO UPDATE SET completed = completed + excluded.completed,
                                          failed = failed + excluded.failed;
    END""",
    f"""CREATE TRIGGER job_finished_count_delete AFTER DELETE ON jobs_app_job
    WHEN OLD.status IN {FINISHED} BEGIN
        UPDATE jobs_app_finishedjobcount SET completed = completed - (OLD.status = 'completed'),
                                             failed = failed - (OLD.status = 'failed')
        WHERE queue = OLD.queue;
    END""",
    f"""CREATE TRIGGER job_finished_count_update_old AFTER UPDATE OF status, queue ON jobs_app_job
    WHEN OLD.status IN {FINISHED} AND (OLD.status IS NOT NEW.status OR OLD.queue IS NOT NEW.queue) BEGIN
        UPDATE jobs_app_finishedjobcount SET completed = completed - (OLD.status = 'completed'),
                                             failed = failed - (OLD.status = 'failed')
        WHERE queue = OLD.queue;
    END""",
    f"""CREATE TRIGGER job_finished_count_update_new AFTER UPDATE OF status, queue ON jobs_app_job
    WHEN NEW.status IN {FINISHED} AND (OLD.status IS NOT NEW.status OR OLD.queue IS NOT NEW.queue) BEGIN
        INSERT INTO jobs_app_finishedjobcount (queue, completed, failed)
        VALUES (NEW.queue, NEW.status = 'completed', NEW.status = 'failed')
        ON CONFLICT (queue) DO UPDATE SET completed = completed + excluded.completed,
                                          failed = failed + excluded.failed;
    END""",
]
SQLITE_DROP = [f"DROP TRIGGER job_finished_count_{name}" for name in ("insert", "delete", "update_old", "update_new")]


def _pg_delta(rows: str, sign: str) -> str:
    return (f"SELECT queue, {sign}(status = 'completed')::int AS completed, {sign}(status = 'failed')::int AS failed "
            f"FROM {rows} WHERE status IN {FINISHED}")


def _pg_apply(deltas: str) -> str:
    return f"""INSERT INTO jobs_app_finishedjobcount AS counter (queue, completed, failed)
        SELECT queue, SUM(completed), SUM(failed) FROM ({deltas}) AS delta
        GROUP BY queue HAVING SUM(completed) <> 0 OR SUM(failed) <> 0 ORDER BY queue
        ON CONFLICT (queue) DO UPDATE SET completed = counter.completed + EXCLUDED.completed,
                                          failed = counter.failed + EXCLUDED.failed;"""


POSTGRESQL_TRIGGERS = [
    f"""CREATE FUNCTION job_finished_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {_pg_apply(_pg_delta("new_rows", ""))}
        ELSIF TG_OP = 'DELETE' THEN
            {_pg_apply(_pg_delta("old_rows", "-"))}
        ELSE
            {_pg_apply(_pg_delta("new_rows", "") + " UNION ALL " + _pg_delta("old_rows", "-"))}
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER job_finished_count_insert AFTER INSERT ON jobs_app_job
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION job_finished_count()""",
    """CREATE TRIGGER job_finished_count_delete AFTER DELETE ON jobs_app_job
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION job_finished_count()""",
    """CREATE TRIGGER job_finished_count_update AFTER UPDATE ON jobs_app_job
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION job_finished_count()""",
]
POSTGRESQL_DROP = ["DROP FUNCTION job_finished_count() CASCADE"]

BUILD_COUNTS = f"""INSERT INTO jobs_app_finishedjobcount (queue, completed, failed)
    SELECT queue, SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END),
           SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END)
    FROM jobs_app_job WHERE status IN {FINISHED} GROUP BY queue"""


def create_triggers(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for statement in (POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS) + [BUILD_COUNTS]:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for statement in POSTGRESQL_DROP if postgresql else SQLITE_DROP:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('jobs_app', '0005_queue_hold'),
    ]

    operations = [
        migrations.CreateModel(
            name='FinishedJobCount',
            fields=[
                ('queue', models.CharField(max_length=40, primary_key=True, serialize=False)),
                ('completed', models.BigIntegerField(default=0)),
                ('failed', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
