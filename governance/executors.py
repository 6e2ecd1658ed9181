"""The registry of executors: how each action kind is carried out.

`governance` knows nothing of the tools; `automation` registers an executor per kind at
start-up (`AutomationConfig.ready`). Only the gate calls an executor, so registering one does
not let anything else perform the side effect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from governance.models import Action
    from tickets.models import StaffMember


class ExecutionError(Exception):
    """The tool could not do it. The message is shown to technicians: say what happened and
    what they can do next."""


class Executor:
    """Base executor. `execute` returns the result to store (with what `undo` needs);
    `verify` proves the effect took (None: this kind cannot be verified)."""

    undoable = False

    def execute(self, action: Action) -> dict[str, Any]:
        raise NotImplementedError

    def verify(self, action: Action) -> bool | None:
        return None

    def undo(self, action: Action, *, staff: StaffMember) -> dict[str, Any]:
        raise ExecutionError("This action cannot be undone automatically; reverse it by hand.")


_REGISTRY: dict[str, Executor] = {}


def executor_register(kind: str, executor: Executor) -> None:
    _REGISTRY[kind] = executor


def executor_for(kind: str) -> Executor | None:
    return _REGISTRY.get(kind)
