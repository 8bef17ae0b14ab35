"""SearchIndexState.columns_version, bumped by a database trigger whenever an asset's column that search
filters on changes, however it is written (save(), queryset update(), raw SQL): each process keeps those
columns beside its embedding matrix and reloads them when the version moves. save() writes every column, so
the trigger compares old and new values. SQLite: a row trigger (a write there is one in-process UPDATE by
key). PostgreSQL: a statement trigger over the transition tables, so an UPDATE of 20k assets (restoring the
trash) bumps each owner's counter once rather than 20k times; it runs at the end of the statement, after
the statement's asset rows are locked.

A migration that rebuilds media_app_asset on SQLite (Django's table remake) drops this trigger with the old
table: tests/search_app/test_filtered_search.py fails then, and the trigger must be created again."""

from django.db import migrations, models

# What search_app.services.index keeps per row; owner_id as well, so a move to another owner is seen by both.
COLUMNS = ("owner_id", "type", "original_filename", "city", "state", "country", "make", "model", "taken_at",
           "deleted_at")

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER search_asset_columns_changed AFTER UPDATE OF {", ".join(COLUMNS)} ON media_app_asset
    WHEN {" OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in COLUMNS)} BEGIN
        UPDATE search_app_searchindexstate SET columns_version = columns_version + 1
        WHERE owner_id IN (OLD.owner_id, NEW.owner_id);
    END""",
]
SQLITE_DROP = ["DROP TRIGGER search_asset_columns_changed"]

CHANGED = " OR ".join(f"old_rows.{column} IS DISTINCT FROM new_rows.{column}" for column in COLUMNS)
POSTGRESQL_TRIGGERS = [
    f"""CREATE FUNCTION search_asset_columns_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE search_app_searchindexstate SET columns_version = columns_version + 1
        WHERE owner_id IN (SELECT unnest(ARRAY[old_rows.owner_id, new_rows.owner_id])
                           FROM old_rows JOIN new_rows USING (id) WHERE {CHANGED});
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER search_asset_columns_changed AFTER UPDATE ON media_app_asset
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
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
        ('media_app', '0014_asset_device_ids'),  # after every asset-table change so far (a remake drops it)
    ]

    operations = [
        migrations.AddField(
            model_name='searchindexstate',
            name='columns_version',
            field=models.BigIntegerField(default=0, help_text="Bumped by a trigger when an asset's type, name, place, camera, date or trash changes."),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
