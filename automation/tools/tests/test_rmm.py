"""The RMM adapter against the loopback NinjaOne-shaped tenant: the allow-list and parameter
checks refuse before any request, and runs are followed to their result over real HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from automation.tools.base import ToolError, with_retries
from automation.tools.rmm import (
    CATALOGUE,
    SOFTWARE,
    ParamSpec,
    RmmClient,
    RmmConfig,
    RmmError,
    validate_parameters,
)
from automation.tools.simulators.rmm import RmmSimulator
from tickets.psa.simulators.base import Fault

LAPTOP = 4101
SERVER = 4102


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def sim() -> Iterator[RmmSimulator]:
    with RmmSimulator() as sim:
        sim.add_device(LAPTOP, "ACME-LT-042")
        sim.add_device(SERVER, "ACME-FS01", online=False)
        yield sim


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def config(sim: RmmSimulator, **changes: object) -> RmmConfig:
    values: dict[str, object] = {
        "base_url": sim.url,
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "timeout": 2.0,
    }
    values.update(changes)
    return RmmConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def rmm(sim: RmmSimulator, clock: FakeClock) -> Iterator[RmmClient]:
    with RmmClient(config(sim), clock=clock, sleep=clock.sleep) as rmm:
        yield rmm


def test_it_reads_a_device(rmm: RmmClient, sim: RmmSimulator) -> None:
    device = rmm.device(LAPTOP)
    assert (device.id, device.name, device.online, device.os_name) == (
        LAPTOP,
        "ACME-LT-042",
        True,
        "Windows 11 Pro",
    )
    assert device.last_contact == dt.datetime.fromtimestamp(
        sim.devices[LAPTOP]["lastContact"], dt.UTC
    )
    server = rmm.device(SERVER)
    assert server.online is False
    assert server.last_contact == dt.datetime.fromtimestamp(
        sim.devices[SERVER]["lastContact"], dt.UTC
    )


def test_an_allow_listed_script_runs_and_succeeds(
    rmm: RmmClient, sim: RmmSimulator, clock: FakeClock
) -> None:
    sim.polls_to_finish = 4  # finding the run, job(), then wait() polls twice
    sim.outcome("free-disk-space", "succeeded", output="Removed 4.2 GB from C:")
    job_id = rmm.run_script(LAPTOP, "free-disk-space", {"drive": "C", "older_than_days": 7})
    assert rmm.job(LAPTOP, job_id).status == "running"
    job = rmm.wait(LAPTOP, job_id, timeout=60, poll=5)
    assert (job.status, job.output, job.id) == ("succeeded", "Removed 4.2 GB from C:", job_id)
    assert clock.sleeps == [5]
    [run] = sim.runs
    assert (run.device_id, run.slug, run.script_id, run.run_as) == (
        LAPTOP,
        "free-disk-space",
        CATALOGUE["free-disk-space"].rmm_script_id,
        "system",
    )
    assert run.parameters == {"drive": "C", "older_than_days": "7"}
    assert str(run.activity_id) == job_id


def test_the_run_is_told_apart_from_an_earlier_run_of_the_same_script(
    rmm: RmmClient, sim: RmmSimulator
) -> None:
    first = rmm.run_script(LAPTOP, "flush-dns", {})
    second = rmm.run_script(LAPTOP, "flush-dns", {})
    assert int(second) > int(first)
    assert [r.activity_id for r in sim.runs] == [int(first), int(second)]


def test_a_failing_run_is_reported_with_its_output(rmm: RmmClient, sim: RmmSimulator) -> None:
    sim.outcome("restart-print-spooler", "failed", output="x" * 3000 + "Access is denied.")
    job_id = rmm.run_script(LAPTOP, "restart-print-spooler", {"clear_queue": "yes"})
    job = rmm.wait(LAPTOP, job_id, timeout=60, poll=1)
    assert job.status == "failed"
    assert job.output.endswith("Access is denied.") and len(job.output) == 2000


def test_a_run_still_going_at_the_time_out_is_returned_running(
    rmm: RmmClient, sim: RmmSimulator, clock: FakeClock
) -> None:
    sim.polls_to_finish = 1000
    job_id = rmm.run_script(LAPTOP, "flush-dns", {})
    job = rmm.wait(LAPTOP, job_id, timeout=10, poll=5)
    assert (job.status, job.finished) == ("running", False)
    assert clock.sleeps == [5, 5]
    sim.advance(sim.run_seconds)
    assert rmm.job(LAPTOP, job_id).status == "succeeded"


def test_an_offline_device_is_refused(rmm: RmmClient, sim: RmmSimulator) -> None:
    with pytest.raises(ToolError, match=r"ACME-FS01 is offline \(last seen .* UTC\)") as caught:
        rmm.run_script(SERVER, "flush-dns", {})
    assert caught.value.transient is False
    assert sim.runs == []


@pytest.mark.parametrize(
    ("slug", "params", "message"),
    [
        ("format-disk", {}, "'format-disk' is not an allow-listed script"),
        ("flush-dns", {"verbose": "1"}, "unknown parameter 'verbose' (accepted: none)"),
        ("free-disk-space", {"drive": "C"}, "parameter 'older_than_days' is required"),
        ("free-disk-space", {"drive": "Z", "older_than_days": 7}, "must be one of C, D, E"),
        ("free-disk-space", {"drive": "C", "older_than_days": 0}, "between 1 and 365"),
        ("free-disk-space", {"drive": "C", "older_than_days": "7; shutdown"}, "whole number"),
        ("free-disk-space", {"drive": "C", "older_than_days": True}, "whole number"),
        ("clear-teams-cache", {"username": "; rm -rf /"}, "characters that are not allowed"),
        ("clear-teams-cache", {"username": "jsmith`whoami`"}, "characters that are not allowed"),
        ("clear-teams-cache", {"username": "a" * 65}, "longer than 64 characters"),
        ("reinstall-app", {"app": "notepad++"}, "must be one of teams, chrome"),
    ],
)
def test_bad_requests_are_refused_before_any_request(
    rmm: RmmClient, sim: RmmSimulator, slug: str, params: dict[str, object], message: str
) -> None:
    with pytest.raises(ToolError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        rmm.run_script(LAPTOP, slug, params)
    assert caught.value.transient is False
    assert sim.runs == [] and sim.request_count == 0


def test_valid_parameters_come_back_as_strings() -> None:
    spec = CATALOGUE["clear-teams-cache"]
    assert validate_parameters(spec, {"username": "j.smith-2"}) == {"username": "j.smith-2"}
    assert validate_parameters(CATALOGUE["restart-print-spooler"], {}) == {}


def test_a_text_parameter_needs_a_pattern() -> None:
    with pytest.raises(ValueError, match="needs a pattern"):
        ParamSpec("note", "text")


def test_install_software_round_trip(rmm: RmmClient, sim: RmmSimulator) -> None:
    assert "Google Chrome" not in rmm.installed_software(LAPTOP)
    job_id = rmm.install_software(LAPTOP, "chrome")
    assert rmm.wait(LAPTOP, job_id, timeout=60, poll=1).status == "succeeded"
    assert rmm.installed_software(LAPTOP) == (
        "Google Chrome",
        "Microsoft Edge",
        "Microsoft Office 365",
    )
    assert sim.runs[-1].parameters == {"action": "install", "package": "Google.Chrome"}
    assert sim.runs[-1].script_id == SOFTWARE["chrome"].rmm_script_id


def test_reinstall_app_runs_with_the_package_slug(rmm: RmmClient, sim: RmmSimulator) -> None:
    job_id = rmm.run_script(LAPTOP, "reinstall-app", {"app": "teams"})
    assert rmm.wait(LAPTOP, job_id, timeout=60, poll=1).status == "succeeded"
    assert "Microsoft Teams" in sim.software(LAPTOP)


def test_unknown_software_is_refused(rmm: RmmClient, sim: RmmSimulator) -> None:
    with pytest.raises(ToolError, match="'bitcoin-miner' is not allow-listed software"):
        rmm.install_software(LAPTOP, "bitcoin-miner")
    assert sim.request_count == 0


def test_an_unknown_device_is_a_readable_error(rmm: RmmClient) -> None:
    with pytest.raises(RmmError, match=r"^No device 999 in the RMM\.$") as caught:
        rmm.device(999)
    assert (caught.value.status, caught.value.transient) == (404, False)


def test_the_token_is_cached_and_replaced_when_expired(rmm: RmmClient, sim: RmmSimulator) -> None:
    rmm.device(LAPTOP)
    rmm.installed_software(LAPTOP)
    assert sim.token_requests == 1
    sim.advance(3600)
    assert rmm.device(LAPTOP).online is True
    assert sim.token_requests == 2


def test_throttling_is_transient_with_retry_after(rmm: RmmClient, sim: RmmSimulator) -> None:
    sim.fail(Fault(status=429, retry_after=12, path="/v2/device/"))
    with pytest.raises(RmmError) as caught:
        rmm.device(LAPTOP)
    assert (caught.value.transient, caught.value.retry_after, caught.value.status) == (
        True,
        12.0,
        429,
    )
    sim.fail(Fault(status=429, retry_after=2, path="/v2/device/"))
    waits: list[float] = []
    assert with_retries(lambda: rmm.device(LAPTOP), sleep=waits.append).name == "ACME-LT-042"
    assert waits == [2.0]


def test_a_time_out_is_transient(sim: RmmSimulator) -> None:
    sim.fail(Fault(delay=0.6, path="/v2/device/"))
    with RmmClient(config(sim, timeout=0.2)) as rmm, pytest.raises(RmmError) as caught:
        rmm.device(LAPTOP)
    assert caught.value.transient is True and str(caught.value).endswith("timed out.")


def test_a_wrong_secret_is_reported_without_the_secret(sim: RmmSimulator) -> None:
    wrong = "not-the-secret-42"
    with RmmClient(config(sim, client_secret=wrong)) as rmm, pytest.raises(ToolError) as caught:
        rmm.device(LAPTOP)
    assert "refused the API client id and secret" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(config(sim, client_secret=wrong))
