"""Shared fixtures: filled in by tests/scope.py helpers."""
