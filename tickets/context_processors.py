from __future__ import annotations

from django.http import HttpRequest

from tickets.selectors import staff_for_user


def staff(request: HttpRequest) -> dict[str, object]:
    """Expose the signed-in person's staff profile, so navigation can follow their role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"staff": None}
    return {"staff": staff_for_user(user)}
