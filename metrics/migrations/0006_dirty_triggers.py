"""Database triggers that mark a ticket's facts stale whenever anything they derive from
changes.

Triggers rather than code: the timeline, time entries, CSAT answers, LLM calls, holdout
draws and the ticket row are written from many places (intake, PSA sync, the gate, the
demo, bulk loads), and a metric must never drift from the facts because one of them forgot.
PostgreSQL uses statement-level triggers with transition tables (one insert per statement,
so a bulk load of millions of events stays fast); SQLite uses row triggers. An update marks
both the ticket a row left and the one it moved to.

What the business-hours arithmetic and costs read is watched too: a holiday marks the
tickets open on that day (±1 day for time zones), a client's time zone or hours mark its
tickets, a technician's hourly cost marks the tickets they logged time on.

SQLite rebuilds a table to alter it, and refuses while a trigger names it: a later migration
that alters one of these tables must run `drop` before and `create` after
(`migrations.RunPython(drop, create)` … `migrations.RunPython(create, drop)`).
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
    ("automation_llmcall", "ticket_id", ("INSERT", "UPDATE", "DELETE")),
    ("governance_holdoutticket", "ticket_id", ("INSERT", "UPDATE", "DELETE")),
]
# The tickets a holiday on `{row}.date` (for its client, or every client) may affect.
HOLIDAY_TICKETS = """
    SELECT ticket_id FROM metrics_ticketfact
    WHERE ({row}.client_id IS NULL OR client_id = {row}.client_id)
      AND opened_at < {before} AND (resolved_at IS NULL OR resolved_at >= {after})
"""
CLIENT_HOURS_CHANGED = (
    "OLD.timezone IS DISTINCT FROM NEW.timezone"
    " OR OLD.business_days IS DISTINCT FROM NEW.business_days"
    " OR OLD.business_start IS DISTINCT FROM NEW.business_start"
    " OR OLD.business_end IS DISTINCT FROM NEW.business_end"
)
CLIENT_TICKETS = "SELECT id FROM tickets_ticket WHERE client_id = NEW.id"
STAFF_TICKETS = "SELECT DISTINCT ticket_id FROM tickets_timeentry WHERE staff_id = NEW.id"


def _name(table: str, operation: str) -> str:
    return f"metrics_dirty_{table}_{operation.lower()}"


def _postgres_rows(table: str, column: str, operation: str) -> list[str]:
    if operation == "UPDATE":
        function = f"metrics_dirty_moved_{column}"
        source = f"SELECT {column} FROM changed UNION SELECT {column} FROM before"  # noqa: S608
        referencing = "OLD TABLE AS before NEW TABLE AS changed"
    else:
        function = f"metrics_dirty_by_{column}"
        source = f"SELECT DISTINCT {column} FROM changed"  # noqa: S608
        referencing = f"{'OLD' if operation == 'DELETE' else 'NEW'} TABLE AS changed"
    return [
        f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO metrics_factdirty (ticket_id)
            SELECT t.{column} FROM ({source}) AS t WHERE t.{column} IS NOT NULL
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$""",  # noqa: S608 — identifiers from WATCHED above, no input
        f"""CREATE TRIGGER {_name(table, operation)} AFTER {operation} ON {table}
        REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()""",
    ]


def _postgres_settings() -> list[str]:
    old, new = (
        HOLIDAY_TICKETS.format(row=row, before=f"{row}.date + 2", after=f"{row}.date - 1")
        for row in ("OLD", "NEW")
    )
    return [
        f"""CREATE OR REPLACE FUNCTION metrics_dirty_holiday() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                INSERT INTO metrics_factdirty (ticket_id) {old} ON CONFLICT DO NOTHING;
            END IF;
            IF TG_OP <> 'DELETE' THEN
                INSERT INTO metrics_factdirty (ticket_id) {new} ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER metrics_dirty_metrics_holiday AFTER INSERT OR UPDATE OR DELETE
        ON metrics_holiday FOR EACH ROW EXECUTE FUNCTION metrics_dirty_holiday()""",
        f"""CREATE OR REPLACE FUNCTION metrics_dirty_client_hours() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO metrics_factdirty (ticket_id) {CLIENT_TICKETS} ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$""",
        f"""CREATE TRIGGER metrics_dirty_tickets_client_update AFTER UPDATE ON tickets_client
        FOR EACH ROW WHEN ({CLIENT_HOURS_CHANGED})
        EXECUTE FUNCTION metrics_dirty_client_hours()""",
        f"""CREATE OR REPLACE FUNCTION metrics_dirty_staff_cost() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO metrics_factdirty (ticket_id) {STAFF_TICKETS} ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER metrics_dirty_tickets_staffmember_update AFTER UPDATE
        ON tickets_staffmember FOR EACH ROW
        WHEN (OLD.hourly_cost IS DISTINCT FROM NEW.hourly_cost)
        EXECUTE FUNCTION metrics_dirty_staff_cost()""",
    ]


