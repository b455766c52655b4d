"""Close codes live in one place (style.md rule 4), and the SDK's copy of the rule
matches the hub's (protocol.md, Close codes)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from clients.recovery import reconnects as sdk_reconnects
from hub.core.errors import CloseCode, reconnects

HUB = Path(__file__).resolve().parents[2] / "hub"
HOME = HUB / "core" / "errors.py"  # the only module allowed to name a close code

# Numbers that are close codes wherever they appear: RFC 6455's registered codes
# (1000 itself is too common as "ms per second" to ban), the hub's 44xx family and
# every CloseCode. 4096 or 3600 are limits, not codes, and stay allowed.
CLOSE_CODE_NUMBERS = {*range(1001, 1016), *range(4400, 4500), *CloseCode}


def _int(node: ast.AST | None) -> int | None:
    """The value of an integer literal, else None."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _code_arguments(node: ast.AST) -> Iterator[ast.expr]:
    """What is passed as a close code: close(...) arguments, {"code": ...} values."""
    if isinstance(node, ast.Call) and "close" in _called_name(node):
        yield from node.args
        yield from (k.value for k in node.keywords if k.arg == "code")
    elif isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "code":
                yield value


def literal_close_codes(source: str) -> Iterator[tuple[int, int]]:
    """(line, value) of every close code written as a number in `source`."""
    found: set[tuple[int, int]] = set()
    for node in ast.walk(ast.parse(source)):
        if (value := _int(node)) is not None and value in CLOSE_CODE_NUMBERS:
            found.add((getattr(node, "lineno", 0), value))
        for arg in _code_arguments(node):
            if (value := _int(arg)) is not None:
                found.add((arg.lineno, value))
    return iter(sorted(found))


def test_the_check_finds_every_way_of_writing_a_code() -> None:
    source = (
        "TRY_AGAIN_LATER = 1013\n"
        "ws.close(code=1002)\n"
        "session.close(4408, 'slow')\n"
        "await _close(ws, node, 1000, 'bye')\n"
        "send({'type': 'websocket.close', 'code': 3000})\n"
        "timeout_ms = timeout_s * 1000\n"
        "cache(maxsize=4096)\n"
        "session.close(CloseCode.TOO_SLOW)\n"
    )
    assert list(literal_close_codes(source)) == [
        (1, 1013), (2, 1002), (3, 4408), (4, 1000), (5, 3000)
    ]  # fmt: skip


def test_no_module_of_the_hub_but_errors_names_a_close_code() -> None:
    found = [
        f"{path.relative_to(HUB.parent)}:{line}: {value}"
        for path in sorted(HUB.rglob("*.py"))
        if path != HOME
        for line, value in literal_close_codes(path.read_text("utf-8"))
    ]
    assert found == [], "use hub.core.errors.CloseCode instead"


def test_the_sdk_follows_the_hubs_rule_on_every_code() -> None:
    # The SDK must not import hub: it carries its own copy of the rule.
    differ = [code for code in range(1000, 5000) if sdk_reconnects(code) != reconnects(code)]
    assert differ == []
