"""The web apps know every error code the hub can send (hub/core/errors.py).

`shared/errors.js` lists the codes it has a sentence for (`ERROR_CODES`), and its
own test (tests/browser/shared_errors_test.mjs) checks both catalogues against
that list; this one checks the list against the hub's enum, so a code added to
the hub without words for it fails here, not on a user's screen.
"""

from __future__ import annotations

import re
from pathlib import Path

from hub.core.errors import ErrorCode

ERRORS_JS = Path(__file__).resolve().parents[2] / "hub/web/static/shared/errors.js"


def test_every_hub_error_code_has_a_sentence_in_the_web_apps() -> None:
    listed = re.search(r"ERROR_CODES = Object\.freeze\(\[(.*?)\]\)", ERRORS_JS.read_text(), re.S)
    assert listed is not None, "ERROR_CODES not found in errors.js"
    codes = set(re.findall(r"'([a-z_]+)'", listed.group(1)))
    assert {code.value for code in ErrorCode} <= codes
