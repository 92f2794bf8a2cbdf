"""Benchmarks: scripts run by path or with ``python -m bench.<name>``."""
