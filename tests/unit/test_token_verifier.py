"""Identity-provider tokens: RS256 / ES256 against a JWKS, issuer and audience checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hub.core.tokens import TokenError, TokenVerifier, UnknownKeyError, issue_token

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4
ISSUER = "https://sso.narbonne.example/realms/vigie"
AUDIENCE = "vigie"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def jwk(private: Any, kid: str, alg: str) -> dict[str, Any]:
    """The public half of `private` as a JWK dict."""
    algorithm = jwt.get_algorithm_by_name(alg)
    public = algorithm.to_jwk(private.public_key(), as_dict=True)
    return {**public, "kid": kid, "alg": alg, "use": "sig"}


KEYS = jwt.PyJWKSet([jwk(RSA_KEY, "rsa-1", "RS256"), jwk(EC_KEY, "ec-1", "ES256")])


def sign(private: Any, alg: str, kid: str | None = "rsa-1", **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "op1", "role": "console", "tenant": "narbonne", "iat": now, "exp": now + 600,
        "iss": ISSUER, "aud": AUDIENCE,
    }  # fmt: skip
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    headers = {"kid": kid} if kid else {}
    return jwt.encode(claims, private, algorithm=alg, headers=headers)


def verifier(secret: str | None = SECRET) -> TokenVerifier:
    v = TokenVerifier(secret, issuer=ISSUER, audience=AUDIENCE)
    v.set_keys(KEYS)
    return v


def test_rs256_token_of_the_identity_provider_is_accepted() -> None:
    claims = verifier().verify(sign(RSA_KEY, "RS256"))
    assert (claims.sub, claims.role, claims.tenant) == ("op1", "console", "narbonne")


def test_es256_token_is_accepted() -> None:
    assert verifier().verify(sign(EC_KEY, "ES256", kid="ec-1")).role == "console"


def test_the_hubs_own_hs256_tokens_still_work() -> None:
    token = issue_token(SECRET, sub="c1", role="citizen", tenant="narbonne")
    assert verifier().verify(token).sub == "c1"


def test_hs256_refused_when_the_shared_secret_is_off() -> None:
    token = issue_token(SECRET, sub="c1", role="citizen", tenant="narbonne")
    with pytest.raises(TokenError):
        verifier(secret=None).verify(token)


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://evil.example/realms/vigie"},
        {"aud": "another-app"},
        {"iss": None},
        {"aud": None},
        {"exp": int(time.time()) - 3600},
        {"role": "mayor"},
        {"tenant": None},
    ],
)
def test_bad_claims_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(TokenError):
        verifier().verify(sign(RSA_KEY, "RS256", **changes))


def test_a_key_not_in_the_set_is_refused() -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenError):
        verifier().verify(sign(stranger, "RS256"))  # kid rsa-1, but the wrong key


def test_an_unknown_kid_asks_for_a_refresh() -> None:
    with pytest.raises(UnknownKeyError):
        verifier().verify(sign(RSA_KEY, "RS256", kid="rsa-2"))


def test_no_kid_is_fine_when_one_key_has_the_algorithm() -> None:
    assert verifier().verify(sign(EC_KEY, "ES256", kid=None)).sub == "op1"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A token built without PyJWT, which refuses to make these on purpose."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    sig = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


PAYLOAD = {"sub": "x", "role": "console", "tenant": "narbonne", "exp": int(time.time()) + 600,
           "iss": ISSUER, "aud": AUDIENCE}  # fmt: skip


def test_public_key_used_as_an_hmac_secret_is_refused() -> None:
    """Algorithm confusion: HS256 'signed' with the RSA public key must not pass."""
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = hand_made({"alg": "HS256", "kid": "rsa-1"}, PAYLOAD, pem)
    with pytest.raises(TokenError):
        verifier().verify(forged)


@pytest.mark.parametrize("alg", ["none", "RS384", "PS256", "HS512"])
def test_other_algorithms_are_refused(alg: str) -> None:
    with pytest.raises(TokenError):
        verifier().verify(hand_made({"alg": alg, "kid": "rsa-1"}, PAYLOAD, None))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "...."])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(TokenError):
        verifier().verify(token)


def test_without_a_key_set_identity_provider_tokens_are_refused() -> None:
    v = TokenVerifier(SECRET, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(TokenError):
        v.verify(sign(RSA_KEY, "RS256"))
