"""Handlers of control-room console commands (dispatch lifecycle: issue #3)."""

from __future__ import annotations

__all__: list[str] = []
