"""PSA connectors: ConnectWise PSA, Autotask and HaloPSA.

Where a PSA ticket enters: `sync.psa_sync` pages the PSA's tickets by last-updated watermark
and `webhooks` receives its deliveries; both only store arrivals in the inbox
(`tickets.intake.inbox`), which turns them into tickets through `records.record_to_input`
and the connection's mapping. Changes we make go back through the durable outbox
(`outbox`). Each PSA is one adapter module (`connectwise`, `autotask`, `halopsa`) with a
client, a `normalize` of its ticket JSON and a webhook verifier; `simulators/` holds loopback
servers that speak the same HTTP shapes, for the tests, the benchmarks and the demo.
"""
