"""Loopback PSA simulators: small HTTP servers that speak the documented shapes of
ConnectWise PSA, Autotask and HaloPSA (auth, paging, filters, ticket CRUD, notes, time
entries, signed webhook deliveries). The tests, the benchmarks and the demo drive the
production clients against them. `SIMULATORS` maps a connection kind to its class."""

from __future__ import annotations

from typing import Any


def simulator_class(kind: str) -> Any:
    """The simulator class for a connection kind (imported lazily)."""
    from tickets.psa.simulators.autotask import AutotaskSimulator
    from tickets.psa.simulators.connectwise import ConnectWiseSimulator
    from tickets.psa.simulators.halopsa import HaloSimulator

    classes: dict[str, Any] = {
        "connectwise": ConnectWiseSimulator,
        "autotask": AutotaskSimulator,
        "halopsa": HaloSimulator,
    }
    return classes[kind]
