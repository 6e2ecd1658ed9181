"""The RMM (NinjaOne public API v2) for device actions: run an allow-listed script, install or
reinstall allow-listed software, and follow the run to its result.

The safety core is ours, not the RMM's: only scripts in `CATALOGUE` and packages in
`SOFTWARE` can run, every parameter is checked against its `ParamSpec` before any request is
sent, and values travel as one JSON object in NinjaOne's `parameters` string — the catalogue's
scripts read `$args[0] | ConvertFrom-Json` — never spliced into a command line.

NinjaOne's run endpoint (`POST /v2/device/{id}/script/run`) answers without naming the run, so
the run is found afterwards in the device's activities: the newest `ACTION` activity for the
script that is newer than the newest activity seen just before the run. That correlation, the
activity fields read (`statusCode`, `activityResult`, `data.scriptId`, `message` as the output
tail) and the `/software` inventory shape are *unverified* against a live tenant.

Scripts are not idempotent: a time-out on the run request is reported as transient (the
request may not have arrived), and the executor decides whether to look before retrying.
Undo is not meaningful for a script run; an installed package is removed by its own script.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx2

from automation.tools.base import HttpTool, ToolError
from tickets.psa.http import TRANSIENT_STATUSES, retry_after_seconds

TOKEN_MARGIN_SECONDS = 60.0
OUTPUT_TAIL = 2000
RUNNING_CODES = frozenset({"START_REQUESTED", "STARTED", "IN_PROCESS", "QUEUED", "SCHEDULED"})

ParamKind = Literal["text", "int", "choice"]
JobStatus = Literal["running", "succeeded", "failed"]


@dataclass(frozen=True)
class ParamSpec:
    """One script parameter. `text` needs a `pattern` (matched in full): free text never
    reaches a device. `int` may set `minimum`/`maximum`; `choice` lists its `choices`."""

    name: str
    kind: ParamKind
    choices: tuple[str, ...] = ()
    pattern: str = ""
    max_length: int = 100
    minimum: int | None = None
    maximum: int | None = None
    required: bool = True
    help: str = ""

    def __post_init__(self) -> None:
        if self.kind == "text" and not self.pattern:
            raise ValueError(f"text parameter {self.name!r} needs a pattern")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"choice parameter {self.name!r} needs choices")


@dataclass(frozen=True)
class ScriptSpec:
    slug: str
    title: str
    rmm_script_id: int
    parameters: tuple[ParamSpec, ...] = ()
    timeout_seconds: int = 300


@dataclass(frozen=True)
class PackageSpec:
    """Software the desk may install: `package_id` is what the installer script takes (a
    winget id), `inventory_name` how it then shows in the device's software list."""

    slug: str
    title: str
    rmm_script_id: int
    package_id: str
    inventory_name: str
    timeout_seconds: int = 1200


INSTALLER_SCRIPT_ID = 2001  # one winget installer script in the RMM, told which package

SOFTWARE: dict[str, PackageSpec] = {
    spec.slug: spec
    for spec in (
        PackageSpec(
            "teams", "Microsoft Teams", INSTALLER_SCRIPT_ID, "Microsoft.Teams", "Microsoft Teams"
        ),
        PackageSpec(
            "chrome", "Google Chrome", INSTALLER_SCRIPT_ID, "Google.Chrome", "Google Chrome"
        ),
        PackageSpec(
            "acrobat-reader",
            "Adobe Acrobat Reader",
            INSTALLER_SCRIPT_ID,
            "Adobe.Acrobat.Reader.64-bit",
            "Adobe Acrobat (64-bit)",
        ),
        PackageSpec("7zip", "7-Zip", INSTALLER_SCRIPT_ID, "7zip.7zip", "7-Zip 24.09 (x64)"),
        PackageSpec(
            "zoom", "Zoom Workplace", INSTALLER_SCRIPT_ID, "Zoom.Zoom", "Zoom Workplace (64-bit)"
        ),
    )
}

_PROFILE = ParamSpec(
    "username",
    "text",
    pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
    max_length=64,
    help="the Windows profile folder name, e.g. jsmith",
)

