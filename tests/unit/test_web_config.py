"""Web settings of a tenant (tiles, emergency number) and the pages' CSP."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import Config, ConfigError, Tiles, load_config
from hub.server.web import content_security_policy

TOWN = """
[tenants.t]
area = [[43.0, 3.0], [43.1, 3.0], [43.1, 3.1]]
{extra}
[tenants.t.categories]
noise = {{ priority = 4 }}
"""


def load(tmp_path: Path, extra: str = "") -> Config:
    path = tmp_path / "vigie.toml"
    path.write_text(TOWN.format(extra=extra), encoding="utf-8")
    return load_config(path, env={})


def test_no_tiles_by_default(tmp_path: Path) -> None:
    config = load_config(env={})
    tenant = config.tenants["narbonne"]
    assert tenant.tiles is None and tenant.emergency == "17 / 112"
    csp = content_security_policy(config)
    assert "img-src 'self' data:;" in csp
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp


def test_tiles_add_their_origin_to_img_src(tmp_path: Path) -> None:
    extra = (
        'tiles = { url = "https://tiles.example.org:8443/{z}/{x}/{y}.png", attribution = "© OSM" }'
    )
    config = load(tmp_path, extra)
    assert config.tenants["t"].tiles == Tiles(
        "https://tiles.example.org:8443/{z}/{x}/{y}.png", "© OSM"
    )
    csp = content_security_policy(config)
    assert "img-src 'self' data: https://tiles.example.org:8443;" in csp


@pytest.mark.parametrize(
    "url",
    [
        "",
        "tiles.example.org/{z}/{x}/{y}.png",
        "ftp://tiles.example.org/{z}.png",
        "https:///{z}.png",
        "https://a.org;script-src *",
        "https://a.org 'unsafe-inline'/{z}",
    ],
)
def test_bad_tile_urls_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match=r"tiles\.url"):
        load(tmp_path, f'tiles = {{ url = "{url}" }}')
