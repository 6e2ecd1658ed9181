"""Database triggers that mark a ticket's facts stale whenever its history changes.

Triggers rather than code: the timeline, time entries, CSAT answers, LLM calls, holdout
draws and the ticket row are written from many places (intake, PSA sync, the gate, the
demo, bulk loads), and a metric must never drift from the facts because one of them forgot.
PostgreSQL uses statement-level triggers with transition tables (one insert per statement,
so a bulk load of millions of events stays fast); SQLite uses row triggers.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# (table, column holding the ticket id, operations)
WATCHED = [
    ("tickets_ticket", "id", ("INSERT", "UPDATE")),
    ("tickets_ticketevent", "ticket_id", ("INSERT",)),
    ("tickets_timeentry", "ticket_id", ("INSERT", "UPDATE", "DELETE")),
    ("tickets_csatresponse", "ticket_id", ("INSERT", "UPDATE", "DELETE")),
    ("automation_llmcall", "ticket_id", ("INSERT",)),
    ("governance_holdoutticket", "ticket_id", ("INSERT", "UPDATE", "DELETE")),
]


def _name(table: str, operation: str) -> str:
    return f"metrics_dirty_{table}_{operation.lower()}"


def _postgres_create(table: str, column: str, operation: str) -> list[str]:
    function = f"metrics_dirty_by_{column}"
    transition = "OLD" if operation == "DELETE" else "NEW"
    return [
        f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO metrics_factdirty (ticket_id)
            SELECT DISTINCT {column} FROM changed WHERE {column} IS NOT NULL
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$""",  # noqa: S608 — identifiers from WATCHED above, no input
        f"""CREATE TRIGGER {_name(table, operation)} AFTER {operation} ON {table}
        REFERENCING {transition} TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION {function}()""",
    ]


def _sqlite_create(table: str, column: str, operation: str) -> list[str]:
    row = "OLD" if operation == "DELETE" else "NEW"
    return [
        f"""CREATE TRIGGER {_name(table, operation)} AFTER {operation} ON {table}
        WHEN {row}.{column} IS NOT NULL
        BEGIN INSERT OR IGNORE INTO metrics_factdirty (ticket_id) VALUES ({row}.{column}); END"""  # noqa: S608
    ]


def create(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    build = _postgres_create if vendor == "postgresql" else _sqlite_create
    for table, column, operations in WATCHED:
        for operation in operations:
            for statement in build(table, column, operation):
                schema_editor.execute(statement)


def drop(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    for table, _column, operations in WATCHED:
        for operation in operations:
            suffix = f" ON {table}" if postgres else ""
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {_name(table, operation)}{suffix}")
    if postgres:
        for column in {column for _table, column, _ops in WATCHED}:
            schema_editor.execute(f"DROP FUNCTION IF EXISTS metrics_dirty_by_{column}()")


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0001_initial"),
        ("tickets", "0015_outbox_no_base_time"),
        ("automation", "0006_resolution"),
        ("governance", "0004_holdout"),
    ]

    operations = [migrations.RunPython(create, drop)]
