"""Sync: page a PSA's tickets by last-updated watermark into the inbox.

Each request asks for tickets updated at or after the watermark, oldest first, and the
watermark moves to the newest ticket of every page stored. A ticket updated while the sync
runs moves to the end of the order and is still read; a failure (a 429 that asks for a long
wait, repeated 5xx, time-outs, the Autotask budget) leaves the watermark at the last page
stored, and the next run resumes from it — nothing is skipped, and re-reading a version we
hold is a no-op (its inbox key exists). Only when a whole page shares one last-updated time
does the sync follow the API's own next-page cursor.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tickets.intake.inbox import inbox_store_many
from tickets.psa.adapters import client_for
from tickets.psa.base import Page, PsaClient, PsaError
from tickets.psa.intake import ticket_arrivals
from tickets.psa.models import PsaConnection, PsaSyncRun

log = logging.getLogger(__name__)
MAX_RETRIES = 5
LONGEST_WAIT = 120.0  # a Retry-After beyond this pauses the connection instead of sleeping
BUSY_AFTER = dt.timedelta(minutes=3)  # a running sync without a heartbeat this long is dead
BUDGET_CHECK_EVERY = 25  # requests between checks of Autotask's threshold


class SyncStopped(Exception):
    """The run must stop; the message says why (for the run and the connection)."""

    def __init__(self, message: str, *, pause_seconds: float | None = None) -> None:
        super().__init__(message)
        self.pause_seconds = pause_seconds


def psa_sync(
    connection: PsaConnection,
    *,
    full: bool = False,
    progress: Callable[[PsaSyncRun], None] | None = None,
    budget_seconds: float | None = None,
    sleep: Callable[[float], Any] = time.sleep,
) -> PsaSyncRun:
    """Run one sync (full: from the beginning, else from the watermark). Returns the run —
    done, or failed with the reason. `budget_seconds` ends a long run early (done, with the
    watermark where it got; the next run goes on)."""
    run = _start(connection, full=full)
    if run.status != PsaSyncRun.Status.RUNNING:
        return run
    client = client_for(connection)
    started = time.monotonic()
    try:
        run.total = _retrying(lambda: client.count_updated_since(run.watermark_from), run, sleep)
        run.save(update_fields=["total"])
        _pages(connection, run, client, progress, started, budget_seconds, sleep)
    except (SyncStopped, PsaError) as error:
        pause = error.pause_seconds if isinstance(error, SyncStopped) else None
        _finish(connection, run, client, error=str(error), pause_seconds=pause)
    except Exception as error:
        _finish(connection, run, client, error=f"Unexpected error: {error!r}")
        raise
    else:
        _finish(connection, run, client, error="")
    finally:
        client.close()
    if progress is not None:
        progress(run)
    return run


def _start(connection: PsaConnection, *, full: bool) -> PsaSyncRun:
    """A new run, unless one is alive for this connection (then that one is returned) or
    the connection is paused (a failed run saying until when)."""
    now = timezone.now()
    with transaction.atomic():
        locked = PsaConnection.objects.select_for_update().get(pk=connection.pk)
        alive = locked.syncs.filter(status=PsaSyncRun.Status.RUNNING).first()
        if alive is not None and alive.heartbeat_at and now - alive.heartbeat_at < BUSY_AFTER:
            return alive
        if alive is not None:
            alive.status, alive.finished_at = PsaSyncRun.Status.FAILED, now
            alive.error = "The worker running this sync stopped; the next run resumed."
            alive.save(update_fields=["status", "finished_at", "error"])
        run = PsaSyncRun(
            connection=locked,
            full=full,
            started_at=now,
            heartbeat_at=now,
            watermark_from=None if full else locked.watermark,
        )
        if locked.paused_until and locked.paused_until > now:
            run.status, run.finished_at = PsaSyncRun.Status.FAILED, now
            run.error = f"Paused until {locked.paused_until:%H:%M:%S} UTC: {locked.last_error}"
        run.save()
    return run


def _pages(
    connection: PsaConnection,
    run: PsaSyncRun,
    client: PsaClient,
    progress: Callable[[PsaSyncRun], None] | None,
    started: float,
    budget_seconds: float | None,
    sleep: Callable[[float], Any],
) -> None:
    since, cursor = run.watermark_from, None
    checked_at = -BUDGET_CHECK_EVERY
    while True:
        if client.requests_made - checked_at >= BUDGET_CHECK_EVERY:
            _within_budget(client, connection)
            checked_at = client.requests_made
        request = partial(client.tickets_page, updated_since=since, cursor=cursor)
        page: Page = _retrying(request, run, sleep)
        newest = _store(connection, run, client, page)
        if progress is not None:
            progress(run)
        if page.next_cursor is None:
            return
        if newest is not None and (since is None or newest > since):
            since, cursor = newest, None  # ask again from the new watermark
        else:
            cursor = page.next_cursor  # a whole page at one time: the API's own paging
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            run.error = "Time budget spent; the next run goes on from the watermark."
            return


def _store(connection: PsaConnection, run: PsaSyncRun, client: PsaClient, page: Page) -> Any:
    """Store a page and move the watermark past it, in one transaction."""
    arrivals, newest = ticket_arrivals(connection, page.items, via="sync")
    with transaction.atomic():
        stored = inbox_store_many(arrivals)
        run.fetched += len(page.items)
        run.stored += stored
        run.pages += 1
        run.requests = client.requests_made
        run.heartbeat_at = timezone.now()
        if newest is not None and (connection.watermark is None or newest > connection.watermark):
            connection.watermark = newest
            PsaConnection.objects.filter(pk=connection.pk).update(watermark=newest)
        run.watermark_to = connection.watermark
        run.save(
            update_fields=[
                "fetched",
                "stored",
                "pages",
                "requests",
                "heartbeat_at",
                "watermark_to",
                "retries",
            ]
        )
    return newest


def _retrying(call: Callable[[], Any], run: PsaSyncRun, sleep: Callable[[float], Any]) -> Any:
    """A request, retried on transient failures with exponential backoff, honouring
    Retry-After (a long one stops the run and pauses the connection)."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            return call()
        except PsaError as error:
            if not error.transient or attempt == MAX_RETRIES:
                raise
            wait = error.retry_after if error.retry_after is not None else min(60.0, 2.0**attempt)
            if wait > LONGEST_WAIT:
                raise SyncStopped(
                    f"The PSA asked us to wait {wait:.0f} s ({error}).", pause_seconds=wait
                ) from error
            run.retries += 1
            log.info("PSA request failed (%s); retrying in %.1f s", error, wait)
            sleep(wait)
    raise AssertionError("unreachable")


