"""Tool adapters the resolution playbooks and the agent act through (only via the gate)."""
