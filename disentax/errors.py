"""Errors a user fixes by changing a command, a config or an install: each message is one line."""
from __future__ import annotations


class ConfigError(ValueError):
    """A bad config key or value. Its message is one line naming the key and what is allowed."""


class MissingExtraError(ConfigError):
    """An optional dependency is not installed; the message names the pip command that adds it."""


__all__ = ["ConfigError", "MissingExtraError"]
