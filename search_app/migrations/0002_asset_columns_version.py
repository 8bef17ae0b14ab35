"""SearchIndexState.columns_version, bumped by a database trigger whenever an asset's column that search
filters on changes, however it is written (save(), queryset update(), raw SQL): each process keeps those
columns beside its embedding matrix and reloads them when the version moves. A row trigger (PostgreSQL
fires it at the end of the statement, after the statement's asset rows are locked); its WHEN clause skips
updates that leave these columns as they were (save() writes every column).

A migration that rebuilds media_app_asset on SQLite (Django's table remake) drops this trigger with the old
table: tests/search_app/test_filtered_search.py fails then, and the trigger must be created again."""

from django.db import migrations, models

# What search_app.services.index keeps per row; owner_id as well, so a move to another owner is seen by both.
COLUMNS = ("owner_id", "type", "original_filename", "city", "state", "country", "make", "model", "taken_at",
           "deleted_at")
BUMP = ("UPDATE search_app_searchindexstate SET columns_version = columns_version + 1 "
        "WHERE owner_id IN (OLD.owner_id, NEW.owner_id)")

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER search_asset_columns_changed AFTER UPDATE OF {", ".join(COLUMNS)} ON media_app_asset
    WHEN {" OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in COLUMNS)}
    BEGIN {BUMP}; END""",
]
SQLITE_DROP = ["DROP TRIGGER search_asset_columns_changed"]

POSTGRESQL_TRIGGERS = [
    f"""CREATE FUNCTION search_asset_columns_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {BUMP};
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER search_asset_columns_changed AFTER UPDATE OF {", ".join(COLUMNS)} ON media_app_asset
    FOR EACH ROW WHEN (({", ".join(f"OLD.{c}" for c in COLUMNS)}) IS DISTINCT FROM ({", ".join(f"NEW.{c}" for c in COLUMNS)}))
    EXECUTE FUNCTION search_asset_columns_changed()""",
]
POSTGRESQL_DROP = ["DROP FUNCTION search_asset_columns_changed() CASCADE"]


def create_trigger(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        schema_editor.execute(statement, params=None)


def drop_trigger(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for statement in POSTGRESQL_DROP if postgresql else SQLITE_DROP:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('search_app', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='searchindexstate',
            name='columns_version',
            field=models.BigIntegerField(default=0, help_text="Bumped by a trigger when an asset's type, name, place, camera, date or trash changes."),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