def _sqlite_rows(table: str, column: str, operation: str) -> list[str]:
    rows = {"INSERT": ("NEW",), "DELETE": ("OLD",), "UPDATE": ("OLD", "NEW")}[operation]
    inserts = " ".join(
        f"INSERT OR IGNORE INTO metrics_factdirty (ticket_id) "  # noqa: S608
        f"SELECT {row}.{column} WHERE {row}.{column} IS NOT NULL;"
        for row in rows
    )
    return [
        f"CREATE TRIGGER {_name(table, operation)} AFTER {operation} ON {table} BEGIN {inserts} END"
    ]


def _sqlite_settings() -> list[str]:
    statements = []
    for operation, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        rows = ("OLD", "NEW") if operation == "UPDATE" else (row,)
        inserts = " ".join(
            "INSERT OR IGNORE INTO metrics_factdirty (ticket_id) "
            + HOLIDAY_TICKETS.format(
                row=r, before=f"date({r}.date, '+2 day')", after=f"date({r}.date, '-1 day')"
            )
            + ";"
            for r in rows
        )
        statements.append(
            f"CREATE TRIGGER {_name('metrics_holiday', operation)} AFTER {operation} "
            f"ON metrics_holiday BEGIN {inserts} END"
        )
    changed = CLIENT_HOURS_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
    statements += [
        f"CREATE TRIGGER metrics_dirty_tickets_client_update AFTER UPDATE ON tickets_client "
        f"WHEN {changed} BEGIN INSERT OR IGNORE INTO metrics_factdirty (ticket_id) "
        f"{CLIENT_TICKETS}; END",
        "CREATE TRIGGER metrics_dirty_tickets_staffmember_update AFTER UPDATE "
        "ON tickets_staffmember WHEN OLD.hourly_cost IS NOT NEW.hourly_cost "
        f"BEGIN INSERT OR IGNORE INTO metrics_factdirty (ticket_id) {STAFF_TICKETS}; END",
    ]
    return statements


def create(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    build = _postgres_rows if postgres else _sqlite_rows
    statements = [
        statement
        for table, column, operations in WATCHED
        for operation in operations
        for statement in build(table, column, operation)
    ]
    statements += _postgres_settings() if postgres else _sqlite_settings()
    for statement in statements:
        schema_editor.execute(statement)


SETTINGS_TRIGGERS = [
    ("metrics_holiday", "metrics_dirty_metrics_holiday"),
    ("tickets_client", "metrics_dirty_tickets_client_update"),
    ("tickets_staffmember", "metrics_dirty_tickets_staffmember_update"),
]
FUNCTIONS = [
    "metrics_dirty_by_id",
    "metrics_dirty_by_ticket_id",
    "metrics_dirty_moved_id",
    "metrics_dirty_moved_ticket_id",
    "metrics_dirty_holiday",
    "metrics_dirty_client_hours",
    "metrics_dirty_staff_cost",
]


def drop(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    triggers = [
        (table, _name(table, operation))
        for table, _column, operations in WATCHED
        for operation in operations
    ]
    triggers += SETTINGS_TRIGGERS
    if not postgres:
        operations = ("INSERT", "UPDATE", "DELETE")
        triggers += [("metrics_holiday", _name("metrics_holiday", op)) for op in operations]
    for table, name in triggers:
        suffix = f" ON {table}" if postgres else ""
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{suffix}")
    if postgres:
        for function in FUNCTIONS:
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}()")


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0005_weekly_rollup"),
        ("tickets", "0015_outbox_no_base_time"),
        ("automation", "0006_resolution"),
        ("governance", "0004_holdout"),
    ]

    operations = [migrations.RunPython(create, drop)]
