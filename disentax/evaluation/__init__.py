"""Evaluations that go beyond the disentanglement metrics (e.g. the weak-supervision protocols)."""
