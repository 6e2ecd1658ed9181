"""Microsoft Graph v1.0 (Entra ID) for the identity actions: reset a password, revoke
sign-in sessions, re-enrol MFA (remove the registered methods), and change group membership.

The app authenticates with the client-credentials grant. It needs the application
permissions User.Read.All, User.RevokeSessions.All, UserAuthenticationMethod.ReadWrite.All
and GroupMember.ReadWrite.All; resetting a password also needs User-PasswordProfile.ReadWrite.All
(or the app holding the User Administrator role), and Entra refuses to reset an administrator's
password from an app that is not itself privileged enough.

Every change has a read-back an executor verifies with: `user()` shows
`password_changed_at` and `sessions_valid_from` moving forward, `mfa_methods()` the methods
left, `group_members()` the membership. Only group membership can be undone (add ↔ remove).
Passwords are sent in request bodies only; they never reach a log line or an error message.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import httpx2

from automation.tools.base import HttpTool, ToolError
from tickets.psa.http import TRANSIENT_STATUSES, retry_after_seconds

TOKEN_MARGIN_SECONDS = 120.0
USER_FIELDS = (
    "id,userPrincipalName,displayName,mail,accountEnabled,"
    "lastPasswordChangeDateTime,signInSessionsValidFromDateTime"
)
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")

# @odata.type of each method an MFA reset removes → the collection it is deleted from. The
# password method cannot be deleted (it is reset instead); any type not listed is left alone.
REMOVABLE_METHODS = {
    f"#microsoft.graph.{kind}AuthenticationMethod": f"{kind}Methods"
    for kind in (
        "microsoftAuthenticator",
        "phone",
        "softwareOath",
        "fido2",
        "windowsHelloForBusiness",
        "email",
        "temporaryAccessPass",
        "platformCredential",
    )
}


class GraphError(ToolError):
    """A failed Graph call, with the HTTP status and Graph's error code (for example
    `Request_ResourceNotFound`) so callers can tell "not there" from "not allowed"."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "",
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, transient=transient, retry_after=retry_after)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class GraphConfig:
    tenant_id: str
    client_id: str
    client_secret: str
    graph_base: str = "https://graph.microsoft.com/v1.0"
    login_base: str = "https://login.microsoftonline.com"
    timeout: float = 15.0

    def __repr__(self) -> str:  # the secret must not reach a log through a repr
        return f"GraphConfig(tenant_id={self.tenant_id!r}, client_id={self.client_id!r}, …)"


@dataclass(frozen=True)
class GraphUser:
    id: str
    upn: str
    display_name: str
    mail: str
    account_enabled: bool
    password_changed_at: dt.datetime | None
    sessions_valid_from: dt.datetime | None
    groups: tuple[str, ...] | None = None  # display names; None when not asked for


@dataclass(frozen=True)
class AuthMethod:
    id: str
    odata_type: str  # "#microsoft.graph.phoneAuthenticationMethod"

    @property
    def kind(self) -> str:
        """The type without its decoration: "phone", "microsoftAuthenticator", "password"…"""
        name = self.odata_type.rpartition(".")[2]
        return name.removesuffix("AuthenticationMethod")

    @property
    def removable(self) -> bool:
        return self.odata_type in REMOVABLE_METHODS


@dataclass(frozen=True)
class _Group:
    id: str
    display_name: str


