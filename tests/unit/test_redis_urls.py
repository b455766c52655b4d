"""The Redis URLs the hub accepts: a Sentinel-watched primary (parsing only, no I/O)."""

from __future__ import annotations

import pytest
from redis.exceptions import ReadOnlyError, ResponseError

from hub.store.client import SentinelTarget, is_read_only, parse_sentinel_url


def test_sentinel_url_lists_sentinels_service_and_database() -> None:
    target = parse_sentinel_url(
        "redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2,[::1]:26380/vigie/2"
    )
    assert target == SentinelTarget(
        [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("::1", 26380)], "vigie", 2, None, "s3cret"
    )


def test_tls_sentinel_url_and_default_database() -> None:
    target = parse_sentinel_url("rediss+sentinel://hub:pw@s1:26379/vigie")
    assert (target.tls, target.db, target.username, target.password) == (True, 0, "hub", "pw")


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://s1:26379",  # no service name
        "redis+sentinel://s1:26379/",
        "redis+sentinel://s1:26379/vigie/x",  # bad database
        "redis+sentinel://s1:26379/vigie/0/extra",
        "redis+sentinel:///vigie",  # no Sentinel
        "redis+sentinel://s1:port/vigie",
        "redis+sentinel://s1:26379/vigie?timeout=1",
    ],
)
def test_bad_sentinel_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_sentinel_url(url)


def test_a_password_never_reaches_the_error_text() -> None:
    with pytest.raises(ValueError) as raised:
        parse_sentinel_url("redis+sentinel://u:hunter2@s1:26379")
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ReadOnlyError("You can't write against a read only replica."), True),
        # Redis 6.2: a script's write refused on a replica, inside an ERR text.
        (
            ResponseError(
                "Error running script (call to f_1): @user_script:3: @user_script: 3: "
                "-READONLY You can't write against a read only replica. "
            ),
            True,
        ),
        (ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"), False),
    ],
)
def test_a_demoted_primary_is_recognised(exc: Exception, expected: bool) -> None:
    assert is_read_only(exc) is expected
