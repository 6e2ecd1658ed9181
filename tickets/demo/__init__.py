"""The demo MSP: `python manage.py seed_demo` builds it (see `seed.py`).

Importing this package does not touch Django, so scripts can print the logins before setup.
"""

from __future__ import annotations

from tickets.demo.catalogue import MANAGER, OWNER, TECHNICIANS

# Public on purpose: the demo logins are printed by `make run`.
DEMO_PASSWORD = "demo"  # noqa: S105

DEMO_LOGINS: list[tuple[str, str, str]] = [
    (OWNER.username, DEMO_PASSWORD, "owner"),
    (MANAGER.username, DEMO_PASSWORD, "manager"),
    *((person.username, DEMO_PASSWORD, "technician") for person in TECHNICIANS),
]
