"""Session tokens: HS256 JWTs with sub, role, tenant and exp."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from hub.core.tokens import LEEWAY_S, Claims, TokenError, issue_token, verify_token

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4  # long enough for HS256..HS512
OTHER_SECRET = "another-secret-0123456789abcdef0123456789ab"
NOW = 1_764_153_600


def claims(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "sub": "citizen-42",
        "role": "citizen",
        "tenant": "narbonne",
        "exp": int(time.time()) + 600,
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def signed(payload: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, secret, algorithm=algorithm)


def refused(token: str) -> TokenError:
    with pytest.raises(TokenError) as info:
        verify_token(SECRET, token)
    return info.value


@pytest.mark.parametrize("role", ["citizen", "unit", "console"])
def test_issue_then_verify(role: str) -> None:
    token = issue_token(SECRET, sub="u-7", role=role, tenant="narbonne", ttl_s=60)
    got = verify_token(SECRET, token)
    assert got.sub == "u-7"
    assert got.role == role
    assert got.tenant == "narbonne"
    assert 0 < got.exp - time.time() <= 61


def test_issue_with_an_explicit_clock() -> None:
    token = issue_token(SECRET, sub="s", role="unit", tenant="t", ttl_s=100, now=NOW)
    payload = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert payload["iat"] == NOW
    assert payload["exp"] == NOW + 100


def test_claims_are_frozen() -> None:
    got = verify_token(SECRET, signed(claims()))
    assert got == Claims("citizen-42", "citizen", "narbonne", got.exp)
    with pytest.raises(AttributeError):
        got.role = "console"  # type: ignore[misc]


def test_issue_refuses_an_unknown_role() -> None:
    with pytest.raises(TokenError):
        issue_token(SECRET, sub="x", role="admin", tenant="narbonne")


def test_token_error_is_a_value_error() -> None:
    assert issubclass(TokenError, ValueError)


# -- expiry -------------------------------------------------------------------------


def test_expired_token_is_refused() -> None:
    token = issue_token(SECRET, sub="s", role="citizen", tenant="t", ttl_s=60, now=NOW)
    assert "Expired" in str(refused(token))


def test_expiry_tolerates_clock_skew() -> None:
    verify_token(SECRET, signed(claims(exp=int(time.time()) - LEEWAY_S + 2)))
    refused(signed(claims(exp=int(time.time()) - LEEWAY_S - 5)))


@pytest.mark.parametrize("exp", ["tomorrow", [1], {"at": 1}])
def test_non_numeric_expiry_is_refused(exp: Any) -> None:
    refused(signed(claims(exp=exp)))


# -- signatures and algorithms ------------------------------------------------------


def test_token_signed_with_another_secret_is_refused() -> None:
    refused(signed(claims(), OTHER_SECRET))


def test_tampered_payload_is_refused() -> None:
    header, _, signature = signed(claims()).split(".")
    forged = claims(role="console")
    body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    refused(f"{header}.{body}.{signature}")


def test_unsigned_none_token_is_refused() -> None:
    refused(jwt.encode(claims(), None, algorithm="none"))


def test_hand_made_none_token_is_refused() -> None:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    refused(f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims())}.")


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_algorithms_are_refused(algorithm: str) -> None:
    refused(signed(claims(), algorithm=algorithm))


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "....", "ey.ey.ey"])
def test_garbage_is_refused(token: str) -> None:
    refused(token)


def test_non_object_payload_is_refused() -> None:
    token = jwt.api_jws.encode(b"[1, 2]", SECRET, algorithm="HS256")
    refused(token)


# -- claims -------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["sub", "role", "tenant", "exp"])
def test_missing_claim_is_refused(missing: str) -> None:
    payload = claims()
    del payload[missing]
    refused(signed(payload))


@pytest.mark.parametrize("role", ["admin", "", "Console", "citizen ", 1, None])
def test_bad_role_is_refused(role: Any) -> None:
    payload = claims()
    payload["role"] = role
    refused(signed(payload))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", "s" * 65),
        ("sub", ""),
        ("sub", 42),
        ("sub", ["a"]),
        ("tenant", "t" * 65),
        ("tenant", ""),
        ("tenant", {"id": "narbonne"}),
    ],
)
def test_bad_sub_or_tenant_is_refused(claim: str, value: Any) -> None:
    refused(signed(claims(**{claim: value})))


def test_sub_and_tenant_up_to_64_characters() -> None:
    got = verify_token(SECRET, signed(claims(sub="s" * 64, tenant="t" * 64)))
    assert (got.sub, got.tenant) == ("s" * 64, "t" * 64)


def test_refusals_do_not_echo_the_token() -> None:
    token = signed(claims(), OTHER_SECRET)
    assert token not in str(refused(token))
