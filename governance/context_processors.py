"""The approvals count in the navigation, for people who approve."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from governance.selectors import pending_count
from tickets.models import StaffMember
from tickets.selectors import staff_for_user


def approvals(request: HttpRequest) -> dict[str, Any]:
    """Lazy: counted only when a template shows it (the full page's navigation), not for
    every HTMX fragment."""

    def count() -> int:
        staff = staff_for_user(request.user)
        if staff is None or staff.role == StaffMember.Role.OWNER:
            return 0
        return pending_count(user=request.user)

    return {"pending_approvals": SimpleLazyObject(count)}
