"""The Microsoft Graph adapter against the loopback Entra tenant: the real client over real
HTTP, each change read back through the simulator and through the client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from automation.tools.base import ToolError, with_retries
from automation.tools.graph import GraphClient, GraphConfig, GraphError
from automation.tools.simulators.graph import GraphSimulator
from tickets.psa.simulators.base import Fault

ADA = "ada@contoso.test"
NEW_PASSWORD = "Blue-Harbour-2041!"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim() -> Iterator[GraphSimulator]:
    with GraphSimulator() as sim:
        sim.add_user(ADA, "Ada Lovelace", "Old-Password-1")
        yield sim


def config(sim: GraphSimulator, **changes: object) -> GraphConfig:
    values: dict[str, object] = {
        "tenant_id": sim.tenant_id,
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "graph_base": sim.graph_base,
        "login_base": sim.url,
        "timeout": 2.0,
    }
    values.update(changes)
    return GraphConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def graph(sim: GraphSimulator, clock: FakeClock) -> Iterator[GraphClient]:
    with GraphClient(config(sim), clock=clock) as graph:
        yield graph


def test_it_reads_a_user_with_their_groups(sim: GraphSimulator, graph: GraphClient) -> None:
    for name in ("Sales", "All staff", "VPN users"):
        sim.add_group(name)
        sim.join(ADA, name)
    user = graph.user(ADA.upper(), with_groups=True)
    assert (user.upn, user.display_name, user.mail, user.account_enabled) == (
        ADA,
        "Ada Lovelace",
        ADA,
        True,
    )
    assert user.groups == ("All staff", "Sales", "VPN users")  # three rows over two pages
    assert user.password_changed_at is None and user.sessions_valid_from is None
    assert graph.user(user.id).upn == ADA


def test_reset_password_sets_it_and_forces_a_change(
    sim: GraphSimulator, graph: GraphClient
) -> None:
    graph.reset_password(ADA, NEW_PASSWORD)
    assert sim.password_of(ADA) == NEW_PASSWORD
    assert sim.force_change(ADA) is True
    changed_at = sim.password_changed_at(ADA)
    assert changed_at is not None and graph.user(ADA).password_changed_at == changed_at


def test_reset_password_can_leave_the_password_as_set(
    sim: GraphSimulator, graph: GraphClient
) -> None:
    graph.reset_password(graph.user(ADA), NEW_PASSWORD, force_change=False)
    assert sim.force_change(ADA) is False


def test_a_weak_password_is_refused_without_repeating_it(
    sim: GraphSimulator, graph: GraphClient
) -> None:
    with pytest.raises(GraphError) as caught:
        graph.reset_password(ADA, "hunter2")
    assert "complexity requirements" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert (caught.value.status, caught.value.transient) == (400, False)
    assert sim.password_of(ADA) == "Old-Password-1"


def test_revoke_sessions_moves_sessions_valid_from(sim: GraphSimulator, graph: GraphClient) -> None:
    graph.revoke_sessions(ADA)
    revoked_at = sim.sessions_revoked_at(ADA)
    assert revoked_at is not None and graph.user(ADA).sessions_valid_from == revoked_at


def test_reset_mfa_removes_every_method_but_the_password(
    sim: GraphSimulator, graph: GraphClient
) -> None:
    for kind in ("microsoftAuthenticator", "phone", "fido2"):
        sim.add_method(ADA, kind)
    kinds = [m.kind for m in graph.mfa_methods(ADA)]
    assert kinds == ["password", "microsoftAuthenticator", "phone", "fido2"]
    assert graph.reset_mfa(ADA) == 3
    assert sim.methods(ADA) == ["password"]
    assert [(m.kind, m.removable) for m in graph.mfa_methods(ADA)] == [("password", False)]
    # the default method (the authenticator) was refused once, then removed last
    deletes = [path for method, path in sim.log if method == "DELETE"]
    assert len(deletes) == 4 and "microsoftAuthenticatorMethods" in deletes[-1]
    assert graph.reset_mfa(ADA) == 0


def test_membership_changes_are_idempotent_and_read_back_over_pages(
    sim: GraphSimulator, graph: GraphClient
) -> None:
    sim.add_group("Finance")
    for n in range(3):
        sim.add_user(f"user{n}@contoso.test", f"User {n}", "Pass-word-1")
        sim.join(f"user{n}@contoso.test", "Finance")
    assert graph.add_member(ADA, "Finance") is True
    assert graph.add_member(ADA, "Finance") is False
    expected = (ADA, "user0@contoso.test", "user1@contoso.test", "user2@contoso.test")
    assert sim.members("Finance") == list(expected)
    assert graph.group_members("Finance") == expected  # four members, two pages
    assert graph.remove_member(graph.user(ADA), "Finance") is True
    assert graph.remove_member(ADA, "Finance") is False
    assert ADA not in graph.group_members("Finance")


def test_a_group_name_with_quotes_is_escaped(sim: GraphSimulator, graph: GraphClient) -> None:
    group_id = sim.add_group("O'Brien's team")
    assert graph.add_member(ADA, "O'Brien's team") is True
    assert sim.members("O'Brien's team") == [ADA]
    assert graph.group_members(group_id) == (ADA,)


def test_an_unknown_group_is_a_readable_error(graph: GraphClient) -> None:
    with pytest.raises(ToolError, match="No group named 'Nope' in the tenant") as caught:
        graph.add_member(ADA, "Nope")
    assert caught.value.transient is False


def test_an_unknown_user_is_not_transient(graph: GraphClient) -> None:
    with pytest.raises(GraphError) as caught:
        graph.user("nobody@contoso.test")
    assert str(caught.value) == (
        "No user 'nobody@contoso.test' in the tenant; check the user principal name."
    )
    assert (caught.value.status, caught.value.code, caught.value.transient) == (
        404,
        "Request_ResourceNotFound",
        False,
    )


def test_the_token_is_cached_across_calls(sim: GraphSimulator, graph: GraphClient) -> None:
    graph.user(ADA)
    graph.revoke_sessions(ADA)
    graph.mfa_methods(ADA)
    assert sim.token_requests == 1


def test_a_token_the_tenant_expired_is_replaced_once(
    sim: GraphSimulator, graph: GraphClient
) -> None:
    graph.user(ADA)
    sim.advance(3600)
    before = graph.requests_made
    assert graph.user(ADA).upn == ADA
    assert sim.token_requests == 2
    assert graph.requests_made - before == 3  # the 401, the token, the retried call


def test_a_token_near_its_expiry_is_renewed_before_use(
    sim: GraphSimulator, graph: GraphClient, clock: FakeClock
) -> None:
    graph.user(ADA)
    clock.now += 3599 - 60
    before = graph.requests_made
    graph.user(ADA)
    assert sim.token_requests == 2
    assert graph.requests_made - before == 2  # no 401 on the way


def test_throttling_is_transient_with_retry_after(sim: GraphSimulator, graph: GraphClient) -> None:
    sim.fail(Fault(status=429, retry_after=7, path="/users/"))
    with pytest.raises(GraphError) as caught:
        graph.user(ADA)
    assert (caught.value.transient, caught.value.retry_after, caught.value.status) == (
        True,
        7.0,
        429,
    )
    sim.fail(Fault(status=503, retry_after=3, path="/users/"))
    waits: list[float] = []
    assert with_retries(lambda: graph.user(ADA), sleep=waits.append).upn == ADA
    assert waits == [3.0]


def test_a_time_out_is_transient(sim: GraphSimulator) -> None:
    sim.fail(Fault(delay=0.6, path="/users/"))
    with GraphClient(config(sim, timeout=0.2)) as graph, pytest.raises(GraphError) as caught:
        graph.user(ADA)
    assert caught.value.transient is True
    assert str(caught.value).endswith("timed out.")


def test_a_wrong_secret_is_reported_without_the_secret(sim: GraphSimulator) -> None:
    wrong = "wrong-secret-value-123"
    with (
        GraphClient(config(sim, client_secret=wrong)) as graph,
        pytest.raises(GraphError) as caught,
    ):
        graph.user(ADA)
    assert "refused the app's client id and secret" in str(caught.value)
    assert "AADSTS7000215" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(config(sim, client_secret=wrong))
    assert caught.value.transient is False
