"""The directory tool: read an account, reset a password, force a change at next logon, unlock,
and change group membership in a customer's LDAP directory (OpenLDAP with the ppolicy and
memberof overlays; Active Directory's attribute differences are implemented but untested
against a real AD).

Built for executors that (1) make a change, (2) verify it by reading it back (`account()`,
`members()`, `check_password()`), and (3) undo it where that means something (`add_member`
↔ `remove_member`, `force_change_at_next_logon(required=False)`); a password reset or an
unlock has no undo. Every change is idempotent, so transient failures are retried.

Usernames and group names are matched literally: they are escaped before they go into a
search filter and are never pasted into a DN. Passwords never appear in a message, and
`DirectoryConfig`'s repr leaves the bind password out.
"""

from __future__ import annotations

import contextlib
import math
import re
import ssl
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from ldap3 import BASE, MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, NONE, SUBTREE, Tls
from ldap3 import Connection as LdapConnection
from ldap3 import Server as LdapServer
from ldap3.core import exceptions as ldap_errors
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from automation.tools.base import ToolError, with_retries

T = TypeVar("T")
# ldap3's modify request: attribute → [(operation, values)]; a control: (oid, critical, value).
Changes = dict[str, list[tuple[str, list[Any]]]]
Control = tuple[str, bool, bytes | None]

PPOLICY_CONTROL = "1.3.6.1.4.1.42.2.27.8.5.1"
# Lets the rootdn (or a DN with `manage` access) clear pwdFailureTime, which is otherwise
# NO-USER-MODIFICATION.
RELAX_CONTROL = "1.3.6.1.4.1.4203.666.5.12"
# OpenLDAP ppolicy's value for "locked by an administrator until further notice".
OPENLDAP_DISABLED = "000001010000Z"
AD_ACCOUNTDISABLE = 0x2
AD_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
MAX_NAME_LENGTH = 256
EMPTY_GROUP_CLASSES = frozenset({"groupofnames", "groupofuniquenames"})

# Whether retrying can help: the server was unreachable, timed out, or said it is busy.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    ldap_errors.LDAPCommunicationError,
    ldap_errors.LDAPResponseTimeoutError,
    ldap_errors.LDAPBusyResult,
    ldap_errors.LDAPUnavailableResult,
    ldap_errors.LDAPTimeLimitExceededResult,
    OSError,
)
TRANSIENT_RESULT_CODES = frozenset({3, 51, 52})

# Result codes of a ppolicy control's `error` field (draft-behera-ldap-password-policy).
PP_PASSWORD_EXPIRED, PP_ACCOUNT_LOCKED, PP_CHANGE_AFTER_RESET = 0, 1, 2

# Active Directory puts why a bind failed in the diagnostic message ("…, data 775, …").
AD_BIND_DATA = re.compile(r"\bdata ([0-9a-f]{3,8})\b", re.IGNORECASE)
AD_LOCKED_CODES = frozenset({"775", "533", "701"})  # locked out, disabled, account expired
AD_MUST_CHANGE_CODES = frozenset({"773", "532"})  # must reset, password expired


@dataclass(frozen=True)
class DirectoryConfig:
    """Where the directory is and how the service account binds. `kind="ad"` switches to
    Active Directory's attributes (use `for_active_directory`); AD accepts password changes
    only over `ldaps://`. `ca_file` names the CA bundle that signs an ldaps:// server's
    certificate (the system's when None); certificates are always verified."""

    url: str
    bind_dn: str
    bind_password: str = field(repr=False)
    users_base: str
    groups_base: str
    user_attribute: str = "uid"
    group_class: str = "groupOfNames"
    member_attribute: str = "member"
    timeout: float = 10.0
    kind: Literal["openldap", "ad"] = "openldap"
    attempts: int = 3
    ca_file: str | None = None

    @classmethod
    def for_active_directory(cls, **values: Any) -> DirectoryConfig:
        """AD defaults: sAMAccountName logins and `group` objects (untested against AD)."""
        defaults: dict[str, Any] = {
            "user_attribute": "sAMAccountName",
            "group_class": "group",
            "kind": "ad",
        }
        return cls(**{**defaults, **values})


