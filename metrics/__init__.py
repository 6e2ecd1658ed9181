"""Metrics computed from the ticket timeline and time entries, baselines and ROI."""
