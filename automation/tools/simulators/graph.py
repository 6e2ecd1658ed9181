"""A loopback Entra ID tenant speaking Microsoft Graph v1.0: the client-credentials token
endpoint, users (read, password profile, revokeSignInSessions, memberOf), authentication
methods (list, delete; the default method cannot go while others remain), groups (filter by
displayName, members with `@odata.nextLink` paging, `$ref` add and remove), and OData error
bodies `{"error": {"code", "message"}}`. Tokens expire on the simulator's clock (`advance`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

from tickets.psa.simulators.base import Request, Response, Simulator, iso

PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"  # noqa: S105 (Graph's fixed id)
_FILTER = re.compile(r"displayName eq '((?:[^']|'')*)'")
_COLLECTIONS = {
    "microsoftAuthenticator": "microsoftAuthenticatorMethods",
    "phone": "phoneMethods",
    "softwareOath": "softwareOathMethods",
    "fido2": "fido2Methods",
    "windowsHelloForBusiness": "windowsHelloForBusinessMethods",
    "email": "emailMethods",
    "temporaryAccessPass": "temporaryAccessPassMethods",
}


@dataclass
class _User:
    id: str
    upn: str
    display_name: str
    password: str
    force_change: bool = False
    account_enabled: bool = True
    password_changed_at: dt.datetime | None = None
    sessions_valid_from: dt.datetime | None = None
    methods: list[tuple[str, str]] = field(default_factory=list)  # (kind, id); [0] default


@dataclass
class _Group:
    id: str
    name: str
    members: list[str] = field(default_factory=list)  # user ids, in the order added


class GraphSimulator(Simulator):
    kind = "graph"
    token_lifetime_seconds = 3599
    page_size = 2  # small, so every member listing in the tests pages

    def __init__(self, *, port: int = 0) -> None:
        super().__init__(port=port)
        self.tenant_id = "11111111-2222-3333-4444-555555555555"
        self.client_id = "sim-graph-app"
        self.client_secret = "sim-graph-secret-0123456789abcdef"  # noqa: S105 (a test tenant's)
        self.tokens: dict[str, dt.datetime] = {}
        self.token_requests = 0
        self.users: dict[str, _User] = {}
        self.groups: dict[str, _Group] = {}

    def __enter__(self) -> GraphSimulator:
        self.start()
        return self

    @property
    def graph_base(self) -> str:
        return f"{self.url}/v1.0"

    def add_user(self, upn: str, display_name: str, password: str) -> str:
        with self.lock:
            user = _User(
                id=str(uuid.uuid4()), upn=upn, display_name=display_name, password=password
            )
            self.users[user.id] = user
            return user.id

    def add_group(self, name: str) -> str:
        with self.lock:
            group = _Group(id=str(uuid.uuid4()), name=name)
            self.groups[group.id] = group
            return group.id

    def add_method(self, upn: str, kind: str) -> str:
        """Registers a method ("microsoftAuthenticator", "phone", "fido2"…); the first one
        registered is the user's default."""
        if kind not in _COLLECTIONS:
            raise ValueError(f"unknown method kind {kind!r}")
        with self.lock:
            method_id = str(uuid.uuid4())
            self._user(upn).methods.append((kind, method_id))
            return method_id

    def join(self, upn: str, group: str) -> None:
        with self.lock:
            self._group_named(group).members.append(self._user(upn).id)

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def password_of(self, upn: str) -> str:
        with self.lock:
            return self._user(upn).password

    def force_change(self, upn: str) -> bool:
        with self.lock:
            return self._user(upn).force_change

    def password_changed_at(self, upn: str) -> dt.datetime | None:
        with self.lock:
            return self._user(upn).password_changed_at

    def sessions_revoked_at(self, upn: str) -> dt.datetime | None:
        with self.lock:
            return self._user(upn).sessions_valid_from

    def methods(self, upn: str) -> list[str]:
        """Kinds of the registered methods, the password first."""
        with self.lock:
            return ["password", *(kind for kind, _ in self._user(upn).methods)]

    def members(self, group: str) -> list[str]:
        with self.lock:
            return sorted(self.users[uid].upn for uid in self._group_named(group).members)

    def _user(self, key: str) -> _User:
        key = key.lower()
        for user in self.users.values():
            if key in (user.id, user.upn.lower()):
                return user
        raise LookupError(key)

    def _group_named(self, name: str) -> _Group:
        return next(g for g in self.groups.values() if name in (g.id, g.name))

    def authorized(self, request: Request) -> bool:
        if not request.path.startswith("/v1.0/"):
            return True  # the token endpoint checks the client's credentials itself
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            expires = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            return expires is not None and self.now() < expires

    def route(self, request: Request) -> Response:
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        if parts[1:] == ["oauth2", "v2.0", "token"] and request.method == "POST":
            return self._token(parts[0], request)
        if not parts or parts[0] != "v1.0":
            return _error(404, "Request_ResourceNotFound", f"No route for {request.path}")
        with self.lock:
            if parts[1:2] == ["users"] and len(parts) >= 3:
                return self._users(request, parts[2], parts[3:])
            if parts[1:2] == ["groups"]:
                return self._groups(request, parts[2:])
        return _error(400, "BadRequest", f"Unsupported request: {request.method} {request.path}")

    def _token(self, tenant: str, request: Request) -> Response:
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        offered = (tenant, form.get("client_id", ""), form.get("client_secret", ""))
        expected = (self.tenant_id, self.client_id, self.client_secret)
        with self.lock:
            self.token_requests += 1
        if form.get("grant_type") != "client_credentials" or form.get("scope") != (
            "https://graph.microsoft.com/.default"
        ):
            return Response(
                400, {"error": "invalid_request", "error_description": "AADSTS900144: bad grant."}
            )
        if not all(hmac.compare_digest(a, b) for a, b in zip(offered, expected, strict=True)):
            description = "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 0"
            return Response(401, {"error": "invalid_client", "error_description": description})
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = self.now() + dt.timedelta(seconds=self.token_lifetime_seconds)
        body = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_seconds,
            "access_token": token,
        }
        return Response(200, body)

    def _users(self, request: Request, key: str, rest: list[str]) -> Response:
        try:
            user = self._user(key)
        except LookupError:
            return _not_found(key)
        if not rest and request.method == "GET":
            return Response(200, self._user_json(user))
        if not rest and request.method == "PATCH":
            return self._patch_user(user, request.json())
        if rest == ["revokeSignInSessions"] and request.method == "POST":
            user.sessions_valid_from = self.now()
            return Response(200, {"@odata.context": "$metadata#Edm.Boolean", "value": True})
        if rest == ["memberOf", "microsoft.graph.group"] and request.method == "GET":
            rows = [
                {"@odata.type": "#microsoft.graph.group", "id": g.id, "displayName": g.name}
                for g in self.groups.values()
                if user.id in g.members
            ]
            return self._page(request, rows)
        if rest == ["authentication", "methods"] and request.method == "GET":
            return Response(200, {"value": self._methods_json(user)})
        if len(rest) == 3 and rest[0] == "authentication" and request.method == "DELETE":
            return self._delete_method(user, rest[1], rest[2])
        return _error(400, "BadRequest", f"Unsupported request: {request.method} {request.path}")

    def _user_json(self, user: _User) -> dict[str, Any]:
        return {
            "@odata.context": f"{self.graph_base}/$metadata#users/$entity",
            "id": user.id,
            "userPrincipalName": user.upn,
            "displayName": user.display_name,
            "mail": user.upn,
            "accountEnabled": user.account_enabled,
            "lastPasswordChangeDateTime": _iso(user.password_changed_at),
            "signInSessionsValidFromDateTime": _iso(user.sessions_valid_from),
        }

    def _patch_user(self, user: _User, body: dict[str, Any]) -> Response:
        profile = body.get("passwordProfile")
        if isinstance(profile, dict) and "password" in profile:
            password = str(profile["password"])
            if not _complex(password):
                return _error(
                    400,
                    "Request_BadRequest",
                    "The specified password does not comply with password complexity "
                    "requirements. Please provide a different password.",
                )
            user.password = password
            user.force_change = bool(profile.get("forceChangePasswordNextSignIn", False))
            user.password_changed_at = self.now()
        if "accountEnabled" in body:
            user.account_enabled = bool(body["accountEnabled"])
        return Response(204)

    def _methods_json(self, user: _User) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {
                "@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
                "id": PASSWORD_METHOD_ID,
            }
        ]
        for kind, method_id in user.methods:
            rows.append(
                {"@odata.type": f"#microsoft.graph.{kind}AuthenticationMethod", "id": method_id}
            )
        return rows

    def _delete_method(self, user: _User, collection: str, method_id: str) -> Response:
        index = next(
            (
                i
                for i, (kind, mid) in enumerate(user.methods)
                if mid == method_id and _COLLECTIONS[kind] == collection
            ),
            None,
        )
        if index is None:
            return _not_found(method_id)
        if index == 0 and len(user.methods) > 1:
            return _error(
                400,
                "badRequest",
                "Cannot delete default method with other methods configured. Please change "
                "default method before deletion.",
            )
        del user.methods[index]
        return Response(204)

    def _groups(self, request: Request, rest: list[str]) -> Response:
        if not rest and request.method == "GET":
            return self._filter_groups(request)
        group = self.groups.get(rest[0]) if rest else None
        if group is None:
            return _not_found(rest[0] if rest else "")
        if rest[1:] == ["members"] and request.method == "GET":
            rows = [
                {
                    "@odata.type": "#microsoft.graph.user",
                    "id": uid,
                    "userPrincipalName": self.users[uid].upn,
                }
                for uid in group.members
            ]
            return self._page(request, rows)
        if rest[1:] == ["members", "$ref"] and request.method == "POST":
            return self._add_member(group, str(request.json().get("@odata.id") or ""))
        if (
            len(rest) == 4
            and rest[1] == "members"
            and rest[3] == "$ref"
            and request.method == "DELETE"
        ):
            if rest[2] not in group.members:
                return _not_found(rest[2])
            group.members.remove(rest[2])
            return Response(204)
        return _error(400, "BadRequest", f"Unsupported request: {request.method} {request.path}")

    def _filter_groups(self, request: Request) -> Response:
        clause = request.arg("$filter")
        match = _FILTER.fullmatch(clause)
        if match is None:
            return _error(400, "BadRequest", f"Invalid filter clause: {clause}")
        name = match.group(1).replace("''", "'")
        rows = [{"id": g.id, "displayName": g.name} for g in self.groups.values() if g.name == name]
        return Response(200, {"value": rows})

    def _add_member(self, group: _Group, reference: str) -> Response:
        user_id = reference.rpartition("/directoryObjects/")[2]
        if user_id not in self.users:
            return _not_found(user_id)
        if user_id in group.members:
            return _error(
                400,
                "Request_BadRequest",
                "One or more added object references already exist for the following "
                "modified properties: 'members'.",
            )
        group.members.append(user_id)
        return Response(204)

    def _page(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        skip = int(request.arg("$skiptoken") or 0)
        body: dict[str, Any] = {"value": rows[skip : skip + self.page_size]}
        if skip + self.page_size < len(rows):
            query = {k: v[0] for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = str(skip + self.page_size)
            body["@odata.nextLink"] = f"{self.url}{request.path}?{urlencode(query)}"
        return Response(200, body)


def _complex(password: str) -> bool:
    """Entra's default rule: 8 to 256 characters, three of the four character classes."""
    classes = (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
    present = sum(any(test(c) for c in password) for test in classes)
    return 8 <= len(password) <= 256 and present >= 3


def _iso(moment: dt.datetime | None) -> str | None:
    return iso(moment) if moment else None


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


def _not_found(key: str) -> Response:
    return _error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )
