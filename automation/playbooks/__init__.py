"""Playbooks: the quick wins resolved end to end, every step a proposal to the governance
gate. `catalogue.py` lists them (ticket types, preconditions, steps); `verification.py`
decides whose account a ticket is about and whether its requester may ask; `engine.py` runs
one per ticket — proposing the next step when the last one settled, and handing the ticket
to a technician, with the reason, when a step is refused, rejected or fails."""