CATALOGUE: dict[str, ScriptSpec] = {
    spec.slug: spec
    for spec in (
        ScriptSpec("flush-dns", "Flush the DNS cache", 1001, timeout_seconds=120),
        ScriptSpec("clear-teams-cache", "Clear the Teams cache for a user", 1002, (_PROFILE,)),
        ScriptSpec(
            "restart-print-spooler",
            "Restart the print spooler",
            1003,
            (ParamSpec("clear_queue", "choice", choices=("yes", "no"), required=False),),
            timeout_seconds=180,
        ),
        ScriptSpec(
            "free-disk-space",
            "Free disk space (temp files, update cache, recycle bin)",
            1004,
            (
                ParamSpec("drive", "choice", choices=("C", "D", "E")),
                ParamSpec("older_than_days", "int", minimum=1, maximum=365),
            ),
            timeout_seconds=900,
        ),
        ScriptSpec(
            "reinstall-app",
            "Reinstall an application",
            1005,
            (ParamSpec("app", "choice", choices=tuple(SOFTWARE)),),
            timeout_seconds=1800,
        ),
    )
}


def script(slug: str) -> ScriptSpec:
    """The allow-listed script, or a ToolError listing what is allowed."""
    spec = CATALOGUE.get(slug)
    if spec is None:
        raise ToolError(f"{slug!r} is not an allow-listed script; allowed: {', '.join(CATALOGUE)}.")
    return spec


