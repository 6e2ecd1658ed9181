"""Executors for the actions that change a person's account: reset a password, unlock an
account, change group or distribution-list membership (and, with their tools connected,
re-enrol MFA, run an allow-listed script, install software). Only the gate calls them.

The client's `ToolConnection` says where its accounts live. A new password is generated
here, set with "change at next logon", and handed to its owner through a one-time link
(`automation.secrets`) in a reply on the ticket: the password itself is never stored on the
action, the ticket, the PSA, an e-mail body or a log. Every executor verifies by reading the
account back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from django.conf import settings

from automation.executors import actor_for
from automation.models import ToolConnection
from automation.secrets import LINK_HOURS, password_generate, secret_issue
from automation.tools.base import ToolError
from governance.executors import ExecutionError, Executor, executor_register
from governance.models import Action
from tickets.models import Contact, StaffMember
from tickets.services import ticket_message_add


def _connection(action: Action, kinds: tuple[str, ...], what: str) -> ToolConnection:
    client_id = action.ticket.client_id
    found = (
        ToolConnection.objects.filter(client_id=client_id, kind__in=kinds, is_active=True).first()
        if client_id is not None
        else None
    )
    if found is None:
        raise ExecutionError(
            f"{action.ticket.client or 'This client'} has no {what} connected: add one under "
            "the client's tools, or do it by hand."
        )
    return found


@contextmanager
def _tool(
    action: Action,
    kinds: tuple[str, ...],
    what: str,
    open_tool: Callable[[ToolConnection], AbstractContextManager[Any]],
) -> Iterator[Any]:
    """The client's tool of these kinds, opened; its failures become ExecutionErrors."""
    connection = _connection(action, kinds, what)
    try:
        with open_tool(connection) as tool:
            yield tool
    except ToolError as error:
        raise ExecutionError(f"The {what} answered: {error}") from error


def directory_for(action: Action) -> AbstractContextManager[Any]:
    """The client's on-premises directory, connected (LDAP or Active Directory)."""
    kinds = (ToolConnection.Kind.LDAP, ToolConnection.Kind.ACTIVE_DIRECTORY)
    return _tool(action, kinds, "directory", _open_directory)


def _open_directory(connection: ToolConnection) -> AbstractContextManager[Any]:
    from automation.tools.directory import Directory, DirectoryConfig

    options = dict(connection.settings)
    config = DirectoryConfig(
        url=str(options.pop("url")),
        bind_dn=str(options.pop("bind_dn")),
        bind_password=connection.secret,
        users_base=str(options.pop("users_base")),
        groups_base=str(options.pop("groups_base")),
        kind="ad" if connection.kind == ToolConnection.Kind.ACTIVE_DIRECTORY else "openldap",
        **options,
    )
    return Directory(config)


def _owner(action: Action) -> tuple[Contact, str]:
    contact = Contact.objects.get(pk=action.params["contact"])
    if not contact.directory_username:
        raise ExecutionError(
            f"{contact.full_name} has no directory account name on record; add it to the "
            "contact, or do it by hand."
        )
    return contact, contact.directory_username


