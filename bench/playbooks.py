"""The quick-win playbooks end to end on the demo MSP (needs DATABASE_URL=postgres://…, and
root for the private OpenLDAP the tests also use):

    python -m bench.playbooks

In a fresh database with the demo MSP (500 tickets of history, its 38 KB articles), every
client's accounts live in one private slapd (password policy on), its Entra ID in the Graph
simulator and its devices in the RMM simulator; every quick-win type's policy is autonomous
for the steps its playbook takes. Then BENCH_PLAYBOOK_TICKETS (20) new tickets per quick-win
type, written from the demo's own templates by the demo's own contacts, each go through
`playbook_start` with the gate's tasks run in process: ticket in → resolved and verified, or
handed over. Reports per playbook the wall time (median, p95), how many resolved without a
human touch, and the technician minutes that avoided (the type's handling minutes each);
then the share of all the quick-win tickets resolved without a human touch.

The last line of output is one JSON object.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Any

from bench.child import run_in_fresh_database
from bench.ticket_list import _percentile

KINDS = {
    "password-reset": ("reset_password", "set_status"),
    "account-unlock": ("unlock_account", "reply", "set_status"),
    "group-change": ("change_group_membership", "reply", "set_status"),
    "mfa-reenrolment": ("reenrol_mfa", "reply", "set_status"),
    "vpn-wifi": ("reply", "set_status"),
    "software-install": ("install_software", "reply", "set_status"),
}


def measure(per_type: int) -> dict[str, Any]:
    """Runs in the child process against its own fresh database."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from django_q.conf import Conf

    from automation.account_executors import InstallSoftwareExecutor
    from automation.models import PlaybookRun
    from automation.playbooks.engine import playbook_start
    from automation.tools.simulators.graph import GraphSimulator
    from automation.tools.simulators.rmm import RmmSimulator
    from tests.slapd import slapd_start
    from tickets.demo.catalogue import TYPES
    from tickets.demo.seed import seed_demo
    from tickets.models import Ticket

    Conf.SYNC = True  # the gate's tasks run where they are queued
    InstallSoftwareExecutor.poll_seconds = 0.05
    call_command("migrate", verbosity=0)
    seed_demo(seed=7, tickets=500, months=1, now=timezone.now(), progress=False)
    slapd, graph, rmm = slapd_start(), GraphSimulator().start(), RmmSimulator().start()
    try:
        _connect_tools(slapd, graph, rmm)
        _policies()
        rng = random.Random(7)
        people = _people(slapd, graph, rmm)
        results: dict[str, Any] = {}
        handled = {spec.slug: spec.handling_minutes for spec in TYPES}
        total = resolved_total = 0
        for slug in KINDS:
            spec = next(t for t in TYPES if t.slug == slug)
            times: list[float] = []
            resolved = 0
            reasons: dict[str, int] = {}
            for number in range(per_type):
                ticket = _ticket(spec, rng.choice(people), rng, slapd, number)
                started = time.perf_counter()
                run = playbook_start(Ticket.objects.get(pk=ticket.pk))
                times.append((time.perf_counter() - started) * 1000)
                run_now = PlaybookRun.objects.get(pk=run.pk) if run else None
                if run_now is not None and run_now.status == PlaybookRun.Status.DONE:
                    resolved += 1
                else:
                    why = (
                        (run_now.reason or run_now.get_status_display())
                        if run_now
                        else "no playbook started"
                    )[:60]
                    reasons[why] = reasons.get(why, 0) + 1
            total += per_type
            resolved_total += resolved
            results[slug] = {
                "tickets": per_type,
                "resolved_without_a_human": resolved,
                "median_ms": round(_percentile(times, 0.5), 1),
                "p95_ms": round(_percentile(times, 0.95), 1),
                "technician_minutes_avoided": round(resolved * handled[slug]),
                "handed_over_because": reasons,
            }
    finally:
        rmm.stop()
        graph.stop()
        slapd.stop()
    return {
        "per_playbook": results,
        "quick_win_tickets": total,
        "resolved_without_a_human": resolved_total,
        "share_resolved_without_a_human": round(resolved_total / total, 3) if total else 0.0,
    }


def _connect_tools(slapd: Any, graph: Any, rmm: Any) -> None:
    from automation.models import ToolConnection
    from tickets.models import Client

    for client in Client.objects.filter(is_active=True):
        for kind, settings, secret in (
            (
                ToolConnection.Kind.LDAP,
                {
                    "url": slapd.url,
                    "bind_dn": slapd.admin_dn,
                    "users_base": slapd.people_dn,
                    "groups_base": slapd.groups_dn,
                },
                slapd.admin_password,
            ),
            (
                ToolConnection.Kind.ENTRA,
                {
                    "tenant_id": graph.tenant_id,
                    "client_id": graph.client_id,
                    "graph_base": graph.graph_base,
                    "login_base": graph.url,
                },
                graph.client_secret,
            ),
            (
                ToolConnection.Kind.RMM,
                {"base_url": rmm.url, "client_id": rmm.client_id},
                rmm.client_secret,
            ),
        ):
            connection = ToolConnection(client=client, kind=kind, settings=settings)
            connection.secret = secret
            connection.save()


