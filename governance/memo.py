"""A memo for one batch of proposals: reads that cannot change while the batch is decided
(the policies for a type and client, whether a technician holds a ticket, kill switches, a
queue's existence) are made once per key instead of once per proposal.

`services.actions_propose` opens it around its verdicts, and the pipeline around a batch's
acknowledgements and playbook starts (which also read each client's contacts once through it).
Execution never relies on it: in production actions execute in the gate's own tasks, which
re-read everything.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
_MEMO: ContextVar[dict[Hashable, Any] | None] = ContextVar("governance_batch_memo", default=None)


@contextmanager
def batch_memo(preset: dict[Hashable, Any] | None = None) -> Iterator[None]:
    token = _MEMO.set(dict(preset or {}))
    try:
        yield
    finally:
        _MEMO.reset(token)


def memoized(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, remembered under `key` while a batch memo is open."""
    memo = _MEMO.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    value: T = memo[key]
    return value
