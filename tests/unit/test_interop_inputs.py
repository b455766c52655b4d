"""What notices and the interop settings accept: expiry, control characters, ids."""

from __future__ import annotations

from pathlib import Path

import h3
import pytest

from hub.config import ConfigError, load_config
from hub.core.errors import ErrorCode, ProtocolError
from hub.core.messages import NOTICE_EXPIRES_MAX_S, Notice, parse_message

CELL = h3.latlng_to_cell(43.1839, 3.0042, 9)
MINIMAL = """
[tenants.t]
area = [[43.0, 3.0], [43.1, 3.0], [43.1, 3.1]]
[tenants.t.categories]
noise = { priority = 4 }
"""


def notice(**fields: object) -> Notice:
    msg = parse_message({"type": "notice", "ref": "n", "cells": [CELL], "text": "x", **fields})
    assert isinstance(msg, Notice)
    return msg


def test_notice_expiry_is_optional_and_bounded() -> None:
    assert notice().expires_s is None
    assert notice(expires_s=3600).expires_s == 3600
    for bad in (0, 59, NOTICE_EXPIRES_MAX_S + 1, "3600", True, float("nan")):
        with pytest.raises(ProtocolError) as info:
            notice(expires_s=bad)
        assert info.value.code == ErrorCode.BAD_REQUEST and "expires_s" in str(info.value)


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x1f", "\ufffe"])
def test_notice_text_with_a_control_character_is_refused(char: str) -> None:
    with pytest.raises(ProtocolError) as info:
        notice(text=f"Rue{char}fermée")
    assert info.value.code == ErrorCode.BAD_REQUEST and "control characters" in str(info.value)


def test_notice_text_keeps_markup_tabs_and_newlines_as_text() -> None:
    text = "<b>Rue</b> & ]]>\tfermée\r\njusqu'à 18 h"
    assert notice(text=text).text == text


def test_narbonne_interop_settings() -> None:
    town = load_config(env={}).tenants["narbonne"]
    assert (town.language, town.cap_sender, town.eido_agency) == (
        "fr",
        "vigie@narbonne.fr",
        "narbonne.fr",
    )
    assert town.notice_expires_s == 86_400


def test_interop_defaults(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    town = load_config(path, env={}).tenants["t"]
    assert (town.language, town.cap_sender, town.eido_agency) == ("fr", "", "")


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('cap_sender = "vigie narbonne"', "cap_sender"),
        ('cap_sender = "a,b"', "cap_sender"),
        ('eido_agency = "<x>"', "eido_agency"),
        ('language = "de"', "language"),
        ("notice_expires_s = 10", "notice_expires_s"),
    ],
)
def test_bad_interop_settings_name_their_key(tmp_path: Path, line: str, key: str) -> None:
    path = tmp_path / "v.toml"
    path.write_text(MINIMAL.replace("[tenants.t.categories]", f"{line}\n[tenants.t.categories]"))
    with pytest.raises(ConfigError, match=key):
        load_config(path, env={})