def validate_parameters(spec: ScriptSpec, params: Mapping[str, object]) -> dict[str, str]:
    """The parameters as strings, or a ToolError (not transient) naming the first parameter
    that is unknown, missing or not acceptable, and what would be accepted."""
    known = {p.name for p in spec.parameters}
    unknown = sorted(set(params) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise ToolError(f"{spec.slug}: unknown parameter {unknown[0]!r} (accepted: {allowed}).")
    values: dict[str, str] = {}
    for param in spec.parameters:
        if param.name not in params or params[param.name] in (None, ""):
            if param.required:
                raise ToolError(f"{spec.slug}: parameter {param.name!r} is required.")
            continue
        values[param.name] = _checked(spec.slug, param, params[param.name])
    return values


def _checked(slug: str, param: ParamSpec, value: object) -> str:
    where = f"{slug}: parameter {param.name!r}"
    if param.kind == "int":
        return str(_integer(where, param, value))
    text = value if isinstance(value, str) else None
    if text is None:
        raise ToolError(f"{where} must be text.")
    if param.kind == "choice":
        if text not in param.choices:
            raise ToolError(f"{where} must be one of {', '.join(param.choices)}.")
        return text
    if len(text) > param.max_length:
        raise ToolError(f"{where} is longer than {param.max_length} characters.")
    if not re.fullmatch(param.pattern, text):
        raise ToolError(
            f"{where} has characters that are not allowed ({param.help or param.pattern})."
        )
    return text


def _integer(where: str, param: ParamSpec, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ToolError(f"{where} must be a whole number.")
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,9}", value):
        raise ToolError(f"{where} must be a whole number.")
    number = int(value)
    low = param.minimum if param.minimum is not None else -(10**9)
    high = param.maximum if param.maximum is not None else 10**9
    if not low <= number <= high:
        raise ToolError(f"{where} must be between {low} and {high}.")
    return number


def package(slug: str) -> PackageSpec:
    spec = SOFTWARE.get(slug)
    if spec is None:
        raise ToolError(f"{slug!r} is not allow-listed software; allowed: {', '.join(SOFTWARE)}.")
    return spec


class RmmError(ToolError):
    """A failed RMM call, with its HTTP status (0 when no answer came)."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, transient=transient, retry_after=retry_after)
        self.status = status


@dataclass(frozen=True)
class RmmConfig:
    base_url: str  # the tenant's region, e.g. https://eu.ninjarmm.com
    client_id: str
    client_secret: str
    scope: str = "monitoring management control"
    timeout: float = 15.0

    def __repr__(self) -> str:  # the secret must not reach a log through a repr
        return f"RmmConfig(base_url={self.base_url!r}, client_id={self.client_id!r}, …)"


@dataclass(frozen=True)
class Device:
    id: int
    name: str
    online: bool
    last_contact: dt.datetime | None
    os_name: str


@dataclass(frozen=True)
class Job:
    id: str  # the activity id
    device_id: int
    status: JobStatus
    output: str  # the last OUTPUT_TAIL characters the run reported

    @property
    def finished(self) -> bool:
        return self.status != "running"


class RmmClient(HttpTool):
    """One RMM tenant. The token is cached until shortly before it expires and fetched again
    once on 401. `clock` and `sleep` are injectable so tests need not wait."""

    token_margin_seconds = TOKEN_MARGIN_SECONDS

    def __init__(
        self,
        config: RmmConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self._http = httpx2.Client(timeout=config.timeout)
        self._token = ""
        self._token_expires = 0.0
        self.requests_made = 0

    def device(self, device_id: int) -> Device:
        try:
            data = self._api("GET", f"/v2/device/{int(device_id)}")
        except RmmError as error:
            if error.status == 404:
                raise RmmError(f"No device {device_id} in the RMM.", status=404) from None
            raise
        return _device(data)

    def installed_software(self, device_id: int) -> tuple[str, ...]:
        """Names in the device's software inventory, sorted: the read-back for installs."""
        rows = self._api("GET", f"/v2/device/{int(device_id)}/software")
        return tuple(sorted(str(r.get("name") or "") for r in _rows(rows)))

    def job(self, device_id: int, job_id: str) -> Job:
        """The run's state now. Activities come newest first, so this pages back from the
        newest until it reaches the run's id."""
        wanted = int(job_id)
        params: dict[str, str] = {"newerThan": str(wanted - 1), "pageSize": "100"}
        while True:
            page = _activities(
                self._api("GET", f"/v2/device/{int(device_id)}/activities", params=params)
            )
            for activity in page:
                if activity.get("id") == wanted:
                    return _job(device_id, activity)
            older = [int(a["id"]) for a in page if isinstance(a.get("id"), int)]
            if len(page) < 100 or not older or min(older) <= wanted:
                raise RmmError(f"The RMM has no run {job_id} on device {device_id}.")
            params["olderThan"] = str(min(older))

    def wait(self, device_id: int, job_id: str, *, timeout: float, poll: float = 5.0) -> Job:
        """Polls until the run finishes; returns it as last seen, still `running` when
        `timeout` seconds passed first (the executor reports that, it does not re-run)."""
        deadline = self._clock() + timeout
        while True:
            job = self.job(device_id, job_id)
            if job.finished or self._clock() >= deadline:
                return job
            self._sleep(poll)

    def run_script(self, device_id: int, slug: str, params: Mapping[str, object]) -> str:
        """Starts an allow-listed script; returns the run's id for `job`/`wait`. Everything
        is validated before the first request; an offline device is refused."""
        spec = script(slug)
        values = validate_parameters(spec, params)
        return self._run(device_id, spec.rmm_script_id, values, spec.title)

    def install_software(self, device_id: int, package_slug: str) -> str:
        """Starts installing allow-listed software; verify with `installed_software`."""
        spec = package(package_slug)
        values = {"package": spec.package_id, "action": "install"}
        return self._run(device_id, spec.rmm_script_id, values, f"Install {spec.title}")

    def _run(self, device_id: int, script_id: int, values: dict[str, str], title: str) -> str:
        device = self.device(device_id)
        if not device.online:
            raise RmmError(_offline(device, title))
        watermark = self._newest_activity_id(device.id)
        body = {
            "type": "SCRIPT",
            "id": script_id,
            "parameters": json.dumps(values, sort_keys=True),
            "runAs": "system",
        }
        self._api("POST", f"/v2/device/{device.id}/script/run", json=body)
        run_id = self._run_since(device.id, script_id, watermark)
        if run_id is None:
            raise RmmError(
                f"The RMM accepted “{title}” on {device.name} but shows no run for it yet; "
                "check the device's activities before running it again."
            )
        return run_id

    def _newest_activity_id(self, device_id: int) -> int:
        path = f"/v2/device/{device_id}/activities"
        newest = _activities(self._api("GET", path, params={"pageSize": "1"}))
        return max((int(a["id"]) for a in newest if isinstance(a.get("id"), int)), default=0)

    def _run_since(self, device_id: int, script_id: int, watermark: int) -> str | None:
        """The newest run of the script after `watermark` (the run endpoint names none)."""
        params = {"newerThan": str(watermark), "activityType": "ACTION", "pageSize": "100"}
        rows = self._api("GET", f"/v2/device/{device_id}/activities", params=params)
        for activity in _activities(rows):
            data = activity.get("data")
            if isinstance(data, dict) and data.get("scriptId") == script_id:
                return str(activity["id"])
        return None

    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.config.base_url}{path}"
        try:
            return self._send(method, url, headers=self._authorization(), **kwargs)
        except _Unauthorized:
            self._token = ""
        try:
            return self._send(method, url, headers=self._authorization(), **kwargs)
        except _Unauthorized as error:
            raise RmmError(f"{error} even with a fresh token.", status=401) from None

    def _authorization(self) -> dict[str, str]:
        if not self._token or self._clock() >= self._token_expires:
            self._authenticate()
        return {"Authorization": f"Bearer {self._token}"}

    def _authenticate(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "scope": self.config.scope,
        }
        try:
            data = self._send("POST", f"{self.config.base_url}/ws/oauth/token", data=form)
        except _Unauthorized:
            raise RmmError(
                "The RMM refused the API client id and secret; check them and the region URL.",
                status=401,
            ) from None
        self._keep_token(data, error=RmmError, issuer="The RMM's")

    def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        where = f"{method} {httpx2.URL(url).path}"
        answer = self._transport(method, url, error=RmmError, label="RMM", **kwargs)
        refused_token = answer.status_code in (400, 401) and url.endswith("/ws/oauth/token")
        if refused_token or answer.status_code == 401:
            raise _Unauthorized(f"RMM: {where} answered {answer.status_code}", status=401)
        if answer.status_code >= 400:
            raise RmmError(
                f"RMM: {where} answered {answer.status_code}: {_reason(answer)}",
                status=answer.status_code,
                transient=answer.status_code in TRANSIENT_STATUSES,
                retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
            )
        if not answer.content:
            return None
        try:
            return answer.json()
        except ValueError:
            raise RmmError(f"RMM: {where} answered with a non-JSON body.") from None


