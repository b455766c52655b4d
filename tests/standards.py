"""The standards' own schemas, for tests that validate what the hub produces.

They live beside the project, in `../shared/standards` (third-party documents:
read, never copied in). Without them a test is skipped and says why; under
CI=true, where they are always provided, their absence fails the test.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

STANDARDS = Path(__file__).resolve().parent.parent.parent / "shared" / "standards"
CAP_XSD = STANDARDS / "cap" / "CAP-v1.2.xsd"
EIDO_DIR = STANDARDS / "eido" / "Schema"


def standard(path: Path) -> Path:
    """`path` if present; else skip (or fail under CI=true) naming what is missing."""
    if path.exists():
        return path
    reason = f"standards reference material missing: {path} (see ../shared/standards)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@cache
def cap_schema() -> Any:
    """The CAP 1.2 XML schema (xmlschema)."""
    import xmlschema

    return xmlschema.XMLSchema(str(standard(CAP_XSD)))
