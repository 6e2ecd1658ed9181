"""Intake: every arrival is stored raw in the inbox (`inbox.inbox_store`) before anything
reads it; a background task (`tickets.tasks.inbox_process`) parses it with its channel's
parser into a `TicketInput`, matches it to the MSP's records (`enrich.py`) and creates or
updates the ticket with its timeline, then tells the pipeline (`tickets.signals`)."""