class _Unauthorized(RmmError):
    """401 (or a refused token request): fetch a token and try once more."""


def _reason(answer: httpx2.Response) -> str:
    """NinjaOne errors look like `{"resultCode": "...", "errorMessage": "..."}`."""
    try:
        data = answer.json()
    except ValueError:
        return answer.text[:200] or answer.reason_phrase
    if isinstance(data, dict):
        for key in ("errorMessage", "message", "error_description", "resultCode", "error"):
            if data.get(key):
                return str(data[key])[:200]
    return str(data)[:200]


def _device(data: Any) -> Device:
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise RmmError("The RMM answered a device without an id.")
    os_info = data.get("os")
    contact = data.get("lastContact")
    return Device(
        id=data["id"],
        name=str(data.get("displayName") or data.get("systemName") or data["id"]),
        online=data.get("offline") is False,  # unknown counts as offline: nothing is sent
        last_contact=_epoch(contact) if isinstance(contact, int | float) else None,
        os_name=str(os_info.get("name") or "") if isinstance(os_info, dict) else "",
    )


def _epoch(seconds: float) -> dt.datetime:
    """NinjaOne writes times as epoch seconds (with a fraction)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _offline(device: Device, title: str) -> str:
    seen = f" (last seen {device.last_contact:%Y-%m-%d %H:%M} UTC)" if device.last_contact else ""
    return (
        f"{device.name} is offline{seen}, so “{title}” cannot run now; try again when it is "
        "back online."
    )


def _activities(data: Any) -> list[dict[str, Any]]:
    rows = data.get("activities") if isinstance(data, dict) else None
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _rows(data: Any) -> list[dict[str, Any]]:
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []


def _job(device_id: int, activity: dict[str, Any]) -> Job:
    code = str(activity.get("statusCode") or "")
    if code in RUNNING_CODES:
        status: JobStatus = "running"
    elif code == "COMPLETED" and activity.get("activityResult") == "SUCCESS":
        status = "succeeded"
    else:
        status = "failed"
    output = str(activity.get("message") or "")[-OUTPUT_TAIL:]
    return Job(id=str(activity["id"]), device_id=device_id, status=status, output=output)
