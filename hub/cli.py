"""The `vigie` command: serve, token, demo, purge, erase."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from types import FrameType

try:
    from redis.exceptions import RedisError

    from hub.config import ConfigError, load_config
    from hub.core.messages import ROLES
    from hub.core.tokens import issue_token
    from hub.logs import setup_logging
    from hub.server.transport import WS_LAYERS, default_ws_layer, uvicorn_options
    from hub.store.embedded import embedded_or_given_redis
except ModuleNotFoundError as exc:  # `pip install vigie` alone is the client library
    if (exc.name or "hub").partition(".")[0] == "hub":
        raise  # a module of ours: a bug, not a missing extra
    raise SystemExit(f"vigie: {exc.name} is missing: pip install 'vigie[hub]'") from exc

__all__ = ["main"]

log = logging.getLogger("vigie.cli")

MIN_SECRET_BYTES = 32


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vigie", description="Vigie dispatch hub")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the hub")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument(
        "--config", help="TOML config (default: VIGIE_CONFIG or config/narbonne.toml)"
    )
    serve.add_argument(
        "--redis-url",
        default=os.environ.get("VIGIE_REDIS_URL"),
        help="Redis URL (default: VIGIE_REDIS_URL; none: an embedded redis-server)",
    )
    serve.add_argument("--data-dir", default="./.vigie", help="embedded Redis data (AOF)")
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    serve.add_argument(
        "--dev",
        action="store_true",
        help="development: a random secret without VIGIE_SECRET, and the /signin page "
        "that mints tokens for any role",
    )
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--ws",
        choices=WS_LAYERS,
        default=default_ws_layer(),
        help="WebSocket layer: the hub's own (default; or VIGIE_WS) or uvicorn's ASGI one",
    )

    token = sub.add_parser("token", help="print a signed session token (JWT)")
    token.add_argument("--role", choices=ROLES, required=True)
    token.add_argument("--sub", required=True)
    token.add_argument("--tenant", required=True)
    token.add_argument("--ttl", type=int, default=3600, help="seconds")

    demo = sub.add_parser("demo", help="hub + embedded Redis + a simulated evening in Narbonne")
    demo.add_argument("--port", type=int, default=8765)
    demo.add_argument("--citizens", type=int, default=40)
    demo.add_argument("--units", type=int, default=5)
    demo.add_argument("--duration", type=float, default=0, help="seconds (0: until Ctrl-C)")
    demo.add_argument("--plain", action="store_true", help="plain text instead of a live board")
    demo.add_argument("--data-dir", default="./.vigie/demo")
    demo.add_argument(
        "--history-days", type=int, default=21, help="past weeks seeded for the statistics"
    )

    purge = sub.add_parser("purge", help="apply the retention periods now (docs/privacy.md)")
    purge.add_argument("--tenant", help="one town (default: every town of the config)")
    erase = sub.add_parser("erase", help="erase a resident's data (right to erasure)")
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--citizen", help="the resident's id (their tokens' sub)")
    who.add_argument("--open311", metavar="PARTNER", help="a resident who reported through PARTNER")
    for name in ("device-id", "account-id", "email"):
        erase.add_argument(f"--{name}", default="", help="with --open311: what the partner sent")
    erase.add_argument("--tenant", help="the town (needed when the config serves several)")
    erase.add_argument("--by", default=f"cli:{getpass.getuser()}", help="who asks (for the log)")
    for records in (purge, erase):
        records.add_argument("--config", help="TOML config (default: VIGIE_CONFIG or narbonne)")
        records.add_argument("--redis-url", default=os.environ.get("VIGIE_REDIS_URL"))
    return p


def _secret(dev: bool) -> str | None:
    secret = os.environ.get("VIGIE_SECRET")
    if secret:
        return secret
    if not dev:
        return None
    secret = secrets.token_urlsafe(32)
    log.warning("dev mode: generated VIGIE_SECRET=%s (tokens die with this process)", secret)
    return secret


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.server.uvserver import serve

    config = load_config(args.config)
    secret = _secret(args.dev)
    if secret is None:
        print("vigie serve: set VIGIE_SECRET (HS256 key for tokens) or pass --dev", file=sys.stderr)
        return 2
    if len(secret.encode()) < MIN_SECRET_BYTES:
        # RFC 7518 §3.2: an HS256 key shorter than the hash output is guessable.
        print(
            f"vigie serve: VIGIE_SECRET must be at least {MIN_SECRET_BYTES} bytes", file=sys.stderr
        )
        return 2
    # uvicorn re-raises SIGTERM once it has shut down; as an exception it unwinds
    # the `with` below, so the embedded redis-server is stopped, not orphaned.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with embedded_or_given_redis(args.redis_url, args.data_dir) as url:
        # Worker processes build the app from the environment (uvicorn --factory).
        os.environ.update(VIGIE_SECRET=secret, VIGIE_REDIS_URL=url, VIGIE_CONFIG=config.source)
        os.environ["VIGIE_DEV"] = "1" if args.dev else "0"
        server_config = uvicorn.Config(
            "hub.server.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            **uvicorn_options(config.hub.max_frame_bytes, config.hub.heartbeat_s, args.ws),  # type: ignore[arg-type]
        )
        return serve(server_config)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Non-zero when a background loop failed (hub.server.failure raised the signal).
    from hub.server.failure import exit_status

    raise SystemExit(exit_status())


def _token(args: argparse.Namespace) -> int:
    secret = os.environ.get("VIGIE_SECRET")
    if not secret:
        print("vigie token: set VIGIE_SECRET to the hub's secret", file=sys.stderr)
        return 2
    print(issue_token(secret, sub=args.sub, role=args.role, tenant=args.tenant, ttl_s=args.ttl))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from hub.demo.run import run_demo  # rich and the clients: only `vigie demo` needs them

    return run_demo(args)


def _records(args: argparse.Namespace) -> int:
    from hub.maintenance import records_command  # redis and the store: only these need them

    return records_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `vigie` command."""
    args = _parser().parse_args(argv)
    setup_logging(getattr(args, "log_level", "info"))
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "token":
            return _token(args)
        if args.command in ("purge", "erase"):
            return _records(args)
        return _demo(args)
    except ConfigError as exc:
        print(f"vigie: {exc}", file=sys.stderr)
        return 2
    except (RedisError, OSError) as exc:  # purge and erase: nothing was reported done
        print(f"vigie {args.command}: Redis unavailable: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
