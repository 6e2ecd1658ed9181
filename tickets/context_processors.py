from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from tickets.selectors import manager_for_user, staff_for_user


def staff(request: HttpRequest) -> dict[str, object]:
    """The signed-in person's staff profile and whether the admin is open to them, so the
    navigation shows what their role can use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"staff": None, "can_use_admin": False}
    return {"staff": staff_for_user(user), "can_use_admin": admin.site.has_permission(request)}


def inbox(request: HttpRequest) -> dict[str, object]:
    """The counts of arrivals that could not be processed and of write-backs that failed,
    for managers' navigation. Lazy: one indexed COUNT each, run only when a full page's
    navigation shows it."""

    def count() -> int:
        from tickets.models import InboxEvent

        if not hasattr(request, "user") or manager_for_user(request.user) is None:
            return 0
        return InboxEvent.objects.filter(status=InboxEvent.Status.INVALID).count()

    def write_back_problems() -> int:
        from tickets.models import OutboxItem

        if not hasattr(request, "user") or manager_for_user(request.user) is None:
            return 0
        problems = (OutboxItem.Status.FAILED, OutboxItem.Status.CONFLICT)
        return OutboxItem.objects.filter(status__in=problems).count()

    return {
        "inbox_invalid": SimpleLazyObject(count),
        "psa_problems": SimpleLazyObject(write_back_problems),
    }
