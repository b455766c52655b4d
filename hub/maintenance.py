"""Operations on stored records, outside any session: erasure and retention.

The same functions serve `vigie erase` / `vigie purge` (against a Redis URL),
the console API (`POST /api/v1/citizens/{id}/erase`) and the hourly retention
job of a running hub.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from hub.config import Config, ConfigError, TenantConfig, load_config
from hub.core.open311 import REPORTER_KINDS, reporter_id
from hub.core.privacy import check_citizen_id
from hub.store.client import RedisLike, redis_client
from hub.store.dispatch import LifecycleContext
from hub.store.erasure import ErasureReport, erase_citizen
from hub.store.keys import TenantKeys
from hub.store.retention import PurgeReport, purge_tenant
from hub.store.scripts import ScriptSet

__all__ = ["erase", "purge", "records_command", "run_erase", "run_purge", "tenant_of"]

REDIS_TIMEOUT_S = 30.0  # a SCAN page or a chunk's script, not the whole job


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def erase(
    redis: RedisLike,
    scripts: ScriptSet,
    config: Config,
    tenant: TenantConfig,
    citizen: str,
    *,
    by: str,
    session: str,
) -> ErasureReport:
    """Erase one resident of `tenant`; `by` and `session` say who asked (for the log)."""
    ctx = LifecycleContext.for_tenant(config.hub, tenant, by, session, _now_ms())
    return await erase_citizen(
        redis,
        scripts,
        ctx,
        check_citizen_id(citizen),
        coarse_resolution=tenant.public_resolution,
        hub_resolution=config.hub.h3_resolution,
    )


async def purge(redis: RedisLike, scripts: ScriptSet, tenant: TenantConfig) -> PurgeReport:
    """Apply the tenant's retention periods now."""
    return await purge_tenant(redis, scripts, TenantKeys(tenant.id), tenant.retention, _now_ms())


def tenant_of(config: Config, tenant_id: str | None) -> TenantConfig:
    """The tenant named, or the only one; ConfigError otherwise."""
    if tenant_id is None:
        if len(config.tenants) != 1:
            raise ConfigError(f"--tenant is required: the config serves {sorted(config.tenants)}")
        return next(iter(config.tenants.values()))
    tenant = config.tenant(tenant_id)
    if tenant is None:
        raise ConfigError(f"--tenant: {tenant_id!r} is not served ({sorted(config.tenants)})")
    return tenant


T = TypeVar("T")


async def _with_redis(url: str, job: Callable[[RedisLike, ScriptSet], Awaitable[T]]) -> T:
    redis = redis_client(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=5.0)
    try:
        return await job(redis, ScriptSet(redis))
    finally:
        await redis.aclose()


def run_erase(
    url: str, config: Config, tenant: TenantConfig, citizen: str, by: str
) -> ErasureReport:
    """`vigie erase`: one erasure against the Redis at `url`."""

    async def job(redis: RedisLike, scripts: ScriptSet) -> ErasureReport:
        return await erase(redis, scripts, config, tenant, citizen, by=by, session="cli")

    return asyncio.run(_with_redis(url, job))


def run_purge(url: str, tenants: Sequence[TenantConfig]) -> list[PurgeReport]:
    """`vigie purge`: retention now, for each tenant."""

    async def job(redis: RedisLike, scripts: ScriptSet) -> list[PurgeReport]:
        return [await purge(redis, scripts, t) for t in tenants]

    return asyncio.run(_with_redis(url, job))


def records_command(args: argparse.Namespace) -> int:
    """`vigie purge` and `vigie erase` (hub/cli.py parses their arguments)."""
    if not args.redis_url:
        print(f"vigie {args.command}: pass --redis-url or set VIGIE_REDIS_URL", file=sys.stderr)
        return 2
    config = load_config(args.config)
    if args.command == "purge":
        tenants = [tenant_of(config, args.tenant)] if args.tenant else None
        reports = run_purge(args.redis_url, tenants or list(config.tenants.values()))
        print(json.dumps([r.to_json() for r in reports]))
        return 0
    tenant = tenant_of(config, args.tenant)
    try:
        citizens = _residents(args, tenant)
    except ValueError as exc:
        print(f"vigie erase: {exc}", file=sys.stderr)
        return 2
    for citizen in citizens:
        report = run_erase(args.redis_url, config, tenant, citizen, args.by)
        print(json.dumps(report.to_json()))
    return 0


def _residents(args: argparse.Namespace, tenant: TenantConfig) -> list[str]:
    """The ids to erase: the one given, or the pseudonyms of an Open311 reporter."""
    if args.citizen is not None:
        return [check_citizen_id(args.citizen)]
    partners = tenant.open311.partners if tenant.open311 else {}
    if args.open311 not in partners:
        raise ValueError(f"--open311: {args.open311!r} is not a partner of {tenant.id}")
    secret = os.environ.get("VIGIE_SECRET")
    if not secret:
        raise ValueError("--open311 needs VIGIE_SECRET (the pseudonyms are keyed with it)")
    given = {"device_id": args.device_id, "account_id": args.account_id, "email": args.email}
    ids = [
        reporter_id(args.open311, REPORTER_KINDS[name], value.lower() if name == "email" else value,
                    secret.encode())
        for name, value in given.items()
        if value
    ]  # fmt: skip
    if not ids:
        raise ValueError("--open311 needs --device-id, --account-id or --email")
    return [check_citizen_id(i) for i in ids]
