from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from tickets.selectors import staff_for_user


def staff(request: HttpRequest) -> dict[str, object]:
    """The signed-in person's staff profile and whether the admin is open to them, so the
    navigation shows what their role can use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"staff": None, "can_use_admin": False}
    return {"staff": staff_for_user(user), "can_use_admin": admin.site.has_permission(request)}
