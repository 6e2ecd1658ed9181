from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest


class DeskAdminSite(admin.AdminSite):
    """The admin edits every client's records without the scope selectors, so only
    superusers and staff who already see every client may use it."""

    site_header = "Service desk administration"
    site_title = "Service desk admin"

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        user = request.user
        if user.is_superuser:
            return True
        staff = getattr(user, "staff", None)
        return staff is not None and staff.all_clients
