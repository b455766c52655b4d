"""The URLs `vigie demo` prints: one per app, a dev token in the fragment."""

from __future__ import annotations

import re

from hub.core.tokens import verify_token
from hub.server.web import web_urls

SECRET = "s" * 40


def test_one_url_per_app_with_a_token_of_its_role() -> None:
    text = web_urls("http://127.0.0.1:8765", SECRET, "narbonne")
    found = re.findall(r"^  (\w+) +(http://127\.0\.0\.1:8765/(\w+)#token=(\S+))$", text, re.M)
    assert [(app, path) for app, _, path, _ in found] == [
        ("console", "console"),
        ("unit", "unit"),
        ("app", "app"),
    ]
    claims = [verify_token(SECRET, jwt) for *_, jwt in found]
    assert [(c.role, c.sub, c.tenant) for c in claims] == [
        ("console", "operator-web", "narbonne"),
        ("unit", "u-web", "narbonne"),  # not one of the demo's simulated patrols
        ("citizen", "c-web", "narbonne"),
    ]
