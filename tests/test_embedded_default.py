"""The embedded default end to end: a fresh SQLite database, migrated and seeded by the same
commands `make run` uses, served by a real web server and worked by a real django-q2 worker."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    var = tmp_path_factory.mktemp("embedded")
    env = {
        **os.environ,
        "DEBUG": "true",
        "VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var}/desk.sqlite3",
    }
    manage = [sys.executable, "manage.py"]
    for args in (
        ["migrate", "--noinput"],
        ["seed_demo", "--tickets", "300", "--no-progress"],
        ["seed_governance_demo", "--pending", "10", "--history", "50"],
        ["seed_automation_demo"],
        ["seed_metrics_demo", "--no-progress"],
    ):
        subprocess.run(manage + args, cwd=ROOT, env=env, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base + "/healthz")
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def _sign_in(base: str, username: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    form = urllib.parse.urlencode(
        {"username": username, "password": "demo", "csrfmiddlewaretoken": token.group(1)}
    ).encode()
    request = urllib.request.Request(base + "/login/", data=form, headers={"Referer": base})
    landing = opener.open(request).read().decode()
    assert "Sign out" in landing, f"{username} could not sign in"
    return opener


@pytest.mark.smoke
def test_every_demo_role_signs_in_and_sees_its_pages(embedded: tuple[str, dict[str, str]]) -> None:
    base, _ = embedded
    owner_home = _sign_in(base, "owner").open(base + "/").read().decode()
    assert "Business overview" in owner_home and "monthly contract revenue" in owner_home
    manager = _sign_in(base, "manager")
    assert "Service desk today" in manager.open(base + "/").read().decode()
    tickets = manager.open(base + "/tickets/").read().decode()
    assert re.search(r"[\d,]+ tickets · page 1 of \d+", tickets)
    first_id = re.search(r'href="/tickets/(\d+)/"', tickets)
    assert first_id is not None
    detail = manager.open(f"{base}/tickets/{first_id.group(1)}/").read().decode()
    assert "Timeline" in detail and "Created" in detail


@pytest.mark.smoke
def test_rules_dispatch_and_the_pipeline_on_the_embedded_default(
    embedded: tuple[str, dict[str, str]],
) -> None:
    base, env = embedded
    manager = _sign_in(base, "manager")
    assert "Backup failures to the NOC" in manager.open(base + "/rules/").read().decode()
    assert "Default" in manager.open(base + "/dispatch/").read().decode()
    create = (
        "from django.utils import timezone\n"
        "from tickets.models import Client, Ticket\n"
        "t = Ticket.objects.create(source='api', external_id='smoke-1', opened_at=timezone.now(),"
        " summary='Backup job failed on NAS01', client=Client.objects.order_by('id').first())\n"
        "print('TICKET', t.id)\n"
    )
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", create],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    ticket_id = re.search(r"TICKET (\d+)", made.stdout)
    assert ticket_id is not None
    done = subprocess.run(
        [sys.executable, "manage.py", "run_pipeline", "--limit", "50", "--no-progress"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert re.search(r"Ran the pipeline on \d+ open tickets: [1-9][\d,]* proposals", done.stdout)
    detail = manager.open(f"{base}/tickets/{ticket_id.group(1)}/").read().decode()
    assert "Rule “Backup failures to the NOC” matched" in detail
    assert "Assign technician" in detail  # dispatch proposed someone


@pytest.mark.smoke
def test_the_worker_runs_background_tasks(embedded: tuple[str, dict[str, str]]) -> None:
    _, env = embedded
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    script = (
        "from django_q.tasks import async_task, result\n"
        "task = async_task('math.floor', 41.7)\n"
        "print('RESULT', result(task, wait=30000))\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    assert "RESULT 41" in done.stdout


@pytest.mark.smoke
def test_an_approval_is_executed_by_the_worker(embedded: tuple[str, dict[str, str]]) -> None:
    """The whole governance path on the embedded default: a manager approves a proposal in
    the browser's way (form post), django-q2's worker runs it through the gate."""
    base, env = embedded
    manager = _sign_in(base, "manager")
    queue = manager.open(base + "/approvals/").read().decode()
    action = re.search(r'action="/actions/(\d+)/approve/"', queue)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', queue)
    assert action is not None and token is not None, "the demo queue has proposals"
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1)}).encode()
        approve = urllib.request.Request(
            f"{base}/actions/{action.group(1)}/approve/", data=form, headers={"Referer": base}
        )
        manager.open(approve).read()
        deadline, page = time.monotonic() + 45, ""
        while time.monotonic() < deadline:
            page = manager.open(f"{base}/actions/{action.group(1)}/").read().decode()
            if "badge status verified" in page:
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    assert "badge status verified" in page, "the worker did not execute the approved action"
    assert "approved by" in page


@pytest.mark.smoke
def test_metrics_advisor_and_hygiene_on_the_embedded_default(
    embedded: tuple[str, dict[str, str]],
) -> None:
    """The SQLite triggers, MEDIAN aggregate and reports behave as on PostgreSQL."""
    base, env = embedded
    refresh = (
        "from metrics.tasks import advisor_refresh, hygiene_refresh, facts_refresh\n"
        "facts_refresh(); advisor_refresh(); hygiene_refresh()\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", refresh],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    owner = _sign_in(base, "owner")
    roi = owner.open(base + "/metrics/?period=last_12_weeks").read().decode()
    assert "Technician hours reclaimed" in roi and "Compared with the baseline" in roi
    assert "Median time to resolution" in owner.open(base + "/metrics/operations/").read().decode()
    export = (
        owner.open(base + "/metrics/export.csv?period=last_12_weeks").read().decode("utf-8-sig")
    )
    assert export.startswith("section,key,label,value")
    advisor = owner.open(base + "/metrics/advisor/").read().decode()
    assert "technician hours a week to reclaim" in advisor
    assert "Counted" in owner.open(base + "/metrics/hygiene/").read().decode()
