"""Knowledge-base retrieval with a local model: no network, no API key.

Three reads for the resolution playbooks and the hand-over brief:

- `kb_search` finds passages of published articles a client may see (its own and the ones for
  every client, never another client's), with the article's title for citing;
- `similar_resolved` finds the same client's resolved tickets that read like a new one, with
  the reply or note that resolved them;
- `answer_with_citations` quotes the best sentences of those passages, each with a "[n]"
  marker and a list of sources, or returns "" so the playbook hands the ticket over instead.

The model is TF-IDF (word and word-pair terms, a light stemmer) with cosine similarity: a
score in 0…1 means one threshold works for any size of knowledge base, which BM25's unbounded
scores do not give. Indexes are built per client scope on first use, kept for the life of the
process, and rebuilt when a cheap aggregate over the articles (or that client's resolved
tickets) changes. Query text is ticket text, so it is treated purely as data: it is only ever
tokenised by fixed patterns, never compiled into a pattern or evaluated.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Coalesce, Length
from django.urls import reverse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from automation.classifier import clean_text
from tickets.models import KnowledgeArticle, Ticket, TicketEvent

# Cosine similarity below which a passage is not about the question: a floor for recall,
# not a guarantee of relevance. On the demo MSP (bench/kb.py) the right article's score has a
# median of 0.29 (a quarter under 0.18), but ticket types no article is filed under still
# reach a median of 0.18 on some shared word; a playbook that must not answer off-topic
# should also require `Passage.covers_type`.
MIN_SCORE = 0.12
SIMILAR_MIN_SCORE = 0.15
# An article filed under the ticket's type is worth half as much again; only a tie-breaker
# among articles the text already matches, never a reason to return one it does not.
TYPE_BOOST = 1.5
PASSAGE_WORDS = 100  # a passage grows to about this many words…
PASSAGE_MAX_WORDS = 120  # …and a longer sentence is cut into pieces of this many…
PASSAGE_OVERLAP_WORDS = 30  # …overlapping by this many, as is the last short sentence.
ANSWER_SENTENCES = 3
ANSWER_PASSAGES = 3
# The most recent resolved tickets of one client that `similar_resolved` reads.
SIMILAR_HISTORY = 5_000

_EXTRA_STOP_WORDS = {"please", "help", "hi", "hello", "thanks", "thank", "regards", "cheers"}
_STOP_WORDS = frozenset(ENGLISH_STOP_WORDS | _EXTRA_STOP_WORDS)
_TOKEN = re.compile(r"[a-z0-9]+")
_JOINED_WORDS = (("wi-fi", "wifi"), ("e-mail", "email"), ("log-in", "login"), ("sign-in", "signin"))
# After ". ", "! " or "? " before a capital or digit, but not after a list number ("2. ").
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!^\d[.])(?<!^\d\d[.])\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z]{2,}")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_LIST_MARKER = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•])\s+")


@dataclass(frozen=True, slots=True)
class Passage:
    """A piece of a published article; `title` and `url_path` are what a citation shows.
    `covers_type`: the article is filed under the ticket type the search was for, so a
    playbook can insist on that before answering."""

    article_id: int
    title: str
    text: str
    score: float
    url_path: str
    covers_type: bool = False


@dataclass(frozen=True, slots=True)
class SimilarTicket:
    """A resolved ticket of the same client and what resolved it ("" when nothing was
    written before it was resolved)."""

    ticket_id: int
    summary: str
    resolution: str
    score: float


def kb_search(
    query: str,
    *,
    client_id: int | None,
    ticket_type_id: int | None = None,
    k: int = 5,
    min_score: float = MIN_SCORE,
) -> list[Passage]:
    """The `k` best passages for `query` among published articles for `client_id` and for
    every client (`client_id=None`: only the latter), best first. A passage must reach
    `min_score` on its text alone; articles filed under `ticket_type_id` then rank higher
    (`Passage.score` includes that boost)."""
    index = _kb_index(client_id)
    raw = index.similarities(query)
    if raw is None:
        return []
    covers = index.covers(ticket_type_id)
    boosted = raw * np.where(covers, TYPE_BOOST, 1.0)
    order = np.argsort(-boosted, kind="stable")
    chosen = [i for i in order if raw[i] > 0 and raw[i] >= min_score][:k]
    return [index.rows[i].passage(float(boosted[i]), bool(covers[i])) for i in chosen]


def similar_resolved(
    text: str,
    *,
    client_id: int | None,
    k: int = 5,
    min_score: float = SIMILAR_MIN_SCORE,
    exclude_ticket_id: int | None = None,
) -> list[SimilarTicket]:
    """The `k` resolved (or closed) tickets of `client_id` whose summary and description read
    most like `text`, best first. Only that client's own tickets: a ticket without a client
    has no history to compare with, so `client_id=None` finds nothing."""
    if client_id is None:
        return []
    index = _ticket_index(client_id)
    scores = index.similarities(text)
    if scores is None:
        return []
    order = np.argsort(-scores, kind="stable")
    found: list[SimilarTicket] = []
    for i in order:
        row = index.rows[i]
        if scores[i] <= 0 or scores[i] < min_score or len(found) == k:
            break
        if row.ticket_id != exclude_ticket_id:
            found.append(row.similar(float(scores[i])))
    return found


def answer_with_citations(
    question: str, passages: Sequence[Passage], *, min_score: float = MIN_SCORE
) -> str:
    """An extractive answer: up to three sentences quoted word for word from the top
    passages, each followed by the "[n]" of its article, then "Sources:" listing exactly the
    articles quoted. "" when no passage reaches `min_score`, so the caller hands over rather
    than answers. Sentences come from the best passage, or from others when they share terms
    with the question; they are shown in their articles' order so steps read as steps."""
    usable = [p for p in passages[:ANSWER_PASSAGES] if p.score >= min_score and p.score > 0]
    if not usable:
        return ""
    candidates = list(_candidate_sentences(usable))
    scores = _sentence_scores(question, [c.text for c in candidates])
    top = max(p.score for p in usable)
    ranked = sorted(
        (
            (scores[i] + 0.25 * c.passage.score / top, i)
            for i, c in enumerate(candidates)
            if scores[i] > 0 or c.rank == 0
        ),
        key=lambda pair: (-pair[0], pair[1]),
    )
    chosen = sorted(i for _, i in ranked[:ANSWER_SENTENCES])
    return _format_answer([candidates[i] for i in chosen]) if chosen else ""