def _within_budget(client: PsaClient, connection: PsaConnection) -> None:
    budget = client.budget()
    if budget is None or budget.limit <= 0:
        return
    allowed = int(budget.limit * settings.PSA_AUTOTASK_BUDGET_SHARE)
    if budget.used >= allowed:
        raise SyncStopped(
            f"{connection.get_kind_display()} has used {budget.used:,} of {budget.limit:,} "
            f"requests this hour; this desk stops at {allowed:,} so other integrations keep "
            "working. The sync goes on when the hour's count falls.",
            pause_seconds=600,
        )


def _finish(
    connection: PsaConnection,
    run: PsaSyncRun,
    client: PsaClient,
    *,
    error: str,
    pause_seconds: float | None = None,
) -> None:
    now = timezone.now()
    run.status = PsaSyncRun.Status.FAILED if error else PsaSyncRun.Status.DONE
    run.error = error or run.error
    run.finished_at = run.heartbeat_at = now
    run.requests = client.requests_made
    run.save(update_fields=["status", "error", "finished_at", "heartbeat_at", "requests"])
    connection.last_error = error
    fields = ["last_error", "updated_at"]
    if pause_seconds:
        connection.paused_until = now + dt.timedelta(seconds=pause_seconds)
        fields.append("paused_until")
    connection.save(update_fields=fields)


def psa_sync_due(*, now: dt.datetime | None = None) -> list[int]:
    """Queue a sync for every active connection whose interval has passed (the schedule
    calls this every minute). Returns the connection ids queued."""
    from django_q.tasks import async_task

    moment = now or timezone.now()
    queued = []
    for connection in PsaConnection.objects.filter(is_active=True):
        last = connection.syncs.order_by("-started_at").first()
        interval = dt.timedelta(minutes=connection.sync_every_minutes)
        alive = (
            last is not None
            and last.status == PsaSyncRun.Status.RUNNING
            and last.heartbeat_at is not None
            and moment - last.heartbeat_at < BUSY_AFTER
        )
        if alive or (last is not None and moment - last.started_at < interval):
            continue  # (a run whose worker died is replaced by the next one)
        if connection.paused_until and connection.paused_until > moment:
            continue
        async_task("tickets.tasks.psa_sync", connection.id, group="psa-sync")
        queued.append(connection.id)
    return queued
