"""The data-hygiene report finds exactly the problems the demo plants on purpose: each check
lists every planted record and nothing else, and the weekly counts agree."""

from __future__ import annotations

import datetime as dt

import pytest

from metrics.facts import facts_rebuild
from metrics.hygiene import CHECKS, CHECKS_BY_KEY, hygiene_report_generate
from tickets.demo import catalogue as cat
from tickets.demo.generate import PLANTED_TICKETS_FROM, build_plan
from tickets.demo.hygiene import CHECK_KEYS, contact_key, hygiene_manifest, mapping_key
from tickets.demo.seed import seed_demo
from tickets.models import (
    Asset,
    Client,
    Contact,
    KnowledgeArticle,
    StaffMember,
    Ticket,
    TicketType,
)
from tickets.psa.models import PsaMapping

NOW = dt.datetime(2025, 6, 30, 17, 0, tzinfo=dt.UTC)
TICKETS = 300
MONTHS = 6
INTAKE_WINDOW = dt.timedelta(days=30)


def natural_key(record: object) -> str:
    """A listed record by the key the manifest names it with."""
    if isinstance(record, Contact):
        return contact_key(record.client.identifier, record.directory_username, record.email)
    if isinstance(record, Ticket):
        return record.external_id
    if isinstance(record, Asset):
        return record.hostname
    if isinstance(record, Client):
        return record.identifier
    if isinstance(record, TicketType):
        return record.slug
    if isinstance(record, KnowledgeArticle):
        return record.title
    if isinstance(record, StaffMember):
        return record.user.username
    if isinstance(record, PsaMapping):
        return mapping_key(record.field, record.external_id)
    raise TypeError(f"no natural key for {record!r}")


def test_the_manifest_names_every_check_and_plants_a_handful_for_each() -> None:
    assert set(CHECK_KEYS) == set(CHECKS_BY_KEY)
    for seed in (7, 11, 23):
        plan = build_plan(seed=seed, now=NOW, months=MONTHS, tickets=TICKETS)
        manifest = hygiene_manifest(plan)
        assert set(manifest) == set(CHECKS_BY_KEY)
        assert all(1 <= len(keys) <= 20 for keys in manifest.values()), manifest
        assert manifest == hygiene_manifest(build_plan(seed=seed, now=NOW, months=6, tickets=300))
        planted = [gap.opened_at for gap in plan.intake_gaps]
        assert all(NOW - INTAKE_WINDOW < at < NOW for at in planted)


def test_a_draft_never_leaves_a_type_without_an_article() -> None:
    for seed in range(30):
        plan = build_plan(seed=seed, now=NOW, months=MONTHS, tickets=0)
        documented = {slug for a in plan.articles if a.is_published for slug in a.types}
        missing = {spec.slug for spec in plan.types} - documented
        assert missing == set(cat.TYPES_WITHOUT_ARTICLES), seed


def test_a_small_history_plants_no_tickets() -> None:
    plan = build_plan(seed=7, now=NOW, months=MONTHS, tickets=PLANTED_TICKETS_FROM - 1)
    manifest = hygiene_manifest(plan)
    assert plan.guidance is None and not plan.intake_gaps
    assert not manifest["tickets_client_unmatched"] | manifest["tickets_asset_unmatched"]


@pytest.mark.parametrize("seed", [7, 11])
def test_the_report_finds_what_the_demo_planted_and_nothing_else(db: None, seed: int) -> None:
    seed_demo(seed=seed, tickets=TICKETS, months=MONTHS, now=NOW, progress=False)
    facts_rebuild()  # a quoted article is stale once its ticket's facts show the reopen
    manifest = hygiene_manifest(build_plan(seed=seed, now=NOW, months=MONTHS, tickets=TICKETS))

    found = {check.key: {natural_key(r) for r in check.records(NOW)} for check in CHECKS}

    for key, expected in manifest.items():
        assert found[key] == expected, (
            f"{key}: missed {sorted(expected - found[key])}, "
            f"unplanned {sorted(found[key] - expected)}"
        )
    report = hygiene_report_generate(now=NOW)
    assert report.counts == {key: len(keys) for key, keys in manifest.items()}
