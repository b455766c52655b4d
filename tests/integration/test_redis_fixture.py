"""Why tests/conftest.py's `redis` fixture exists: a test that fails with its client
still open fails the next test too; with the fixture, only itself.

A pytest run in a subprocess (its own event loops, its own warnings filter) on this
test's database: in each pair, the first test fails before the end of its body, the
second runs the garbage collector (as the collector does when it likes, during
whichever test runs then).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

CONFTEST = """\
import pytest

from tests.conftest import redis, redis_factory  # noqa: F401


@pytest.fixture
def redis_url() -> str:
    return {url!r}
"""

NEXT = """\
import gc


def test_next() -> None:
    gc.collect()
"""

CLOSED_AT_THE_END = """\
from redis.asyncio import Redis


async def test_fails(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    await redis.ping()
    assert False, "fails before its aclose()"
    await redis.aclose()
"""

FIXTURE = """\
async def test_fails(redis) -> None:
    await redis.ping()
    assert False, "fails before the end of the test"
"""


def _outcomes(tmp_path: Path, project_root: Path, redis_url: str) -> dict[str, str]:
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "conftest.py").write_text(CONFTEST.format(url=redis_url))
    files = {
        "test_1_closed_at_the_end.py": CLOSED_AT_THE_END,
        "test_2_after_it.py": NEXT,
        "test_3_fixture.py": FIXTURE,
        "test_4_after_it.py": NEXT,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(project_root), str(project_root / "scripts")]),
    }
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist"]
    run = subprocess.run(
        [*command, "--junitxml=report.xml", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    outcomes = {}
    for case in ET.parse(tmp_path / "report.xml").iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[case.get("classname", "").rsplit(".", 1)[-1]] = "failed" if failed else "passed"
    assert len(outcomes) == len(files), run.stdout + run.stderr
    return outcomes


def test_a_failed_test_leaks_no_client_into_the_next_one(
    tmp_path: Path, project_root: Path, redis_url: str
) -> None:
    assert _outcomes(tmp_path, project_root, redis_url) == {
        "test_1_closed_at_the_end": "failed",
        "test_2_after_it": "failed",  # its connection, collected here: "unclosed Connection"
        "test_3_fixture": "failed",
        "test_4_after_it": "passed",  # closed by the fixture, at the teardown of test 3
    }
