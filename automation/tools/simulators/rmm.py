"""A loopback RMM tenant in NinjaOne's v2 shapes: the client-credentials token endpoint
(`/ws/oauth/token`), devices, `script/run`, the device's activities (newest first, with
`newerThan`/`olderThan`/`pageSize`/`activityType`) and its software inventory.

A run becomes an `ACTION` activity that finishes after `polls_to_finish` reads of it or
`run_seconds` on the simulator's clock (`advance`), with the outcome scripted per script
(`outcome`); every run is recorded with its parameters (`runs`). A successful installer run
adds the package to the device's inventory. The activity fields are *unverified* (see
automation/tools/rmm.py).
"""

from __future__ import annotations

import datetime as dt
import hmac
import itertools
import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

from automation.tools.rmm import CATALOGUE, SOFTWARE
from tickets.psa.simulators.base import Request, Response, Simulator

Outcome = Literal["succeeded", "failed"]


@dataclass
class Run:
    device_id: int
    script_id: int
    slug: str  # the catalogue slug or package slug ("" when neither)
    parameters: dict[str, str]
    run_as: str
    activity_id: int


@dataclass
class _Job:
    run: Run
    activity: dict[str, Any]
    polls_left: int
    finishes_at: dt.datetime
    outcome: tuple[Outcome, str] = ("succeeded", "Completed.")


