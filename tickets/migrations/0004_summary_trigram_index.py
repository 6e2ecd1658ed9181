"""A trigram index for summary search on PostgreSQL (icontains compiles to
UPPER(summary::text) LIKE UPPER(…)). Other databases need nothing. Where the role may not
create the pg_trgm extension, the index is skipped with a warning: search still works, only
slower."""

import warnings

from django.db import DatabaseError, migrations, transaction

INDEX = "ticket_summary_trgm_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        warnings.warn(
            f"pg_trgm unavailable ({error}); ticket search will not be indexed.", stacklevel=2
        )
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON tickets_ticket "
        "USING gin (UPPER(summary::text) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0003_list_indexes")]

    operations = [migrations.RunPython(create, drop)]
