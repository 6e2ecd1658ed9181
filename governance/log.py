"""The plain-English action log: one sentence per action, and the same rows as CSV.

"AI agent “password-reset” reset the password of dana@acme.example on ticket 4812, approved
by Dana Lee, confidence 0.97." Each sentence links to the structured record (the action page).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from governance.kinds import names_cached
from governance.models import Action

_EXECUTED = {
    Action.Status.SUCCEEDED,
    Action.Status.VERIFIED,
    Action.Status.FAILED,
    Action.Status.UNDONE,
    Action.Status.EXECUTING,
}


def action_sentence(action: Action) -> str:
    who = action.proposer_label
    what = action.what()
    confidence = f", confidence {action.confidence:.2f}" if action.confidence is not None else ""
    if action.status in _EXECUTED:
        how = _how_approved(action)
        sentence = f"{who} {what}{how}{confidence}."
        if action.status == Action.Status.FAILED:
            sentence += f" It failed: {action.error or action.status_reason}"
        elif action.status == Action.Status.UNDONE and action.undone_by:
            sentence += f" Undone by {action.undone_by.display_name}."
        elif action.status == Action.Status.EXECUTING:
            sentence += " Still executing."
        return sentence
    proposal = f"{who} proposed: {what}{confidence}"
    if action.status == Action.Status.REJECTED and action.decided_by:
        by = action.decided_by.display_name
        return f"{proposal} — rejected by {by}: “{action.rejection_reason}”."
    if action.status == Action.Status.PROPOSED:
        return f"{proposal} — awaiting approval."
    if action.status == Action.Status.QUEUED:
        return f"{proposal} — {_how_approved(action).lstrip(', ') or 'queued'}, queued to execute."
    reason = f" {action.status_reason}" if action.status_reason else ""
    return f"{proposal} — {action.get_status_display().lower()}.{reason}"


def _how_approved(action: Action) -> str:
    if action.proposer_kind == Action.Proposer.HUMAN:
        return ""
    if action.decided_by is None:
        return ", on its own (autonomous)"
    edited = " after editing it" if action.original_params is not None else ""
    return f", approved by {action.decided_by.display_name}{edited}"


CSV_HEADER = [
    "action_id",
    "created_at",
    "ticket_id",
    "client",
    "ticket_type",
    "kind",
    "status",
    "proposer_kind",
    "proposer",
    "model_version",
    "confidence",
    "decided_by",
    "decided_at",
    "finished_at",
    "sentence",
]


def csv_rows(actions: Iterable[Action]) -> Iterator[str]:
    """CSV text, header first, one line per action; streamed so a long export stays flat in
    memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(CSV_HEADER)
    yield flush()
    chunk: list[Action] = []
    for action in actions:
        chunk.append(action)
        if len(chunk) == CSV_CHUNK:
            yield _csv_chunk(chunk, writer, flush)
            chunk = []
    if chunk:
        yield _csv_chunk(chunk, writer, flush)


CSV_CHUNK = 500


def _csv_chunk(actions: list[Action], writer: Any, flush: Callable[[], str]) -> str:
    # The name cache is set and reset inside one call, never across a yield: a streaming
    # response may resume the generator in another context.
    with names_cached():
        for action in actions:
            writer.writerow(
                [_csv_safe(cell) if isinstance(cell, str) else cell for cell in _row(action)]
            )
    return flush()


def _row(action: Action) -> list[Any]:
    return [
        action.id,
        action.created_at.isoformat(),
        action.ticket_id,
        action.ticket.client.name if action.ticket.client else "",
        action.ticket.type.name if action.ticket.type else "",
        action.kind,
        action.status,
        action.proposer_kind,
        action.proposer_name,
        action.model_version,
        "" if action.confidence is None else f"{action.confidence:.4f}",
        action.decided_by.display_name if action.decided_by else "",
        action.decided_at.isoformat() if action.decided_at else "",
        action.finished_at.isoformat() if action.finished_at else "",
        action_sentence(action),
    ]


def _csv_safe(text: str) -> str:
    """Ticket text ends up in sentences; a leading =, +, - or @ would run as a spreadsheet
    formula when a manager opens the export."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