@dataclass(frozen=True)
class Account:
    """One person's directory account as read back; `exists=False` (and empty fields) when no
    entry has that username. `groups` are the cns of the groups in its memberOf."""

    username: str
    dn: str
    display_name: str
    email: str
    exists: bool
    locked: bool
    locked_since: datetime | None
    must_change_password: bool
    disabled: bool
    groups: tuple[str, ...]


class BindOutcome(Enum):
    """What happened when a user signed in with a password. LOCKED means the server refuses
    the account whatever the password, until an administrator acts (for AD this includes a
    disabled or expired account; `Directory.account` tells which)."""

    OK = "ok"
    INVALID = "invalid"
    LOCKED = "locked"
    MUST_CHANGE = "must_change"


@dataclass(frozen=True)
class _Entry:
    dn: str
    attributes: dict[str, list[str]]  # lower-cased attribute names

    def first(self, name: str) -> str:
        values = self.attributes.get(name.lower(), [])
        return values[0] if values else ""


class Directory:
    """A session with one customer directory, bound as the service account on first use and
    closed on `close()` or leaving the `with` block. Not thread-safe: one per task."""

    def __init__(
        self, config: DirectoryConfig, *, sleep: Callable[[float], object] = time.sleep
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._connection: LdapConnection | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # The server may have gone away first: then there is nothing left to close.
            with contextlib.suppress(ldap_errors.LDAPException, OSError):
                connection.unbind()

    def account(self, username: str) -> Account:
        """The account named `username`, or one with `exists=False`."""
        name = _checked_name(username, "username")
        entry = self._retrying("read the account", lambda: self._find_user(name))
        if entry is None:
            return Account(name, "", "", "", False, False, None, False, False, ())
        return self._account(name, entry)

    def reset_password(self, username: str, new_password: str, *, must_change: bool = True) -> None:
        """Set a new password as an administrator. With `must_change` the user must change it
        at next logon (OpenLDAP enforces that only where the password policy has
        `pwdMustChange: TRUE`); without it a pending forced change is cleared."""
        name = _checked_name(username, "username")
        if not new_password:
            raise ToolError("A new password is required: the reset was not attempted.")
        if self.config.kind == "ad" and not self.config.url.lower().startswith("ldaps://"):
            raise ToolError(
                "Active Directory accepts a new password only over an encrypted connection: "
                "set the directory URL to ldaps://."
            )
        self._retrying(
            "reset the password",
            lambda: self._reset_password(name, new_password, must_change),
            secrets=(new_password,),
        )

    def force_change_at_next_logon(self, username: str, *, required: bool = True) -> None:
        """Make the user choose a new password at next logon; `required=False` undoes that."""
        name = _checked_name(username, "username")
        self._retrying("set change-at-next-logon", lambda: self._set_must_change(name, required))

    def unlock(self, username: str) -> None:
        """Lift a lockout after too many failed logons and forget those failures (else the
        next mistake would lock the account again). A no-op if the account is not locked;
        refused for an account an administrator disabled, which this tool does not re-enable."""
        name = _checked_name(username, "username")
        self._retrying("unlock the account", lambda: self._unlock(name))

    def add_member(self, username: str, group: str) -> bool:
        """Put the user in the group; False if they already were."""
        name = _checked_name(username, "username")
        group_name = _checked_name(group, "group name")
        return self._retrying("add the group member", lambda: self._add_member(name, group_name))

    def remove_member(self, username: str, group: str) -> bool:
        """Take the user out of the group; False if they were not in it. Refused for the last
        member of a groupOfNames: that schema forbids an empty group."""
        name = _checked_name(username, "username")
        group_name = _checked_name(group, "group name")
        return self._retrying(
            "remove the group member", lambda: self._remove_member(name, group_name)
        )

    def members(self, group: str) -> tuple[str, ...]:
        """Usernames of the group's members, sorted (nested groups and entries without the
        username attribute are left out)."""
        group_name = _checked_name(group, "group name")
        return self._retrying("list the group members", lambda: self._members(group_name))

    def check_password(self, username: str, password: str) -> BindOutcome:
        """Sign in as the user to learn whether `password` works now. A wrong password counts
        towards the lockout like any failed logon, so the bind itself is never retried."""
        name = _checked_name(username, "username")
        if not password:
            return BindOutcome.INVALID  # an empty simple bind is anonymous and would "succeed"
        entry = self._retrying("find the account", lambda: self._find_user(name))
        if entry is None:
            return BindOutcome.INVALID
        try:
            return self._bind_outcome(entry.dn, password)
        except (ldap_errors.LDAPException, OSError) as error:
            raise self._tool_error("check the password", error, (password,)) from None

    def _reset_password(self, name: str, new_password: str, must_change: bool) -> None:
        entry = self._require_user(name)
        if self.config.kind == "ad":
            # AD takes the password quoted and UTF-16LE encoded, and only over ldaps.
            quoted = f'"{new_password}"'.encode("utf-16-le")
            self._modify(entry.dn, {"unicodePwd": [(MODIFY_REPLACE, [quoted])]})
        else:
            # The password-modify extended operation lets the ppolicy overlay hash it.
            self._bound().extend.standard.modify_password(user=entry.dn, new_password=new_password)
        self._write_must_change(entry.dn, must_change)

    def _set_must_change(self, name: str, required: bool) -> None:
        self._write_must_change(self._require_user(name).dn, required)

    def _write_must_change(self, dn: str, required: bool) -> None:
        if self.config.kind == "ad":
            # 0 expires the password now; -1 sets pwdLastSet to the current time.
            change: Changes = {"pwdLastSet": [(MODIFY_REPLACE, ["0" if required else "-1"])]}
        else:
            # Replacing with no values deletes the attribute, and is no error when absent.
            change = {"pwdReset": [(MODIFY_REPLACE, ["TRUE"] if required else [])]}
        self._modify(dn, change)

    def _unlock(self, name: str) -> None:
        entry = self._require_user(name)
        account = self._account(name, entry)
        if account.disabled:
            raise ToolError(
                f"The account {name!r} was disabled by an administrator, not locked out by "
                "failed logons; it was left as it is. Re-enable it in the directory if that "
                "is intended."
            )
        if not account.locked:
            return
        if self.config.kind == "ad":
            self._modify(entry.dn, {"lockoutTime": [(MODIFY_REPLACE, ["0"])]})
            return
        self._unlock_openldap(entry.dn)

    def _unlock_openldap(self, dn: str) -> None:
        """Delete the lock and the failure history together; a service account without
        `manage` rights cannot clear pwdFailureTime, and then only the lock goes."""
        both: Changes = {
            "pwdAccountLockedTime": [(MODIFY_REPLACE, [])],
            "pwdFailureTime": [(MODIFY_REPLACE, [])],
        }
        try:
            self._modify(dn, both, controls=[(RELAX_CONTROL, True, None)])
        except (
            ldap_errors.LDAPUnavailableCriticalExtensionResult,
            ldap_errors.LDAPConstraintViolationResult,
            ldap_errors.LDAPInsufficientAccessRightsResult,
        ):
            self._modify(dn, {"pwdAccountLockedTime": [(MODIFY_REPLACE, [])]})

    def _add_member(self, name: str, group: str) -> bool:
        user = self._require_user(name)
        found = self._require_group(group)
        if _dn_key(user.dn) in {_dn_key(dn) for dn in self._member_dns(found)}:
            return False
        change: Changes = {self.config.member_attribute: [(MODIFY_ADD, [user.dn])]}
        try:
            self._modify(found.dn, change)
        except ldap_errors.LDAPAttributeOrValueExistsResult:
            return False  # added by someone else since we looked
        return True

    def _remove_member(self, name: str, group: str) -> bool:
        user = self._require_user(name)
        found = self._require_group(group)
        stored = [dn for dn in self._member_dns(found) if _dn_key(dn) == _dn_key(user.dn)]
        if not stored:
            return False
        last = len(self._member_dns(found)) == len(stored)
        if last and self.config.group_class.lower() in EMPTY_GROUP_CLASSES:
            raise self._last_member_error(name, group)
        change: Changes = {self.config.member_attribute: [(MODIFY_DELETE, stored)]}
        try:
            self._modify(found.dn, change)
        except ldap_errors.LDAPNoSuchAttributeResult:
            return False  # removed by someone else since we looked
        except ldap_errors.LDAPObjectClassViolationResult:
            raise self._last_member_error(name, group) from None
        return True

    def _last_member_error(self, name: str, group: str) -> ToolError:
        return ToolError(
            f"{name!r} is the last member of {group!r}, and a {self.config.group_class} "
            "cannot be empty (the directory schema requires at least one member). Add "
            "another member first, or delete the group instead."
        )

    def _members(self, group: str) -> tuple[str, ...]:
        found = self._require_group(group)
        names = (self._username_of(dn) for dn in self._member_dns(found))
        return tuple(sorted({name for name in names if name}))

    def _username_of(self, dn: str) -> str:
        """The username in a member DN's first RDN when that is the username attribute
        (OpenLDAP's usual `uid=…`), else read from the entry (AD's `CN=Full Name`)."""
        attribute, value = _first_rdn(dn)
        if attribute.lower() == self.config.user_attribute.lower():
            return value
        try:
            entry = self._read(dn, [self.config.user_attribute])
        except ldap_errors.LDAPNoSuchObjectResult:
            return ""
        return entry.first(self.config.user_attribute) if entry else ""

    def _member_dns(self, group: _Entry) -> list[str]:
        return group.attributes.get(self.config.member_attribute.lower(), [])

    def _account(self, name: str, entry: _Entry) -> Account:
        groups = tuple(sorted(_first_rdn(dn)[1] for dn in entry.attributes.get("memberof", [])))
        state = _ad_state(entry) if self.config.kind == "ad" else _openldap_state(entry)
        return Account(
            username=entry.first(self.config.user_attribute) or name,
            dn=entry.dn,
            display_name=entry.first("displayName") or entry.first("cn"),
            email=entry.first("mail"),
            exists=True,
            locked=state.locked,
            locked_since=state.locked_since,
            must_change_password=state.must_change,
            disabled=state.disabled,
            groups=groups,
        )

    def _bind_outcome(self, dn: str, password: str) -> BindOutcome:
        connection = LdapConnection(
            self._server(),
            user=dn,
            password=password,
            receive_timeout=self._receive_timeout(),
            raise_exceptions=False,
        )
        try:
            connection.open()
            controls = [(PPOLICY_CONTROL, False, None)] if self.config.kind == "openldap" else None
            bound = bool(connection.bind(controls=controls))
            result: dict[str, Any] = connection.result or {}
        finally:
            connection.unbind()
        code = int(result.get("result", -1))
        if not bound and code != 49:
            reason = f"{result.get('description', 'error')} ({result.get('message', '')})"
            raise ToolError(
                f"Could not check the password in the directory at {self.config.url}: {reason}",
                transient=code in TRANSIENT_RESULT_CODES,
            )
        if self.config.kind == "ad":
            return _ad_bind_outcome(bound, str(result.get("message", "")))
        return _openldap_bind_outcome(bound, _ppolicy_error(result))

    def _find_user(self, name: str) -> _Entry | None:
        attribute = self.config.user_attribute
        entries = self._search(
            self.config.users_base,
            f"({attribute}={escape_filter_chars(name)})",
            [attribute, "cn", "displayName", "mail", "memberOf", *self._state_attributes()],
        )
        return self._single(entries, f"accounts named {name!r}")

    def _state_attributes(self) -> list[str]:
        if self.config.kind == "ad":
            return ["lockoutTime", "pwdLastSet", "userAccountControl"]
        return ["pwdAccountLockedTime", "pwdReset"]

    def _require_user(self, name: str) -> _Entry:
        entry = self._find_user(name)
        if entry is None:
            raise ToolError(
                f"No account named {name!r} under {self.config.users_base} "
                f"(matched on {self.config.user_attribute}); check the username."
            )
        return entry

    def _require_group(self, name: str) -> _Entry:
        search = f"(&(objectClass={self.config.group_class})(cn={escape_filter_chars(name)}))"
        entries = self._search(self.config.groups_base, search, [self.config.member_attribute])
        entry = self._single(entries, f"groups named {name!r}")
        if entry is None:
            raise ToolError(
                f"No group named {name!r} under {self.config.groups_base}; check the group name."
            )
        return entry

    def _single(self, entries: list[_Entry], what: str) -> _Entry | None:
        if len(entries) > 1:
            raise ToolError(f"The directory has {len(entries)} {what}; refusing to guess which.")
        return entries[0] if entries else None

    def _read(self, dn: str, attributes: list[str]) -> _Entry | None:
        entries = self._search(dn, "(objectClass=*)", attributes, scope=BASE)
        return entries[0] if entries else None

    def _search(
        self, base: str, search: str, attributes: list[str], scope: Any = SUBTREE
    ) -> list[_Entry]:
        connection = self._bound()
        connection.search(
            base, search, scope, attributes=attributes, time_limit=int(self.config.timeout)
        )
        return [
            _entry(item)
            for item in connection.response or []
            if item.get("type") == "searchResEntry"
        ]

    def _modify(self, dn: str, changes: Changes, controls: list[Control] | None = None) -> None:
        """One modify request (errors raise: the connection has raise_exceptions)."""
        self._bound().modify(dn, changes, controls=controls)  # type: ignore[no-untyped-call]

    def _bound(self) -> LdapConnection:
        """The service account's connection, opened and bound on first use."""
        if self._connection is None:
            connection = LdapConnection(
                self._server(),
                user=self.config.bind_dn,
                password=self.config.bind_password,
                receive_timeout=self._receive_timeout(),
                raise_exceptions=True,
            )
            try:
                connection.open()
                connection.bind()
            except ldap_errors.LDAPInvalidCredentialsResult:
                connection.unbind()
                raise ToolError(
                    f"The directory at {self.config.url} refused the service account "
                    f"{self.config.bind_dn}: check its bind DN and password in the settings."
                ) from None
            except BaseException:
                connection.unbind()
                raise
            self._connection = connection
        return self._connection

    def _receive_timeout(self) -> int:
        """ldap3 packs the socket's receive time-out as whole seconds."""
        return max(1, math.ceil(self.config.timeout))

    def _server(self) -> LdapServer:
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.config.ca_file)
        return LdapServer(
            self.config.url, connect_timeout=self.config.timeout, get_info=NONE, tls=tls
        )

    def _retrying(self, doing: str, call: Callable[[], T], secrets: tuple[str, ...] = ()) -> T:
        """`call()` with ldap3's errors as ToolErrors, retried while they are transient."""

        def attempt() -> T:
            try:
                return call()
            except (ldap_errors.LDAPException, OSError) as error:
                raise self._tool_error(doing, error, secrets) from None

        return with_retries(attempt, attempts=self.config.attempts, sleep=self._sleep)

    def _tool_error(self, doing: str, error: BaseException, secrets: tuple[str, ...]) -> ToolError:
        transient = isinstance(error, TRANSIENT_ERRORS)
        if transient:
            self.close()  # the next attempt reconnects
        message = f"Could not {doing} in the directory at {self.config.url}: {_reason(error)}"
        return ToolError(
            _scrub(message, (self.config.bind_password, *secrets)), transient=transient
        )