class RmmSimulator(Simulator):
    kind = "rmm"
    token_lifetime_seconds = 3600
    polls_to_finish = 2
    run_seconds = 30

    def __init__(self, *, port: int = 0) -> None:
        super().__init__(port=port)
        self.client_id = "sim-rmm-client"
        self.client_secret = "sim-rmm-secret-0123456789abcdef"  # noqa: S105 (a test tenant's)
        self.tokens: dict[str, dt.datetime] = {}
        self.token_requests = 0
        self.devices: dict[int, dict[str, Any]] = {}
        self.activities: list[dict[str, Any]] = []  # ascending ids
        self.runs: list[Run] = []
        self.installed: dict[int, set[str]] = {}
        self.scripts: dict[int, str] = {s.rmm_script_id: s.slug for s in CATALOGUE.values()}
        self.scripts.update({p.rmm_script_id: "install-software" for p in SOFTWARE.values()})
        self._outcomes: dict[int, tuple[Outcome, str]] = {}
        self._jobs: dict[int, _Job] = {}
        self._ids = itertools.count(90_001)

    def __enter__(self) -> RmmSimulator:
        self.start()
        return self

    def add_device(self, device_id: int, name: str, online: bool = True) -> None:
        with self.lock:
            self.devices[device_id] = {
                "id": device_id,
                "organizationId": 1,
                "locationId": 1,
                "nodeClass": "WINDOWS_WORKSTATION",
                "approvalStatus": "APPROVED",
                "offline": not online,
                "displayName": name,
                "systemName": name,
                "dnsName": f"{name.lower()}.corp.test",
                "created": self.now().timestamp() - 86_400 * 90,
                "lastContact": self.now().timestamp() - (0 if online else 86_400 * 3),
                "os": {"name": "Windows 11 Pro", "manufacturer": "Microsoft Corporation"},
            }
            self.installed[device_id] = {"Microsoft Edge", "Microsoft Office 365"}
            self._activity(device_id, "CONDITION", "TRIGGERED", "Disk usage above 90%")

    def set_online(self, device_id: int, online: bool) -> None:
        with self.lock:
            self.devices[device_id]["offline"] = not online

    def outcome(self, slug_or_id: str | int, status: Outcome, output: str = "") -> None:
        """Every later run of the script ends with `status` and `output`."""
        with self.lock:
            self._outcomes[self._script_id(slug_or_id)] = (status, output)

    def software(self, device_id: int) -> list[str]:
        with self.lock:
            return sorted(self.installed[device_id])

    def _script_id(self, slug_or_id: str | int) -> int:
        if isinstance(slug_or_id, int):
            return slug_or_id
        if slug_or_id in CATALOGUE:
            return CATALOGUE[slug_or_id].rmm_script_id
        return SOFTWARE[slug_or_id].rmm_script_id

    def _activity(self, device_id: int, kind: str, code: str, subject: str) -> dict[str, Any]:
        activity: dict[str, Any] = {
            "id": next(self._ids),
            "activityTime": self.now().timestamp(),
            "deviceId": device_id,
            "severity": "NONE",
            "priority": "NONE",
            "activityType": kind,
            "statusCode": code,
            "status": code.replace("_", " ").title(),
            "activityResult": "UNKNOWN",
            "subject": subject,
            "message": "",
        }
        self.activities.append(activity)
        return activity

    def authorized(self, request: Request) -> bool:
        if not request.path.startswith("/v2/"):
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            expires = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            return expires is not None and self.now() < expires

    def route(self, request: Request) -> Response:
        if request.path == "/ws/oauth/token" and request.method == "POST":
            return self._token(request)
        parts = request.path.strip("/").split("/")
        if parts[:2] != ["v2", "device"] or len(parts) < 3 or not parts[2].isdigit():
            return _error(404, "NOT_FOUND", f"No route for {request.method} {request.path}")
        with self.lock:
            device = self.devices.get(int(parts[2]))
            if device is None:
                return _error(404, "DEVICE_NOT_FOUND", f"Device {parts[2]} not found")
            rest = parts[3:]
            if not rest and request.method == "GET":
                return Response(200, device)
            if rest == ["activities"] and request.method == "GET":
                return self._list_activities(device["id"], request)
            if rest == ["software"] and request.method == "GET":
                return Response(200, self._software(device["id"]))
            if rest == ["script", "run"] and request.method == "POST":
                return self._run(device, request.json())
        return _error(404, "NOT_FOUND", f"No route for {request.method} {request.path}")

    def _token(self, request: Request) -> Response:
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        with self.lock:
            self.token_requests += 1
        offered = (form.get("client_id", ""), form.get("client_secret", ""))
        good = all(
            hmac.compare_digest(a, b)
            for a, b in zip(offered, (self.client_id, self.client_secret), strict=True)
        )
        if form.get("grant_type") != "client_credentials" or not good:
            return Response(401, {"error": "invalid_client"})
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = self.now() + dt.timedelta(seconds=self.token_lifetime_seconds)
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_seconds,
            "scope": form.get("scope", ""),
        }
        return Response(200, body)

    def _run(self, device: dict[str, Any], body: dict[str, Any]) -> Response:
        script_id = int(body["id"])
        if body.get("type") != "SCRIPT" or script_id not in self.scripts:
            return _error(404, "SCRIPT_NOT_FOUND", f"Script {script_id} not found")
        if device["offline"]:
            return _error(400, "DEVICE_OFFLINE", f"Device {device['id']} is offline")
        parameters = json.loads(body.get("parameters") or "{}")
        activity = self._activity(device["id"], "ACTION", "START_REQUESTED", "Script run")
        activity.update(
            sourceName=self.scripts[script_id],
            data={"scriptId": script_id, "runAs": body.get("runAs")},
        )
        run = Run(
            device_id=device["id"],
            script_id=script_id,
            slug=self._slug(script_id, parameters),
            parameters={str(k): str(v) for k, v in parameters.items()},
            run_as=str(body.get("runAs") or ""),
            activity_id=activity["id"],
        )
        self.runs.append(run)
        self._jobs[activity["id"]] = _Job(
            run=run,
            activity=activity,
            polls_left=self.polls_to_finish,
            finishes_at=self.now() + dt.timedelta(seconds=self.run_seconds),
            outcome=self._outcomes.get(script_id, ("succeeded", "Completed.")),
        )
        return Response(204)

    def _slug(self, script_id: int, parameters: dict[str, Any]) -> str:
        if self.scripts[script_id] != "install-software":
            return self.scripts[script_id]
        return next(
            (p.slug for p in SOFTWARE.values() if p.package_id == parameters.get("package")), ""
        )

    def _list_activities(self, device_id: int, request: Request) -> Response:
        newer = int(request.arg("newerThan") or 0)
        older = int(request.arg("olderThan") or 0) or None
        kind = request.arg("activityType")
        size = min(1000, int(request.arg("pageSize") or 200))
        rows = [
            a
            for a in reversed(self.activities)
            if a["deviceId"] == device_id
            and a["id"] > newer
            and (older is None or a["id"] < older)
            and (not kind or a["activityType"] == kind)
        ][:size]
        for row in rows:
            self._progress(row["id"])
        last = max((a["id"] for a in self.activities), default=0)
        return Response(200, {"lastActivityId": last, "activities": [dict(r) for r in rows]})

    def _progress(self, activity_id: int) -> None:
        """A poll of a running job: it finishes on its last poll or once its time is up."""
        job = self._jobs.get(activity_id)
        if job is None or job.activity["statusCode"] != "START_REQUESTED":
            return
        job.polls_left -= 1
        if job.polls_left > 0 and self.now() < job.finishes_at:
            return
        status, output = job.outcome
        job.activity.update(
            statusCode="COMPLETED",
            status="Completed",
            activityResult="SUCCESS" if status == "succeeded" else "FAILURE",
            message=output,
        )
        if status == "succeeded":
            self._installed(job.run)

    def _installed(self, run: Run) -> None:
        slug = run.parameters.get("app") if run.slug == "reinstall-app" else run.slug
        spec = SOFTWARE.get(slug or "")
        if spec is not None:
            self.installed[run.device_id].add(spec.inventory_name)

    def _software(self, device_id: int) -> list[dict[str, Any]]:
        return [
            {"name": name, "publisher": "", "version": "1.0", "installDate": "2024-05-01T00:00:00Z"}
            for name in sorted(self.installed[device_id])
        ]


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"resultCode": code, "errorMessage": message, "incidentId": "sim"})
