"""The directory tool against a real OpenLDAP (tests/slapd.py: ppolicy locks after three
failures until unlocked, memberof overlay). Each effect is proven by a sign-in or a raw read
of the entry, not only by the tool's own read-back."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest

from automation.tools.base import ToolError
from automation.tools.directory import (
    BindOutcome,
    Directory,
    DirectoryConfig,
    _ad_bind_outcome,
    _decode_ppolicy_error,
)
from tests.slapd import Slapd


@pytest.fixture
def directory(slapd: Slapd):
    with Directory(slapd.config()) as opened:
        yield opened


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_it_reads_an_account(slapd: Slapd, directory: Directory) -> None:
    uid, dn, _ = slapd.user()
    cn, _ = slapd.group([uid])

    account = directory.account(uid)

    raw = slapd.read(dn, "mail", "displayName")
    assert account.exists
    assert (account.username, account.dn) == (uid, dn)
    assert account.display_name == raw["displayName"][0] == f"Test {uid}"
    assert account.email == raw["mail"][0]
    assert (account.locked, account.locked_since, account.disabled) == (False, None, False)
    assert account.must_change_password is False
    assert account.groups == (cn,)


def test_an_unknown_username_is_an_account_that_does_not_exist(directory: Directory) -> None:
    account = directory.account("nobody-here")

    assert account.exists is False
    assert (account.username, account.dn, account.groups) == ("nobody-here", "", ())


def test_reset_lets_the_new_password_in_and_keeps_the_old_out(
    slapd: Slapd, directory: Directory
) -> None:
    uid, dn, old = slapd.user()

    directory.reset_password(uid, "Correct-Horse-9", must_change=False)

    assert slapd.binds(dn, "Correct-Horse-9")
    assert not slapd.binds(dn, old)
    assert directory.check_password(uid, "Correct-Horse-9") is BindOutcome.OK
    assert directory.check_password(uid, old) is BindOutcome.INVALID
    stored = slapd.read(dn, "userPassword")["userPassword"][0]
    assert "{SSHA}" in stored and "Correct-Horse-9" not in stored
    assert directory.account(uid).must_change_password is False


def test_reset_with_must_change_makes_the_user_change_it(
    slapd: Slapd, directory: Directory
) -> None:
    uid, dn, _ = slapd.user()

    directory.reset_password(uid, "Temporary-1234")

    assert directory.check_password(uid, "Temporary-1234") is BindOutcome.MUST_CHANGE
    assert directory.account(uid).must_change_password is True
    assert slapd.read(dn, "pwdReset")["pwdReset"] == ["True"]


def test_reset_without_must_change_clears_a_pending_forced_change(
    slapd: Slapd, directory: Directory
) -> None:
    uid, dn, _ = slapd.user()
    directory.force_change_at_next_logon(uid)

    directory.reset_password(uid, "Plain-Again-77", must_change=False)

    assert directory.check_password(uid, "Plain-Again-77") is BindOutcome.OK
    assert slapd.read(dn, "pwdReset")["pwdReset"] == []


def test_force_change_at_next_logon_and_its_undo(slapd: Slapd, directory: Directory) -> None:
    uid, _, password = slapd.user()

    directory.force_change_at_next_logon(uid)
    forced = (directory.check_password(uid, password), directory.account(uid).must_change_password)
    directory.force_change_at_next_logon(uid, required=False)

    assert forced == (BindOutcome.MUST_CHANGE, True)
    assert directory.check_password(uid, password) is BindOutcome.OK
    assert directory.account(uid).must_change_password is False


def test_three_wrong_passwords_lock_the_account_until_unlocked(
    slapd: Slapd, directory: Directory
) -> None:
    uid, dn, password = slapd.user()

    wrong = [directory.check_password(uid, f"wrong-{n}") for n in range(3)]

    assert wrong == [BindOutcome.INVALID] * 3
    account = directory.account(uid)
    assert account.locked is True and account.disabled is False
    assert account.locked_since is not None
    assert abs(datetime.now(UTC) - account.locked_since) < timedelta(hours=1)
    assert slapd.read(dn, "pwdAccountLockedTime")["pwdAccountLockedTime"] != []
    assert directory.check_password(uid, password) is BindOutcome.LOCKED
    assert not slapd.binds(dn, password)

    directory.unlock(uid)

    assert directory.account(uid).locked is False
    assert slapd.read(dn, "pwdAccountLockedTime")["pwdAccountLockedTime"] == []
    assert directory.check_password(uid, password) is BindOutcome.OK


def test_unlock_forgets_the_failures_so_one_more_mistake_does_not_relock(
    slapd: Slapd, directory: Directory
) -> None:
    uid, dn, password = slapd.user()
    for n in range(3):
        directory.check_password(uid, f"wrong-{n}")

    directory.unlock(uid)

    assert slapd.read(dn, "pwdFailureTime")["pwdFailureTime"] == []
    assert directory.check_password(uid, "one-more-typo") is BindOutcome.INVALID
    assert directory.account(uid).locked is False
    assert slapd.binds(dn, password)


def test_unlock_of_an_unlocked_account_changes_nothing(slapd: Slapd, directory: Directory) -> None:
    uid, dn, password = slapd.user()
    directory.check_password(uid, "one-typo")

    directory.unlock(uid)

    assert len(slapd.read(dn, "pwdFailureTime")["pwdFailureTime"]) == 1
    assert directory.check_password(uid, password) is BindOutcome.OK


def test_unlock_refuses_an_account_an_administrator_disabled(
    slapd: Slapd, directory: Directory
) -> None:
    uid, dn, password = slapd.user()
    slapd.modify(dn, pwdAccountLockedTime=["000001010000Z"])
    account = directory.account(uid)

    with pytest.raises(ToolError, match="disabled by an administrator") as raised:
        directory.unlock(uid)

    assert (account.disabled, account.locked) == (True, False)
    assert raised.value.transient is False
    assert slapd.read(dn, "pwdAccountLockedTime")["pwdAccountLockedTime"] != []
    assert directory.check_password(uid, password) is BindOutcome.LOCKED


def test_adding_and_removing_a_member_shows_in_members_and_member_of(
    slapd: Slapd, directory: Directory
) -> None:
    owner, _, _ = slapd.user("owner")
    uid, dn, _ = slapd.user()
    cn, group_dn = slapd.group([owner])

    added = directory.add_member(uid, cn)

    assert added is True
    assert directory.members(cn) == tuple(sorted([owner, uid]))
    assert directory.account(uid).groups == (cn,)
    assert dn in slapd.read(group_dn, "member")["member"]

    removed = directory.remove_member(uid, cn)

    assert removed is True
    assert directory.members(cn) == (owner,)
    assert directory.account(uid).groups == ()
    assert slapd.read(dn, "memberOf")["memberOf"] == []


def test_membership_changes_are_idempotent(slapd: Slapd, directory: Directory) -> None:
    uid, _, _ = slapd.user()
    other, _, _ = slapd.user()
    cn, group_dn = slapd.group([other])

    first, second = directory.add_member(uid, cn), directory.add_member(uid, cn)

    assert (first, second) == (True, False)
    assert len(slapd.read(group_dn, "member")["member"]) == 2
    assert directory.remove_member(uid, cn) is True
    assert directory.remove_member(uid, cn) is False
    assert directory.members(cn) == (other,)


def test_removing_the_last_member_of_a_group_of_names_is_refused(
    slapd: Slapd, directory: Directory
) -> None:
    uid, _, _ = slapd.user()
    cn, _ = slapd.group([uid])

    with pytest.raises(ToolError, match="cannot be empty") as raised:
        directory.remove_member(uid, cn)

    assert raised.value.transient is False
    assert directory.members(cn) == (uid,)
    assert directory.account(uid).groups == (cn,)


def test_an_unknown_group_or_user_is_a_clear_error(slapd: Slapd, directory: Directory) -> None:
    uid, _, _ = slapd.user()
    cn, _ = slapd.group([uid])

    with pytest.raises(ToolError, match="No group named 'no-such-group'") as group_error:
        directory.add_member(uid, "no-such-group")
    with pytest.raises(ToolError, match="No account named 'no-such-user'"):
        directory.add_member("no-such-user", cn)

    assert group_error.value.transient is False


def test_a_filter_injection_matches_nothing(slapd: Slapd, directory: Directory) -> None:
    uid, _, password = slapd.user()
    cn, _ = slapd.group([uid])

    assert directory.account("*)(uid=*").exists is False
    assert directory.account("*").exists is False
    assert directory.check_password("*", password) is BindOutcome.INVALID
    with pytest.raises(ToolError, match="No account named"):
        directory.reset_password("*)(uid=*", "Attacker-Chosen-1")
    with pytest.raises(ToolError, match="No group named"):
        directory.members("*")
    with pytest.raises(ToolError, match="No account named"):
        directory.add_member("*", cn)
    assert directory.check_password(uid, password) is BindOutcome.OK


def test_names_with_special_characters_are_matched_literally(
    slapd: Slapd, directory: Directory
) -> None:
    odd, _, password = slapd.user("o'brien*(x)\\,+é")
    plain, _, _ = slapd.user()
    cn, _ = slapd.group([odd, plain], name="sales (uk), *")

    account = directory.account(odd)

    assert account.username == odd
    assert slapd.read(account.dn, "uid")["uid"] == [odd]  # the server escapes DNs its own way
    assert account.groups == (cn,)
    assert directory.members(cn) == tuple(sorted([odd, plain]))
    assert directory.check_password(odd, password) is BindOutcome.OK
    assert directory.remove_member(odd, cn) is True
    assert directory.members(cn) == (plain,)


def test_names_a_directory_cannot_hold_are_refused(directory: Directory) -> None:
    for name in ("", "   ", "bad\nname", "x" * 257):
        with pytest.raises(ToolError):
            directory.account(name)


def test_an_empty_password_is_never_an_anonymous_success(
    slapd: Slapd, directory: Directory
) -> None:
    uid, _, _ = slapd.user()

    assert directory.check_password(uid, "") is BindOutcome.INVALID
    with pytest.raises(ToolError, match="new password is required"):
        directory.reset_password(uid, "")


def test_an_unreachable_server_is_a_transient_error_retried(slapd: Slapd) -> None:
    waits: list[float] = []
    config = slapd.config(url=f"ldap://127.0.0.1:{_unused_port()}", timeout=2.0)

    with Directory(config, sleep=waits.append) as directory, pytest.raises(ToolError) as raised:
        directory.account("anyone")

    assert raised.value.transient is True
    assert "127.0.0.1" in str(raised.value)
    assert waits == [1.0, 2.0]


def test_a_wrong_service_password_is_permanent_and_not_disclosed(slapd: Slapd) -> None:
    waits: list[float] = []
    config = slapd.config(bind_password="Wrong-Admin-Secret-42")

    with Directory(config, sleep=waits.append) as directory, pytest.raises(ToolError) as raised:
        directory.account("anyone")

    assert raised.value.transient is False
    assert "refused the service account" in str(raised.value)
    assert "Wrong-Admin-Secret-42" not in str(raised.value)
    assert "Wrong-Admin-Secret-42" not in repr(config)
    assert waits == []


def test_active_directory_needs_ldaps_for_a_password(slapd: Slapd) -> None:
    uid, dn, password = slapd.user()
    config = DirectoryConfig.for_active_directory(
        url=slapd.url,
        bind_dn=slapd.admin_dn,
        bind_password=slapd.admin_password,
        users_base=slapd.people_dn,
        groups_base=slapd.groups_dn,
    )

    with Directory(config) as directory, pytest.raises(ToolError, match="ldaps://"):
        directory.reset_password(uid, "Never-Sent-1")

    assert config.user_attribute == "sAMAccountName"
    assert slapd.binds(dn, password)


# The diagnostic message of a failed simple bind to Active Directory; `data` says why.
AD_BIND_FAILURE = (
    "80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data {}, v4563"
)


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("52e", BindOutcome.INVALID),
        ("775", BindOutcome.LOCKED),
        ("773", BindOutcome.MUST_CHANGE),
        ("533", BindOutcome.LOCKED),
    ],
)
def test_active_directory_bind_errors_say_why(code: str, outcome: BindOutcome) -> None:
    assert _ad_bind_outcome(False, AD_BIND_FAILURE.format(code)) is outcome
    assert _ad_bind_outcome(True, "") is BindOutcome.OK


def test_the_password_policy_control_is_decoded() -> None:
    assert _decode_ppolicy_error(b"0\x00") is None
    assert _decode_ppolicy_error(b"0\x03\x81\x01\x01") == 1
    assert _decode_ppolicy_error(b"0\x08\xa0\x03\x80\x01\x05\x81\x01\x02") == 2