class GraphClient(HttpTool):
    """One tenant. The token is cached until shortly before it expires and fetched again
    once when Graph answers 401 (an app secret can be rotated, a token revoked). `clock`
    is injectable so tests can expire the cached token without waiting."""

    token_margin_seconds = TOKEN_MARGIN_SECONDS

    def __init__(self, config: GraphConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._http = httpx2.Client(timeout=config.timeout)
        self._token = ""
        self._token_expires = 0.0
        self.requests_made = 0

    def user(self, upn_or_id: str, *, with_groups: bool = False) -> GraphUser:
        """The user, or a GraphError (not transient) naming the UPN when there is none."""
        try:
            data = self._api(
                "GET", f"/users/{_segment(upn_or_id)}", params={"$select": USER_FIELDS}
            )
        except GraphError as error:
            if error.status == 404:
                raise GraphError(
                    f"No user {upn_or_id!r} in the tenant; check the user principal name.",
                    status=404,
                    code=error.code,
                ) from None
            raise
        user = _user(data)
        if not with_groups:
            return user
        path = f"/users/{_segment(user.id)}/memberOf/microsoft.graph.group"
        rows = self._pages(path, {"$select": "id,displayName"})
        groups = tuple(sorted(str(row.get("displayName") or "") for row in rows))
        return replace(user, groups=groups)

    def reset_password(
        self, user: GraphUser | str, new_password: str, *, force_change: bool = True
    ) -> None:
        """Sets the password; with `force_change` the user must choose their own at the next
        sign-in. Verify with `user().password_changed_at`. Cannot be undone."""
        profile = {"password": new_password, "forceChangePasswordNextSignIn": force_change}
        self._api("PATCH", f"/users/{_segment(_ref(user))}", json={"passwordProfile": profile})

    def revoke_sessions(self, user: GraphUser | str) -> None:
        """Invalidates every refresh token and browser session cookie: the user signs in
        again everywhere. Verify with `user().sessions_valid_from`."""
        data = self._api("POST", f"/users/{_segment(_ref(user))}/revokeSignInSessions")
        if not (isinstance(data, dict) and data.get("value") is True):
            raise GraphError("Microsoft Graph did not confirm that the sessions were revoked.")

    def mfa_methods(self, user: GraphUser | str) -> list[AuthMethod]:
        """Every registered method, the password included."""
        rows = self._pages(f"/users/{_segment(_ref(user))}/authentication/methods", {})
        return [
            AuthMethod(id=str(r.get("id") or ""), odata_type=str(r.get("@odata.type") or ""))
            for r in rows
        ]

    def reset_mfa(self, user: GraphUser | str) -> int:
        """Removes every removable method so the user registers MFA again at next sign-in;
        returns how many were removed. Entra refuses to delete the default method while
        others remain, so a method refused that way is retried once the others are gone."""
        user_id = _ref(user)
        pending = [m for m in self.mfa_methods(user_id) if m.removable]
        removed = 0
        for _ in range(2):
            refused: list[AuthMethod] = []
            for method in pending:
                try:
                    self._delete_method(user_id, method)
                    removed += 1
                except GraphError as error:
                    if error.status == 404:
                        continue  # removed meanwhile: the outcome we want
                    if error.status != 400 or "default" not in str(error).lower():
                        raise
                    refused.append(method)
            pending = refused
            if not pending:
                return removed
        kinds = ", ".join(m.kind for m in pending)
        raise GraphError(f"Microsoft Graph kept refusing to remove: {kinds} ({removed} removed).")

    def _delete_method(self, user_id: str, method: AuthMethod) -> None:
        collection = REMOVABLE_METHODS[method.odata_type]
        path = f"/users/{_segment(user_id)}/authentication/{collection}/{_segment(method.id)}"
        self._api("DELETE", path)

    def add_member(self, user: GraphUser | str, group: str) -> bool:
        """Adds the user to the group (by id or display name); False when already a member.
        Undo with `remove_member`."""
        group_id = self._group(group).id
        user_id = self._user_id(user)
        body = {"@odata.id": f"{self.config.graph_base}/directoryObjects/{user_id}"}
        try:
            self._api("POST", f"/groups/{_segment(group_id)}/members/$ref", json=body)
        except GraphError as error:
            if error.status == 400 and "already exist" in str(error):
                return False
            raise
        return True

    def remove_member(self, user: GraphUser | str, group: str) -> bool:
        """Removes the user from the group; False when they were not a member. Undo with
        `add_member`."""
        group_id = self._group(group).id
        user_id = self._user_id(user)
        path = f"/groups/{_segment(group_id)}/members/{_segment(user_id)}/$ref"
        try:
            self._api("DELETE", path)
        except GraphError as error:
            if error.status == 404:
                return False
            raise
        return True

    def group_members(self, group: str) -> tuple[str, ...]:
        """The UPNs of the group's user members, sorted (nested groups and devices are left
        out: they have no UPN)."""
        path = f"/groups/{_segment(self._group(group).id)}/members"
        rows = self._pages(path, {"$select": "id,userPrincipalName"})
        return tuple(
            sorted(str(r["userPrincipalName"]) for r in rows if r.get("userPrincipalName"))
        )

    def _group(self, group: str) -> _Group:
        if _GUID.fullmatch(group):
            return _Group(id=group, display_name="")
        escaped = group.replace("'", "''")
        params = {"$filter": f"displayName eq '{escaped}'", "$select": "id,displayName"}
        rows = list(self._pages("/groups", params))
        if not rows:
            raise GraphError(f"No group named {group!r} in the tenant.", status=404)
        if len(rows) > 1:
            raise GraphError(
                f"{len(rows)} groups are named {group!r}; use the group's object id instead."
            )
        return _Group(id=str(rows[0]["id"]), display_name=str(rows[0].get("displayName") or ""))

    def _user_id(self, user: GraphUser | str) -> str:
        """Object id: `$ref` bodies and member paths do not accept a UPN."""
        if isinstance(user, GraphUser):
            return user.id
        return user if _GUID.fullmatch(user) else self.user(user).id

    def _pages(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Rows of a collection, following `@odata.nextLink` (an absolute URL carrying the
        query and skip token)."""
        data = self._api("GET", path, params=params)
        while True:
            yield from (row for row in _value(data) if isinstance(row, dict))
            next_link = data.get("@odata.nextLink") if isinstance(data, dict) else None
            if not next_link:
                return
            data = self._api("GET", str(next_link))

    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        url = path if path.startswith("http") else f"{self.config.graph_base}{path}"
        try:
            return self._send(method, url, headers=self._authorization(), **kwargs)
        except GraphError as error:
            if error.status != 401:
                raise
        self._token = ""
        return self._send(method, url, headers=self._authorization(), **kwargs)

    def _authorization(self) -> dict[str, str]:
        if not self._token or self._clock() >= self._token_expires:
            self._authenticate()
        return {"Authorization": f"Bearer {self._token}"}

    def _authenticate(self) -> None:
        url = f"{self.config.login_base}/{quote(self.config.tenant_id, safe='')}/oauth2/v2.0/token"
        form = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "scope": "https://graph.microsoft.com/.default",
            "grant_type": "client_credentials",
        }
        try:
            data = self._send("POST", url, data=form)
        except GraphError as error:
            if error.status in (400, 401):
                raise GraphError(
                    f"Entra ID refused the app's client id and secret ({error}); check the "
                    "tenant id, the client id and that the secret has not expired.",
                    status=error.status,
                    code=error.code,
                ) from None
            raise
        self._keep_token(data, error=GraphError, issuer="Entra ID's")

    def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        where = f"{method} {httpx2.URL(url).path}"
        answer = self._transport(method, url, error=GraphError, label="Microsoft Graph", **kwargs)
        if answer.status_code >= 400:
            code, message = _odata_error(answer)
            raise GraphError(
                f"Microsoft Graph: {where} answered {answer.status_code}"
                f"{f' ({code})' if code else ''}: {message}",
                status=answer.status_code,
                code=code,
                transient=answer.status_code in TRANSIENT_STATUSES,
                retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
            )
        if not answer.content:
            return None
        try:
            return answer.json()
        except ValueError:
            raise GraphError(f"Microsoft Graph: {where} answered with a non-JSON body.") from None


def _odata_error(answer: httpx2.Response) -> tuple[str, str]:
    """(code, message) from `{"error": {"code", "message"}}` or the token endpoint's
    `{"error": "...", "error_description": "..."}`."""
    try:
        data = answer.json()
    except ValueError:
        return "", (answer.text[:200] or answer.reason_phrase)
    if not isinstance(data, dict):
        return "", str(data)[:200]
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")[:300]
    if isinstance(error, str):
        description = str(data.get("error_description") or "").split("\r\n")[0]
        return error, description[:300]
    return "", str(data.get("message") or data)[:300]


def _user(data: Any) -> GraphUser:
    if not isinstance(data, dict) or not data.get("id"):
        raise GraphError("Microsoft Graph answered a user without an id.")
    return GraphUser(
        id=str(data["id"]),
        upn=str(data.get("userPrincipalName") or ""),
        display_name=str(data.get("displayName") or ""),
        mail=str(data.get("mail") or ""),
        account_enabled=bool(data.get("accountEnabled")),
        password_changed_at=_time(data.get("lastPasswordChangeDateTime")),
        sessions_valid_from=_time(data.get("signInSessionsValidFromDateTime")),
    )


def _value(data: Any) -> list[Any]:
    value = data.get("value") if isinstance(data, dict) else None
    return value if isinstance(value, list) else []


def _ref(user: GraphUser | str) -> str:
    return user.id if isinstance(user, GraphUser) else user


def _segment(value: str) -> str:
    """A path segment: a UPN may hold `#` (guests: `…#EXT#@…`) or `/`, which must be encoded."""
    return quote(value, safe="@")


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
