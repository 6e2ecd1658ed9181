"""Knowledge-base retrieval on the demo MSP: index build time, query latency, hit rate.

    python -m bench.kb           # BENCH_KB_QUERIES=200 queries (set it to change)

Needs DATABASE_URL pointing at PostgreSQL (`make bench` starts a throwaway cluster). In a
fresh database of its own, in a child process: migrate, seed the demo MSP (15,000 tickets),
then for `automation.tools.kb`:

1. cold index builds: the passage index of every client's scope, and the resolved-ticket
   index of every client;
2. warm latency (median, p95) of `kb_search`, `answer_with_citations` and `similar_resolved`
   on queries made of demo tickets' summaries, each in its ticket's client scope;
3. hit rate: for demo tickets of types some article is filed under, how often the top 3
   passages include such an article, from the summary alone and from summary and
   description, without and with the ticket-type boost; and how often a ticket of a type
   with no article gets any passage at all (answers it should not give).

The last line of output is one JSON object.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.child import run_in_fresh_database
from bench.ticket_list import _percentile

DEMO_TICKETS = 15_000
HIT_RATE_TICKETS = 2_000


def _timed_queries(queries: list[tuple[str, int | None, int | None]]) -> dict[str, Any]:
    from automation.tools.kb import answer_with_citations, kb_search, similar_resolved

    def each(call: Callable[[str, int | None, int | None], object]) -> dict[str, float]:
        samples = []
        for text, client_id, type_id in queries:
            started = time.perf_counter()
            call(text, client_id, type_id)
            samples.append((time.perf_counter() - started) * 1000)
        return {
            "median_ms": round(statistics.median(samples), 3),
            "p95_ms": round(_percentile(samples, 0.95), 3),
        }

    return {
        "queries": len(queries),
        "kb_search": each(lambda q, c, t: kb_search(q, client_id=c, ticket_type_id=t)),
        "kb_search_and_answer": each(
            lambda q, c, t: answer_with_citations(q, kb_search(q, client_id=c, ticket_type_id=t))
        ),
        "similar_resolved": each(lambda q, c, t: similar_resolved(q, client_id=c)),
    }


def _cold_builds(client_ids: list[int]) -> dict[str, Any]:
    from automation.tools.kb import kb_cache_clear, kb_search, similar_resolved

    kb_cache_clear()
    started = time.perf_counter()
    kb_search("warm up", client_id=None)
    general_ms = (time.perf_counter() - started) * 1000
    per_client, resolved = [], []
    for client_id in client_ids:
        started = time.perf_counter()
        kb_search("warm up", client_id=client_id)
        per_client.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        similar_resolved("warm up", client_id=client_id)
        resolved.append((time.perf_counter() - started) * 1000)
    return {
        "passage_index_general_ms": round(general_ms, 1),
        "passage_index_per_client_median_ms": round(statistics.median(per_client), 1),
        "passage_index_all_clients_ms": round(sum(per_client), 1),
        "resolved_index_per_client_median_ms": round(statistics.median(resolved), 1),
        "resolved_index_per_client_max_ms": round(max(resolved), 1),
        "resolved_index_all_clients_ms": round(sum(resolved), 1),
    }


def _hit_rates(tickets: list[Any], covered: dict[int, set[int]]) -> dict[str, Any]:
    """Share of tickets whose top 3 includes an article filed under the ticket's type."""
    from automation.tools.kb import answer_with_citations, kb_search

    result: dict[str, Any] = {"tickets": len(tickets)}
    for label, text_of in (
        ("summary", lambda t: t.summary),
        ("summary_and_description", lambda t: f"{t.summary}\n\n{t.description}"),
    ):
        for boost in (False, True):
            hits = firsts = answered = found = 0
            for ticket in tickets:
                text = text_of(ticket)
                type_id = ticket.type_id if boost else None
                passages = kb_search(text, client_id=ticket.client_id, ticket_type_id=type_id)
                right = [p.article_id in covered[ticket.type_id] for p in passages]
                found += bool(passages)
                firsts += any(right[:1])
                hits += any(right[:3])
                answered += answer_with_citations(text, passages) != ""
            key = f"{label}{'_type_boost' if boost else ''}"
            result[key] = {
                "top1_hit_rate": round(firsts / len(tickets), 3),
                "top3_hit_rate": round(hits / len(tickets), 3),
                "any_passage_rate": round(found / len(tickets), 3),
                "answered_rate": round(answered / len(tickets), 3),
            }
    return result


def _uncovered_rate(tickets: list[Any]) -> dict[str, Any]:
    """Tickets of types no article is filed under: how often a passage still comes back."""
    from automation.tools.kb import kb_search

    found = sum(bool(kb_search(t.summary, client_id=t.client_id)) for t in tickets)
    return {"tickets": len(tickets), "any_passage_rate": round(found / max(1, len(tickets)), 3)}


def _sample(rng: random.Random, tickets: list[Any]) -> list[Any]:
    return rng.sample(tickets, min(HIT_RATE_TICKETS, len(tickets)))


def measure(queries: int) -> dict[str, Any]:
    """Runs in the child process against its own fresh database."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from automation.tools.kb import passages_split
    from tickets.demo.seed import seed_demo
    from tickets.models import Client, KnowledgeArticle, Ticket

    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    seed_demo(seed=7, tickets=DEMO_TICKETS, months=6, now=now, progress=sys.stderr.isatty())
    with connection.cursor() as cursor:  # planner statistics, as a live database has them
        cursor.execute("ANALYZE")
    published = KnowledgeArticle.objects.filter(is_published=True)
    covered: dict[int, set[int]] = {}
    for article_id, type_id in published.values_list("id", "ticket_types"):
        if type_id is not None:
            covered.setdefault(type_id, set()).add(article_id)
    rng = random.Random(7)
    typed = list(
        Ticket.objects.filter(type__isnull=False, client__isnull=False).only(
            "id", "summary", "description", "client_id", "type_id"
        )
    )
    sample = rng.sample(typed, min(queries, len(typed)))
    with_articles = [t for t in typed if t.type_id in covered]
    without = [t for t in typed if t.type_id not in covered]
    return {
        "tickets": Ticket.objects.count(),
        "articles_published": published.count(),
        "passages": sum(len(passages_split(b)) for b in published.values_list("body", flat=True)),
        "build": _cold_builds(list(Client.objects.values_list("id", flat=True))),
        "latency": _timed_queries([(t.summary, t.client_id, t.type_id) for t in sample]),
        "hit_rate": _hit_rates(_sample(rng, with_articles), covered),
        "types_without_articles": _uncovered_rate(_sample(rng, without)),
    }


def main() -> None:
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    queries = int(os.environ.get("BENCH_KB_QUERIES", "200"))
    result: dict[str, Any] = {"bench": "kb"}
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print(f"bench.kb: demo MSP, {queries} queries…", file=sys.stderr)
        result.update(run_in_fresh_database("bench.kb", "bench_kb", queries))
    else:
        result["skipped"] = "needs DATABASE_URL=postgres://… (try `make bench`)"
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main()
