"""Loopback simulators of the systems the tool adapters drive, for tests and the demo."""