def kb_cache_clear() -> None:
    """Forget every index, so the next call rebuilds (for benchmarks timing a cold build)."""
    with _LOCK:
        _KB_CACHE.stamp = None
        _KB_CACHE.indexes.clear()
        _TICKET_CACHE.clear()


def terms(text: str) -> list[str]:
    """The terms the model reads: lower-case words without stop words, lightly stemmed, and
    each pair of neighbours, so "print queue" counts beyond "print" and "queue"."""
    text = clean_text(text)
    for joined, word in _JOINED_WORDS:
        text = text.replace(joined, word)
    words = [_stem(w) for w in _TOKEN.findall(text) if len(w) > 1 and w not in _STOP_WORDS]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def _stem(word: str) -> str:
    """Folds the endings that most often split one word in tickets and articles
    (printers/printer, connected/connecting/connect, expired/expire); not a real stemmer."""
    if word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def passages_split(body: str) -> list[str]:
    """An article body as passages of about PASSAGE_WORDS words, whole sentences where
    possible, each starting with the previous passage's last sentence when that is short, so
    an answer spanning the seam is found in one passage."""
    passages: list[str] = []
    current: list[tuple[str, str]] = []
    words = 0
    for unit in _units(body):
        size = len(unit[1].split())
        if current and words + size > PASSAGE_WORDS:
            passages.append(_join(current))
            last = current[-1]
            carried = len(last[1].split()) <= PASSAGE_OVERLAP_WORDS
            current, words = ([last], len(last[1].split())) if carried else ([], 0)
        current.append(unit)
        words += size
    if current:
        passages.append(_join(current))
    return passages


def _units(body: str) -> Iterator[tuple[str, str]]:
    """(separator before it, text) for each sentence of `body`; a sentence longer than
    PASSAGE_MAX_WORDS comes as overlapping pieces."""
    separator = ""
    for paragraph in _PARAGRAPH_BREAK.split(body.strip()):
        for line in paragraph.splitlines():
            for sentence in _SENTENCE_END.split(line.strip()):
                for piece in _pieces(sentence.strip()):
                    yield separator, piece
                    separator = " "
            separator = "\n" if separator else separator
        separator = "\n\n" if separator else separator


def _pieces(sentence: str) -> Iterator[str]:
    words = sentence.split()
    if not words:
        return
    step = PASSAGE_MAX_WORDS - PASSAGE_OVERLAP_WORDS
    for start in range(0, max(1, len(words) - PASSAGE_OVERLAP_WORDS), step):
        yield " ".join(words[start : start + PASSAGE_MAX_WORDS])


