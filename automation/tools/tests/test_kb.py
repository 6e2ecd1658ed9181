"""Knowledge-base retrieval: passages for a client's scope, resolved tickets of the same
client, and extractive answers that cite only what they quote."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass

import pytest
from django.utils import timezone

from automation.tools.kb import (
    Passage,
    answer_with_citations,
    kb_search,
    passages_split,
    similar_resolved,
)
from tests.fixtures import World, make_staff, make_ticket
from tickets.models import (
    Client,
    KnowledgeArticle,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketType,
)
from tickets.services import ticket_event_record

VPN_QUESTION = "My VPN will not connect when I work from home"


@dataclass
class Kb:
    world: World
    vpn_wifi: TicketType
    printing: TicketType
    vpn: KnowledgeArticle
    wifi: KnowledgeArticle
    printer: KnowledgeArticle
    password: KnowledgeArticle
    acme_vpn: KnowledgeArticle
    globex_vpn: KnowledgeArticle
    draft: KnowledgeArticle


def _article(
    title: str, body: str, *types: TicketType, client: Client | None = None, published: bool = True
) -> KnowledgeArticle:
    moment = timezone.now() - dt.timedelta(days=30)
    article = KnowledgeArticle.objects.create(
        title=title,
        body=body,
        client=client,
        is_published=published,
        created_at=moment,
        updated_at=moment,
    )
    article.ticket_types.set(types)
    return article


@pytest.fixture
def kb(world: World) -> Kb:
    vpn_wifi = TicketType.objects.create(name="VPN and Wi-Fi", slug="vpn-wifi")
    printing = TicketType.objects.create(name="Printing", slug="printing")
    return Kb(
        world=world,
        vpn_wifi=vpn_wifi,
        printing=printing,
        vpn=_article(
            "Install and configure the VPN client",
            "1. Install the VPN client from Company Portal.\n"
            "2. Import the VPN profile from the documentation vault.\n"
            "3. Test a connection and open a file on the file server.",
            vpn_wifi,
        ),
        wifi=_article(
            "Join the office Wi-Fi with a company device",
            "Company devices get the Wi-Fi certificate from Intune. If the certificate is "
            "missing, sync the device in Company Portal.\n\nForget and rejoin the network.",
            vpn_wifi,
        ),
        printer=_article(
            "Clear a stuck print queue",
            "1. Stop the Print Spooler service.\n2. Delete the files in the spool folder.\n"
            "3. Start the spooler and send a test page.",
            printing,
        ),
        password=_article(
            "Reset a user's password",
            "Verify the caller by calling back on the number in the contact record. "
            "Reset the password in Active Directory and tick 'must change at next logon'.",
            world.ticket_type,
        ),
        acme_vpn=_article(
            "Acme Dental: VPN gateway details",
            "Use the 'Surgery' VPN profile; the gateway is vpn.acme-dental.example.",
            vpn_wifi,
            client=world.client,
        ),
        globex_vpn=_article(
            "Globex Legal: VPN gateway details",
            "Use the 'Chambers' VPN profile; the gateway is vpn.globex-legal.example.",
            vpn_wifi,
            client=world.other_client,
        ),
        draft=_article(
            "Split tunnelling for the VPN (draft)",
            "Enable split tunnelling so Teams traffic bypasses the tunnel.",
            vpn_wifi,
            published=False,
        ),
    )


def _titles(passages: list[Passage]) -> list[str]:
    return [p.title for p in passages]


@pytest.mark.django_db
def test_the_vpn_question_finds_the_vpn_article_first(kb: Kb) -> None:
    found = kb_search(VPN_QUESTION, client_id=None)
    assert found[0].article_id == kb.vpn.pk
    assert found[0].title == "Install and configure the VPN client"
    assert found[0].text.startswith("1. Install the VPN client from Company Portal.")
    assert found[0].url_path == f"/admin/tickets/knowledgearticle/{kb.vpn.pk}/change/"
    assert kb.printer.pk not in {p.article_id for p in found}


@pytest.mark.django_db
def test_it_never_returns_another_clients_article(kb: Kb) -> None:
    query = "VPN profile"
    acme = {p.article_id for p in kb_search(query, client_id=kb.world.client.pk, k=10)}
    globex = {p.article_id for p in kb_search(query, client_id=kb.world.other_client.pk, k=10)}
    nobody = {p.article_id for p in kb_search(query, client_id=None, k=10)}
    assert kb.acme_vpn.pk in acme and kb.globex_vpn.pk not in acme
    assert kb.globex_vpn.pk in globex and kb.acme_vpn.pk not in globex
    assert kb.acme_vpn.pk not in nobody and kb.globex_vpn.pk not in nobody
    assert kb.vpn.pk in acme & globex & nobody  # an article for every client serves all


@pytest.mark.django_db
def test_an_unpublished_article_is_never_returned(kb: Kb) -> None:
    query = "split tunnelling for Teams traffic"
    assert kb.draft.pk not in {p.article_id for p in kb_search(query, client_id=None, k=10)}

    kb.draft.is_published = True
    kb.draft.save(update_fields=["is_published"])
    assert kb_search(query, client_id=None)[0].article_id == kb.draft.pk


@pytest.mark.django_db
def test_the_ticket_type_boost_changes_the_ranking(kb: Kb) -> None:
    query = "company portal"  # in the VPN steps and the Wi-Fi steps alike
    plain = kb_search(query, client_id=None)
    assert _titles(plain)[:2] == [kb.wifi.title, kb.vpn.title]

    kb.vpn.ticket_types.set([kb.printing])
    boosted = kb_search(query, client_id=None, ticket_type_id=kb.printing.pk)
    assert _titles(boosted)[:2] == [kb.vpn.title, kb.wifi.title]
    assert [p.covers_type for p in boosted[:2]] == [True, False]
    assert not any(p.covers_type for p in plain)
    assert boosted[0].score == pytest.approx(1.5 * plain[1].score, abs=1e-3)


@pytest.mark.django_db
def test_the_index_refreshes_after_an_article_edit(kb: Kb) -> None:
    query = "replace the toner cartridge"
    assert kb_search(query, client_id=None) == []

    kb.printer.body += "\n4. If pages are faint, replace the toner cartridge."
    kb.printer.updated_at = timezone.now()
    kb.printer.save()
    assert kb_search(query, client_id=None)[0].article_id == kb.printer.pk

    # An edit that forgot to move updated_at is still seen (the body's length changed).
    kb.printer.body = "Order a new drum unit when the status light is amber."
    kb.printer.save()
    assert kb_search(query, client_id=None) == []
    assert kb_search("drum unit amber light", client_id=None)[0].article_id == kb.printer.pk


@pytest.mark.django_db
def test_an_answer_cites_only_what_it_quotes(kb: Kb) -> None:
    passages = kb_search(VPN_QUESTION, client_id=kb.world.client.pk)
    answer = answer_with_citations(VPN_QUESTION, passages)

    body, sources = answer.split("\n\nSources:\n")
    lines = body.splitlines()
    assert lines == [
        "Use the 'Surgery' VPN profile; the gateway is vpn.acme-dental.example. [1]",
        "Install the VPN client from Company Portal. [2]",
        "Import the VPN profile from the documentation vault. [2]",
    ]
    numbers = {}
    for source in sources.splitlines():
        number, title = re.fullmatch(r"\[(\d)\] (.+)", source).groups()  # type: ignore[union-attr]
        numbers[number] = next(p for p in passages if p.title == title)
    for line in lines:
        sentence, number = re.fullmatch(r"(.+) \[(\d)\]", line).groups()  # type: ignore[union-attr]
        assert sentence in numbers[number].text  # quoted word for word from the cited article
    cited = {re.fullmatch(r".+ \[(\d)\]", line).group(1) for line in lines}  # type: ignore[union-attr]
    assert cited == set(numbers)  # no source listed that is not quoted
    assert kb.globex_vpn.title not in answer and kb.printer.title not in answer


@pytest.mark.django_db
def test_nothing_relevant_gives_no_passages_and_no_answer(kb: Kb) -> None:
    question = "The coffee machine in reception leaks water"
    assert kb_search(question, client_id=kb.world.client.pk) == []
    assert answer_with_citations(question, []) == ""
    weak = Passage(kb.vpn.pk, kb.vpn.title, "Install the VPN client.", 0.05, "/x/")
    assert answer_with_citations(VPN_QUESTION, [weak]) == ""
    wordless = Passage(kb.vpn.pk, kb.vpn.title, "1. 2. 3.", 0.9, "/x/")
    assert answer_with_citations(VPN_QUESTION, [wordless]) == ""


@pytest.mark.django_db
def test_ticket_text_is_only_data(kb: Kb) -> None:
    vpn = kb_search(VPN_QUESTION, client_id=None)
    for hostile in ("(.*)+[", "\\b{0}%s ${x} {{y}}", "", "   ", "\x00 ' OR 1=1 --"):
        assert kb_search(hostile, client_id=None) == []
        assert similar_resolved(hostile, client_id=kb.world.client.pk) == []
        answer = answer_with_citations(hostile, vpn)  # quotes the best passage, never the text
        assert answer.startswith("Install the VPN client from Company Portal. [1]\n")
    found = kb_search("VPN (.*)+[ won't connect __import__('os')", client_id=None)
    assert found[0].article_id == kb.vpn.pk


def _resolved(
    client: Client, summary: str, resolution: str, staff: StaffMember, key: str
) -> Ticket:
    opened = timezone.now() - dt.timedelta(days=3)
    ticket = make_ticket(
        client,
        summary=summary,
        external_id=key,
        description="Started this morning after the update.",
        opened_at=opened,
        status=Ticket.Status.RESOLVED,
        resolved_at=opened + dt.timedelta(hours=5),
    )
    human = TicketEvent.ActorKind.HUMAN
    for kind, hours, body in (
        (TicketEvent.Kind.NOTE, 1, "Checked the logs, nothing obvious."),
        (TicketEvent.Kind.REPLY, 4, resolution),
        (TicketEvent.Kind.NOTE, 4.5, "Waiting for the requester to confirm."),
    ):
        ticket_event_record(
            ticket=ticket,
            kind=kind,
            actor_kind=human,
            actor_staff=staff,
            body=body,
            occurred_at=opened + dt.timedelta(hours=hours),
        )
    ticket_event_record(
        ticket=ticket,
        kind=TicketEvent.Kind.STATUS_CHANGED,
        actor_kind=human,
        actor_staff=staff,
        new_value=Ticket.Status.RESOLVED,
        occurred_at=ticket.resolved_at,
    )
    ticket_event_record(  # after it was resolved: not the resolution
        ticket=ticket,
        kind=TicketEvent.Kind.REPLY,
        actor_kind=human,
        actor_staff=staff,
        body="Glad it is working again!",
        occurred_at=opened + dt.timedelta(hours=6),
    )
    return ticket


@pytest.mark.django_db
def test_similar_resolved_tickets_come_from_the_same_client_with_their_resolution(
    kb: Kb,
) -> None:
    staff = make_staff("tess", StaffMember.Role.TECHNICIAN, all_clients=True)
    acme, globex = kb.world.client, kb.world.other_client
    ours = _resolved(acme, "VPN drops every hour", "Updated the VPN client to 5.2.", staff, "R-1")
    _resolved(acme, "Printer jams on tray 2", "Replaced the pickup roller.", staff, "R-2")
    theirs = _resolved(
        globex, "VPN drops every hour", "Moved them to the new gateway.", staff, "R-3"
    )
    make_ticket(acme, summary="VPN drops again", external_id="R-4")  # open: not resolved

    found = similar_resolved("The VPN keeps dropping every hour", client_id=acme.pk)
    assert [(s.ticket_id, s.summary, s.resolution) for s in found] == [
        (ours.pk, "VPN drops every hour", "Updated the VPN client to 5.2.")
    ]
    assert found[0].score > 0.15
    other = similar_resolved("The VPN keeps dropping every hour", client_id=globex.pk)
    assert [s.ticket_id for s in other] == [theirs.pk]
    assert similar_resolved("VPN drops", client_id=None) == []
    assert similar_resolved("VPN drops", client_id=acme.pk, exclude_ticket_id=ours.pk) == []


@pytest.mark.django_db
def test_similar_resolved_sees_a_ticket_resolved_after_the_first_search(kb: Kb) -> None:
    staff = make_staff("tess", StaffMember.Role.TECHNICIAN, all_clients=True)
    acme = kb.world.client
    assert similar_resolved("Outlook search finds nothing", client_id=acme.pk) == []
    ticket = _resolved(acme, "Outlook search finds nothing", "Rebuilt the index.", staff, "R-9")
    assert [s.ticket_id for s in similar_resolved("Outlook search", client_id=acme.pk)] == [
        ticket.pk
    ]


def test_a_long_article_is_split_into_overlapping_passages_of_whole_sentences() -> None:
    sentences = [
        f"Step {n} checks the {word} before anything else."
        for n, word in enumerate(
            ["router", "switch", "firewall", "cable", "port", "lease", "gateway", "tunnel"] * 4
        )
    ]
    passages = passages_split("\n".join(sentences))

    assert len(passages) == 3  # 12 sentences, then 11 new, then the last 9
    assert all(len(p.split()) <= 100 for p in passages)
    for before, after in itertools.pairwise(passages):
        assert after.splitlines()[0] == before.splitlines()[-1]  # the seam is in both
    assert {line for p in passages for line in p.splitlines()} == set(sentences)


def test_one_long_sentence_is_cut_into_overlapping_pieces() -> None:
    words = [f"w{n}" for n in range(200)]
    passages = passages_split(" ".join(words))
    assert [p.split()[0] for p in passages] == ["w0", "w90"]
    assert [len(p.split()) for p in passages] == [120, 110]
