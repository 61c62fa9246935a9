"""Shared by the real-dataset tests: they run offline, on TFDS mock data or small fakes."""
import socket

import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to reach the network (a download, a metadata fetch) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
