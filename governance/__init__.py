"""Per-ticket-type agent policy and the one gate every action passes through."""