def _public_link(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


class ResetPasswordExecutor(Executor):
    """A random password, set with "change at next logon", sent as a one-time link."""

    def execute(self, action: Action) -> dict[str, Any]:
        contact, username = _owner(action)
        password = password_generate()
        with directory_for(action) as directory:
            directory.reset_password(username, password, must_change=True)
        path = secret_issue(
            ticket=action.ticket,
            contact=contact,
            value=password,
            purpose=f"the password reset on ticket {action.ticket_id}",
        )
        del password  # nothing below may see it
        ticket_message_add(
            ticket=action.ticket,
            actor=actor_for(action),
            body=(
                f"Hi {contact.first_name}, your password has been reset. Open this link to see "
                f"your temporary password (it works once, for {LINK_HOURS} hours): "
                f"{_public_link(path)} — you will be asked to choose your own when you sign in."
            ),
            public=True,
        )
        return {"username": username, "link_sent_to": contact.email, "must_change": True}

    def verify(self, action: Action) -> bool | None:
        with directory_for(action) as directory:
            account = directory.account(action.result["username"])
        return bool(account.exists and account.must_change_password and not account.locked)


class UnlockExecutor(Executor):
    def execute(self, action: Action) -> dict[str, Any]:
        _, username = _owner(action)
        with directory_for(action) as directory:
            was_locked = directory.account(username).locked
            directory.unlock(username)
        return {"username": username, "was_locked": was_locked}

    def verify(self, action: Action) -> bool | None:
        with directory_for(action) as directory:
            account = directory.account(action.result["username"])
        return bool(account.exists and not account.locked)


class GroupMembershipExecutor(Executor):
    undoable = True

    def execute(self, action: Action) -> dict[str, Any]:
        _, username = _owner(action)
        group, operation = action.params["group"], action.params["operation"]
        with directory_for(action) as directory:
            if operation == "add":
                changed = directory.add_member(username, group)
            else:
                changed = directory.remove_member(username, group)
        return {"username": username, "group": group, "operation": operation, "changed": changed}

    def verify(self, action: Action) -> bool | None:
        result = action.result
        with directory_for(action) as directory:
            members = directory.members(result["group"])
        return bool((result["username"] in members) == (result["operation"] == "add"))

    def undo(self, action: Action, *, staff: StaffMember) -> dict[str, Any]:
        result = action.result
        if not result.get("changed"):
            return {"reverted": False}
        with directory_for(action) as directory:
            if result["operation"] == "add":
                directory.remove_member(result["username"], result["group"])
            else:
                directory.add_member(result["username"], result["group"])
        return {"reverted": True}


def graph_for(action: Action) -> AbstractContextManager[Any]:
    """The client's Entra ID tenant through Microsoft Graph."""
    return _tool(action, (ToolConnection.Kind.ENTRA,), "Microsoft Graph", _open_graph)


def _open_graph(connection: ToolConnection) -> AbstractContextManager[Any]:
    from automation.tools.graph import GraphClient, GraphConfig

    options = dict(connection.settings)
    config = GraphConfig(
        tenant_id=str(options.pop("tenant_id")),
        client_id=str(options.pop("client_id")),
        client_secret=connection.secret,
        **options,
    )
    return GraphClient(config)


def _upn(contact: Contact) -> str:
    upn = contact.directory_username if "@" in contact.directory_username else contact.email
    if not upn:
        raise ExecutionError(f"{contact.full_name} has no Entra ID sign-in name on record.")
    return upn


class ReenrolMfaExecutor(Executor):
    """Removes the account's MFA methods (the password stays) and signs it out everywhere,
    so the owner registers again at the next sign-in."""

    def execute(self, action: Action) -> dict[str, Any]:
        contact = Contact.objects.get(pk=action.params["contact"])
        upn = _upn(contact)
        with graph_for(action) as graph:
            removed = graph.reset_mfa(upn)
            graph.revoke_sessions(upn)
        return {"upn": upn, "methods_removed": removed, "sessions_revoked": True}

    def verify(self, action: Action) -> bool | None:
        with graph_for(action) as graph:
            methods = graph.mfa_methods(action.result["upn"])
        return not any(method.removable for method in methods)


def rmm_for(action: Action) -> AbstractContextManager[Any]:
    """The client's RMM."""
    return _tool(action, (ToolConnection.Kind.RMM,), "RMM", _open_rmm)


def _open_rmm(connection: ToolConnection) -> AbstractContextManager[Any]:
    from automation.tools.rmm import RmmClient, RmmConfig

    options = dict(connection.settings)
    config = RmmConfig(
        base_url=str(options.pop("base_url")),
        client_id=str(options.pop("client_id")),
        client_secret=connection.secret,
        **options,
    )
    return RmmClient(config)


def _device(action: Action) -> tuple[int, str]:
    from tickets.models import Asset

    asset = Asset.objects.get(pk=action.params["asset"])
    if not asset.rmm_device_id.isdigit():
        raise ExecutionError(f"{asset.hostname} is not linked to a device in the RMM.")
    return int(asset.rmm_device_id), asset.hostname


class InstallSoftwareExecutor(Executor):
    """Installs (or reinstalls) a catalogue package through the RMM and waits for the job;
    verified by the device's software inventory."""

    wait_seconds = 600.0
    poll_seconds = 5.0

    def execute(self, action: Action) -> dict[str, Any]:
        device_id, hostname = _device(action)
        package = action.params["package"]
        with rmm_for(action) as rmm:
            job_id = rmm.install_software(device_id, package)
            job = rmm.wait(device_id, job_id, timeout=self.wait_seconds, poll=self.poll_seconds)
        if job.status != "succeeded":
            raise ExecutionError(
                f"Installing {package} on {hostname} {job.status}: {job.output[-300:]}"
            )
        return {"device": device_id, "package": package, "job": job_id}

    def verify(self, action: Action) -> bool | None:
        from automation.tools.rmm import package

        inventory = package(action.result["package"]).inventory_name
        with rmm_for(action) as rmm:
            installed = rmm.installed_software(action.result["device"])
        return inventory in installed


class RunScriptExecutor(Executor):
    """Runs an allow-listed script (parameters validated against the catalogue) and waits
    for its result; a failed run fails the action with the script's output."""

    wait_seconds = 600.0
    poll_seconds = 5.0

    def execute(self, action: Action) -> dict[str, Any]:
        device_id, hostname = _device(action)
        slug = action.params["script"]
        with rmm_for(action) as rmm:
            job_id = rmm.run_script(device_id, slug, action.params.get("parameters", {}))
            job = rmm.wait(device_id, job_id, timeout=self.wait_seconds, poll=self.poll_seconds)
        if job.status != "succeeded":
            raise ExecutionError(f"{slug} on {hostname} {job.status}: {job.output[-300:]}")
        return {"device": device_id, "script": slug, "job": job_id, "output": job.output[-500:]}

    def verify(self, action: Action) -> bool | None:
        """The RMM still reports the job as succeeded (read back, not remembered)."""
        with rmm_for(action) as rmm:
            job = rmm.job(action.result["device"], action.result["job"])
        return bool(job.status == "succeeded")


def register_account_executors() -> None:
    executor_register("reset_password", ResetPasswordExecutor())
    executor_register("unlock_account", UnlockExecutor())
    executor_register("change_group_membership", GroupMembershipExecutor())
    executor_register("reenrol_mfa", ReenrolMfaExecutor())
    executor_register("install_software", InstallSoftwareExecutor())
    executor_register("run_script", RunScriptExecutor())
