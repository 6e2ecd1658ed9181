"""Reads, always through the signed-in person's client scope (a foreign object is a 404)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.http import Http404

from tickets.models import Client, StaffMember, Ticket

UserLike = AbstractBaseUser | AnonymousUser


def staff_for_user(user: UserLike) -> StaffMember | None:
    if not user.is_authenticated:
        return None
    try:
        return user.staff  # type: ignore[union-attr]
    except StaffMember.DoesNotExist:
        return None