def _policies() -> None:
    from decimal import Decimal

    from governance import services
    from tickets.models import StaffMember, TicketType

    manager = StaffMember.objects.filter(role=StaffMember.Role.MANAGER).first()
    for slug, kinds in KINDS.items():
        ticket_type = TicketType.objects.get(slug=slug)
        policy = services.policy_create(
            ticket_type=ticket_type, client=None, staff=manager, shadow_mode=False
        )
        rules = [
            services.RuleInput(action_kind=kind, mode="autonomous", min_confidence=Decimal("0.5"))
            for kind in kinds
        ]
        services.policy_save(policy=policy, staff=manager, shadow_mode=False, rules=rules)


def _people(slapd: Any, graph: Any, rmm: Any, limit: int = 60) -> list[Any]:
    """Demo contacts (not VIP, not privileged) given a directory account, an Entra user and a
    device in the RMM."""
    from tickets.models import Asset, Contact

    people = []
    contacts = Contact.objects.filter(is_active=True, is_vip=False, is_privileged=False)
    for number, contact in enumerate(contacts.exclude(email="").order_by("id")[:limit]):
        uid, _, _ = slapd.user(contact.first_name.lower() or "user")
        contact.directory_username = uid
        contact.save(update_fields=["directory_username"])
        graph.add_user(contact.email, contact.full_name, "Initial-Passw0rd!")
        graph.add_method(contact.email, "microsoftAuthenticator")
        device_id = 5000 + number
        asset = Asset.objects.create(
            client=contact.client,
            primary_contact=contact,
            hostname=f"BENCH-LT-{number:04d}",
            kind=Asset.Kind.LAPTOP,
            rmm_device_id=str(device_id),
        )
        rmm.add_device(device_id, asset.hostname)
        people.append((contact, asset))
    return people


_PACKAGES = ("Zoom Workplace", "Google Chrome", "7-Zip", "Microsoft Teams")


def _ticket(spec: Any, person: Any, rng: random.Random, slapd: Any, number: int) -> Any:
    """A new ticket of the type, in the demo's own words (its templates), by the contact."""
    from tests.fixtures import make_ticket
    from tickets.demo import catalogue as cat
    from tickets.models import TicketType

    contact, asset = person
    group = ""
    if spec.slug == "group-change":
        someone, _, _ = slapd.user("member")
        group, _ = slapd.group([someone], name=rng.choice(cat.GROUPS).split()[0].lower())
    fields = {
        "first": contact.first_name,
        "last": contact.last_name,
        "hostname": asset.hostname,
        "site": "the office",
        "client": contact.client.name,
        "app": rng.choice(_PACKAGES) if spec.slug == "software-install" else rng.choice(cat.APPS),
        "group": group or rng.choice(cat.GROUPS),
        "service": rng.choice(cat.SERVICES),
        "job": rng.choice(cat.BACKUP_JOBS),
        "other_first": rng.choice(cat.FIRST_NAMES),
        "other_last": rng.choice(cat.LAST_NAMES),
        "n": str(rng.randint(2, 9)),
    }
    if spec.slug == "group-change" and rng.random() < 0.5:
        summary = f"Please add me to the {group} group"  # the requester's own membership
    else:
        summary = rng.choice(spec.summaries).format_map(fields)
    if spec.slug == "account-unlock":
        from automation.tools.directory import Directory

        with Directory(slapd.config()) as directory:
            for _ in range(3):
                directory.check_password(contact.directory_username, "wrong-password")
    ticket = make_ticket(
        contact.client,
        summary=summary[:200],
        description=rng.choice(spec.descriptions).format_map(fields),
        external_id=f"bench-{spec.slug}-{number}",
        contact=contact,
        type=TicketType.objects.get(slug=spec.slug),
    )
    ticket.assets.add(asset)
    return ticket


def main() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("bench.playbooks needs DATABASE_URL=postgres://… (try `make bench`).")
    os.environ.setdefault("DEBUG", "true")
    per_type = int(os.environ.get("BENCH_PLAYBOOK_TICKETS", "20"))
    print(f"bench.playbooks: {per_type} tickets per quick-win type…", file=sys.stderr)
    measured = run_in_fresh_database("bench.playbooks", "bench_playbooks", per_type)
    print(json.dumps({"bench": "playbooks", **measured}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main()
