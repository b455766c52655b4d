"""Tokens from a town's identity provider: RS256 / ES256 checked against its JWKS.

A real hub; the JWKS is served over HTTP by a small server on 127.0.0.1 (as
Keycloak's `/protocol/openid-connect/certs` would be), or read from a file.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import hub.server.jwks as jwks_module
from hub.config import AuthSettings, Config
from tests.conftest import HubFactory
from tests.unit.test_token_verifier import AUDIENCE, ISSUER, jwk, sign
from tests.wire import open_peer, token

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


class IdentityProvider:
    """Serves a JWKS document that a test can rotate, or take down (503)."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = [jwk(RSA_KEY, "rsa-1", "RS256")]
        self.up = True
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                body = json.dumps({"keys": provider.keys}).encode()
                self.send_response(200 if provider.up else 503)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body if provider.up else b"down")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/realms/vigie/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> IdentityProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with IdentityProvider() as provider:
        yield provider


def with_auth(config: Config, jwks: str, **changes: Any) -> Config:
    auth = AuthSettings(jwks=jwks, issuer=ISSUER, audience=AUDIENCE, **changes)
    return replace(config, auth=auth)


async def hello(url: str, jwt: str) -> dict[str, Any] | int:
    """The welcome, or the close code the hub answered the hello with."""
    peer = await open_peer(url)
    try:
        await peer.send({"type": "hello", "token": jwt})
        return await peer.expect("welcome")
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else -1
    finally:
        await peer.close()


async def test_identity_provider_tokens_open_sessions(
    hub_factory: HubFactory, config: Config, idp: IdentityProvider
) -> None:
    idp.keys.append(jwk(EC_KEY, "ec-1", "ES256"))
    async with hub_factory(with_auth(config, idp.url)) as hub:
        welcome = await hello(hub.ws_url, sign(RSA_KEY, "RS256", sub="op7"))
        assert isinstance(welcome, dict) and welcome["sub"] == "op7"
        assert welcome["role"] == "console"
        unit = await hello(hub.ws_url, sign(EC_KEY, "ES256", kid="ec-1", sub="u9", role="unit"))
        assert isinstance(unit, dict) and unit["role"] == "unit"
        # The hub's own HS256 tokens keep working beside them.
        own = await hello(hub.ws_url, token("citizen", "c1"))
        assert isinstance(own, dict) and own["role"] == "citizen"
        # The REST API takes the same tokens.
        async with httpx.AsyncClient(base_url=hub.http_url) as http:
            bearer = {"Authorization": f"Bearer {sign(RSA_KEY, 'RS256')}"}
            assert (await http.get("/api/v1/incidents/in1", headers=bearer)).status_code == 404
            health = (await http.get("/healthz")).json()
        assert health["jwks"]["keys"] == 2 and health["jwks"]["ok"] is True


@pytest.mark.parametrize(
    "changes",
    [{"iss": "https://evil.example/realms/vigie"}, {"aud": "other-app"}, {"tenant": "carcassonne"}],
)
async def test_wrong_issuer_audience_or_tenant_closes_4401(
    hub_factory: HubFactory, config: Config, idp: IdentityProvider, changes: dict[str, Any]
) -> None:
    async with hub_factory(with_auth(config, idp.url)) as hub:
        assert await hello(hub.ws_url, sign(RSA_KEY, "RS256", **changes)) == 4401


async def test_a_rotated_key_is_fetched_when_a_token_names_it(
    hub_factory: HubFactory,
    config: Config,
    idp: IdentityProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jwks_module, "MIN_REFETCH_S", 0.0)
    async with hub_factory(with_auth(config, idp.url)) as hub:
        new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        idp.keys.append(jwk(new_key, "rsa-2", "RS256"))
        before = idp.fetches
        welcome = await hello(hub.ws_url, sign(new_key, "RS256", kid="rsa-2"))
        assert isinstance(welcome, dict)
        assert idp.fetches == before + 1
        # A kid nobody has: one more fetch, then 4401 (never a loop of fetches).
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert await hello(hub.ws_url, sign(stranger, "RS256", kid="rsa-9")) == 4401
        assert idp.fetches == before + 2


async def test_unknown_kids_do_not_hammer_the_provider(
    hub_factory: HubFactory, config: Config, idp: IdentityProvider
) -> None:
    async with hub_factory(with_auth(config, idp.url)) as hub:
        before = idp.fetches
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for i in range(5):
            assert await hello(hub.ws_url, sign(stranger, "RS256", kid=f"k{i}")) == 4401
        assert idp.fetches == before  # MIN_REFETCH_S: the start-up fetch was just now


async def test_provider_down_at_start_up_then_back(
    hub_factory: HubFactory,
    config: Config,
    idp: IdentityProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jwks_module, "MIN_REFETCH_S", 0.2)
    idp.up = False
    async with hub_factory(with_auth(config, idp.url)) as hub:
        async with httpx.AsyncClient(base_url=hub.http_url) as http:
            assert (await http.get("/healthz")).json()["jwks"] == {
                "keys": 0, "age_s": None, "ok": False,
            }  # fmt: skip
            assert await hello(hub.ws_url, sign(RSA_KEY, "RS256")) == 4401
            assert isinstance(await hello(hub.ws_url, token("console", "op1")), dict)
            idp.up = True
            for _ in range(50):  # the refresh loop retries every MIN_REFETCH_S
                if (await http.get("/healthz")).json()["jwks"]["ok"]:
                    break
                await asyncio.sleep(0.1)
        assert isinstance(await hello(hub.ws_url, sign(RSA_KEY, "RS256")), dict)


async def test_jwks_from_a_file_and_hs256_off(
    hub_factory: HubFactory, config: Config, tmp_path: Path
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(RSA_KEY, "rsa-1", "RS256")]}))
    async with hub_factory(with_auth(config, str(path), hs256=False)) as hub:
        assert isinstance(await hello(hub.ws_url, sign(RSA_KEY, "RS256")), dict)
        assert await hello(hub.ws_url, token("console", "op1")) == 4401
