"""Upstream test suites run against pyk8s (see harness.py)."""