@dataclass(frozen=True)
class _State:
    locked: bool
    locked_since: datetime | None
    must_change: bool
    disabled: bool


def _openldap_state(entry: _Entry) -> _State:
    locked_time = entry.first("pwdAccountLockedTime")
    disabled = locked_time == OPENLDAP_DISABLED
    locked = bool(locked_time) and not disabled
    return _State(
        locked=locked,
        locked_since=_generalized_time(locked_time) if locked else None,
        must_change=entry.first("pwdReset").upper() == "TRUE",
        disabled=disabled,
    )


def _ad_state(entry: _Entry) -> _State:
    """AD's lockoutTime stays set after the lockout duration ends, until the next logon; so
    `locked` may be stale on domains whose lockouts expire by themselves."""
    lockout = _int(entry.first("lockoutTime"))
    return _State(
        locked=lockout > 0,
        locked_since=AD_EPOCH + timedelta(microseconds=lockout // 10) if lockout > 0 else None,
        must_change=entry.first("pwdLastSet") == "0",
        disabled=bool(_int(entry.first("userAccountControl")) & AD_ACCOUNTDISABLE),
    )


def _openldap_bind_outcome(bound: bool, policy_error: int | None) -> BindOutcome:
    if policy_error == PP_ACCOUNT_LOCKED:
        return BindOutcome.LOCKED
    if policy_error in (PP_CHANGE_AFTER_RESET, PP_PASSWORD_EXPIRED):
        return BindOutcome.MUST_CHANGE
    return BindOutcome.OK if bound else BindOutcome.INVALID


def _ad_bind_outcome(bound: bool, message: str) -> BindOutcome:
    if bound:
        return BindOutcome.OK
    found = AD_BIND_DATA.search(message)
    code = found.group(1).lower() if found else ""
    if code in AD_LOCKED_CODES:
        return BindOutcome.LOCKED
    if code in AD_MUST_CHANGE_CODES:
        return BindOutcome.MUST_CHANGE
    return BindOutcome.INVALID


def _ppolicy_error(result: dict[str, Any]) -> int | None:
    """The `error` field of the password-policy response control, if the server sent one."""
    control = (result.get("controls") or {}).get(PPOLICY_CONTROL)
    value = control.get("value") if isinstance(control, dict) else None
    return _decode_ppolicy_error(value) if isinstance(value, bytes) else None


def _decode_ppolicy_error(value: bytes) -> int | None:
    """PasswordPolicyResponseValue ::= SEQUENCE { warning [0] … OPTIONAL, error [1]
    ENUMERATED OPTIONAL }, BER-encoded; ldap3 leaves this control undecoded."""
    if not value or value[0] != 0x30:
        return None
    position = _skip_header(value, 0)
    while position < len(value):
        tag = value[position]
        start = _skip_header(value, position)
        end = start + _length(value, position)
        if tag == 0x81:
            return int.from_bytes(value[start:end], "big")
        position = end
    return None


def _length(data: bytes, position: int) -> int:
    first = data[position + 1]
    if first < 0x80:
        return first
    count = first & 0x7F
    return int.from_bytes(data[position + 2 : position + 2 + count], "big")


def _skip_header(data: bytes, position: int) -> int:
    first = data[position + 1]
    return position + 2 + (first & 0x7F if first >= 0x80 else 0)


def _entry(item: dict[str, Any]) -> _Entry:
    raw: dict[str, list[bytes]] = item.get("raw_attributes") or {}
    attributes = {
        name.lower(): [value.decode("utf-8", errors="replace") for value in values]
        for name, values in raw.items()
    }
    return _Entry(dn=str(item["dn"]), attributes=attributes)


def _checked_name(name: str, what: str) -> str:
    """Reject what no directory name looks like before it reaches a filter."""
    if not isinstance(name, str) or not name.strip():
        raise ToolError(f"A {what} is required.")
    if len(name) > MAX_NAME_LENGTH:
        raise ToolError(f"That {what} is longer than {MAX_NAME_LENGTH} characters.")
    if any(ord(character) < 32 or ord(character) == 127 for character in name):
        raise ToolError(f"A {what} cannot contain control characters.")
    return name


def _first_rdn(dn: str) -> tuple[str, str]:
    """(attribute, unescaped value) of a DN's first RDN; ("", "") for a malformed DN."""
    try:
        attribute, value, _ = parse_dn(dn)[0]
    except (ldap_errors.LDAPInvalidDnError, IndexError):
        return "", ""
    return str(attribute), _unescape_dn_value(str(value))


def _dn_key(dn: str) -> tuple[tuple[str, str], ...]:
    """A DN compared as directories compare them: attribute names and (for the attributes
    used in DNs here) values without regard to case or escaping."""
    try:
        parts = parse_dn(dn)
    except ldap_errors.LDAPInvalidDnError:
        return (("", dn.lower()),)
    return tuple((str(a).lower(), _unescape_dn_value(str(v)).lower()) for a, v, _ in parts)


def _unescape_dn_value(value: str) -> str:
    """RFC 4514: `\\,` stands for `,` and `\\c3\\a9` for the UTF-8 bytes of `é`."""
    out = bytearray()
    index = 0
    while index < len(value):
        character = value[index]
        pair = value[index + 1 : index + 3]
        if character == "\\" and len(pair) == 2 and all(c in string.hexdigits for c in pair):
            out.append(int(pair, 16))
            index += 3
        elif character == "\\" and index + 1 < len(value):
            out.extend(value[index + 1].encode())
            index += 2
        else:
            out.extend(character.encode())
            index += 1
    return out.decode("utf-8", errors="replace")


def _generalized_time(value: str) -> datetime | None:
    """`20250101120000Z` or with a fraction (`…00.123456Z`) as an aware UTC datetime."""
    digits = value.rstrip("Zz").split(".")[0].split(",")[0]
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def _reason(error: BaseException) -> str:
    if isinstance(error, ldap_errors.LDAPOperationResult):
        detail = f" ({error.message})" if error.message else ""
        return f"{error.description}{detail}"
    return str(error) or type(error).__name__


def _scrub(message: str, secrets: tuple[str, ...]) -> str:
    """Belt and braces: servers echo no passwords, but a message must never carry one."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[secret]")
    return message