def _join(units: Sequence[tuple[str, str]]) -> str:
    return units[0][1] + "".join(separator + text for separator, text in units[1:])


def _sentences(text: str) -> list[str]:
    """The sentences of a passage, as `_units` cut them."""
    return [piece for _, piece in _units(text)]


@dataclass(frozen=True, slots=True)
class _Candidate:
    rank: int
    passage: Passage
    text: str


def _candidate_sentences(passages: Sequence[Passage]) -> Iterator[_Candidate]:
    """Each sentence once (neighbouring passages of one article share a sentence), without
    its list number, if it has a word to quote."""
    seen: set[tuple[int, str]] = set()
    for rank, passage in enumerate(passages):
        for sentence in _sentences(passage.text):
            text = _LIST_MARKER.sub("", sentence).strip()
            if _WORD.search(text) and (passage.article_id, text) not in seen:
                seen.add((passage.article_id, text))
                yield _Candidate(rank, passage, text)


def _sentence_scores(question: str, sentences: Sequence[str]) -> list[float]:
    """Cosine similarity of each sentence to the question, weighted by how rare a term is
    among these sentences."""
    vectorizer = TfidfVectorizer(analyzer=terms, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform(sentences)
    except ValueError:  # no sentence has a single term
        return [0.0] * len(sentences)
    similarities = matrix @ vectorizer.transform([question]).T
    return [float(value) for value in similarities.toarray().ravel()]


def _format_answer(chosen: Sequence[_Candidate]) -> str:
    numbers: dict[int, int] = {}
    lines = []
    for candidate in chosen:
        number = numbers.setdefault(candidate.passage.article_id, len(numbers) + 1)
        lines.append(f"{candidate.text} [{number}]")
    titles = {c.passage.article_id: c.passage.title for c in chosen}
    sources = [f"[{number}] {titles[article]}" for article, number in numbers.items()]
    return "\n".join(lines) + "\n\nSources:\n" + "\n".join(sources)


@dataclass(frozen=True, slots=True)
class _PassageRow:
    article_id: int
    title: str
    text: str
    url_path: str
    types: frozenset[int]

    def passage(self, score: float, covers_type: bool) -> Passage:
        return Passage(
            self.article_id, self.title, self.text, round(score, 4), self.url_path, covers_type
        )


@dataclass(frozen=True, slots=True)
class _TicketRow:
    ticket_id: int
    summary: str
    resolution: str

    def similar(self, score: float) -> SimilarTicket:
        return SimilarTicket(self.ticket_id, self.summary, self.resolution, round(score, 4))


@dataclass
class _Index:
    """A TF-IDF matrix over documents; `vectorizer` is None when there is nothing to search."""

    vectorizer: Any
    matrix: Any

    @classmethod
    def fit(cls, documents: Sequence[str]) -> _Index:
        if not documents:
            return cls(None, None)
        vectorizer = TfidfVectorizer(analyzer=terms, sublinear_tf=True)
        try:
            return cls(vectorizer, vectorizer.fit_transform(documents))
        except ValueError:  # not one term in any document
            return cls(None, None)

    def similarities(self, query: str) -> Any:
        """Cosine similarity of `query` to every document, or None when nothing is indexed."""
        if self.vectorizer is None:
            return None
        return (self.matrix @ self.vectorizer.transform([query]).T).toarray().ravel()


@dataclass
class _PassageIndex(_Index):
    rows: list[_PassageRow] = field(default_factory=list)

    def covers(self, ticket_type_id: int | None) -> Any:
        return np.array([ticket_type_id in row.types for row in self.rows], dtype=bool)


@dataclass
class _TicketIndex(_Index):
    rows: list[_TicketRow] = field(default_factory=list)


@dataclass
class _KbCache:
    stamp: tuple[object, ...] | None = None
    indexes: dict[int | None, _PassageIndex] = field(default_factory=dict)


_LOCK = threading.Lock()
_KB_CACHE = _KbCache()
_TICKET_CACHE: dict[int, tuple[tuple[object, ...], _TicketIndex]] = {}


def _kb_index(client_id: int | None) -> _PassageIndex:
    """The passage index of what `client_id` may see. Each scope has its own index, so term
    weights never depend on another client's articles."""
    stamp = _kb_stamp()
    with _LOCK:
        if stamp != _KB_CACHE.stamp:
            _KB_CACHE.stamp, _KB_CACHE.indexes = stamp, {}
        index = _KB_CACHE.indexes.get(client_id)
    if index is None:
        index = _kb_index_build(client_id)
        with _LOCK:
            if _KB_CACHE.stamp == stamp:
                _KB_CACHE.indexes[client_id] = index
    return index


def _kb_stamp() -> tuple[object, ...]:
    """Changes whenever an article is added, removed, published or unpublished, moved to
    another client, retitled or re-filed, or edited (its updated_at or its length): two
    aggregate queries, cheap enough for every search."""
    articles = KnowledgeArticle.objects.aggregate(
        count=Count("id"),
        published=Count("id", filter=Q(is_published=True)),
        updated=Max("updated_at"),
        last=Max("id"),
        clients=Sum("client"),
        chars=Sum(Length("title") + Length("body")),
    )
    links = KnowledgeArticle.ticket_types.through.objects.aggregate(
        count=Count("id"), last=Max("id"), types=Sum("tickettype")
    )
    return (*articles.values(), *links.values())


def _kb_index_build(client_id: int | None) -> _PassageIndex:
    scope = Q(client__isnull=True)
    if client_id is not None:
        scope |= Q(client_id=client_id)
    articles = list(
        KnowledgeArticle.objects.filter(scope, is_published=True)
        .order_by("title", "id")
        .values_list("id", "title", "body")
    )
    types: dict[int, set[int]] = {}
    links = KnowledgeArticle.ticket_types.through.objects.filter(
        knowledgearticle_id__in=[a[0] for a in articles]
    ).values_list("knowledgearticle_id", "tickettype_id")
    for article_id, type_id in links:
        types.setdefault(article_id, set()).add(type_id)
    rows = [
        _PassageRow(
            article_id,
            title,
            text,
            reverse("admin:tickets_knowledgearticle_change", args=[article_id]),
            frozenset(types.get(article_id, ())),
        )
        for article_id, title, body in articles
        for text in passages_split(body) or [title]
    ]
    # The title twice: it names what the article is about better than any step does.
    fitted = _Index.fit([f"{r.title}\n{r.title}\n{r.text}" for r in rows])
    return _PassageIndex(fitted.vectorizer, fitted.matrix, rows)


def _resolved_tickets(client_id: int) -> Any:
    return Ticket.objects.filter(client_id=client_id, status__in=Ticket.DONE_STATUSES)


def _ticket_stamp(client_id: int) -> tuple[object, ...]:
    totals = _resolved_tickets(client_id).aggregate(
        count=Count("id"), updated=Max("updated_at"), last=Max("id")
    )
    return tuple(totals.values())


def _ticket_index(client_id: int) -> _TicketIndex:
    stamp = _ticket_stamp(client_id)
    with _LOCK:
        cached = _TICKET_CACHE.get(client_id)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    index = _ticket_index_build(client_id)
    with _LOCK:
        _TICKET_CACHE[client_id] = (stamp, index)
    return index


def _ticket_index_build(client_id: int) -> _TicketIndex:
    """The client's most recent resolved tickets with their resolution."""
    tickets = list(
        _resolved_tickets(client_id)
        .annotate(done_at=Coalesce(F("resolved_at"), F("closed_at")))
        .filter(done_at__isnull=False)
        .order_by("-done_at", "-id")
        .values_list("id", "summary", "description", "done_at")[:SIMILAR_HISTORY]
    )
    resolutions = _resolutions(client_id, {row[0]: row[3] for row in tickets})
    rows = [_TicketRow(id_, summary, resolutions.get(id_, "")) for id_, summary, _, _ in tickets]
    fitted = _Index.fit([f"{summary}\n{summary}\n{text}" for _, summary, text, _ in tickets])
    return _TicketIndex(fitted.vectorizer, fitted.matrix, rows)


def _resolutions(client_id: int, done_at: dict[int, dt.datetime]) -> dict[int, str]:
    """What resolved each ticket: its last reply to the requester at or before it was done,
    else its last internal note. One pass over the client's events (a correlated subquery
    per ticket took seconds for a large client)."""
    replies: dict[int, str] = {}
    notes: dict[int, str] = {}
    events = (
        TicketEvent.objects.filter(
            ticket__client_id=client_id,
            ticket__status__in=Ticket.DONE_STATUSES,
            kind__in=[TicketEvent.Kind.REPLY, TicketEvent.Kind.NOTE],
        )
        .exclude(body="")
        .order_by("occurred_at", "id")
        .values_list("ticket_id", "kind", "occurred_at", "body")
    )
    for ticket_id, kind, occurred_at, body in events.iterator(chunk_size=5_000):
        done = done_at.get(ticket_id)
        if done is not None and occurred_at <= done:
            (replies if kind == TicketEvent.Kind.REPLY else notes)[ticket_id] = body
    return {**notes, **replies}
