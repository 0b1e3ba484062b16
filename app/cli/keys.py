"""``switchyard keys create|list|revoke``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a command runs, so `switchyard --help` and `serve` stay light
    from app.store.sql.repos import ConfigRepository, KeyRepository


def register(commands: Any) -> None:
    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    key_commands = keys.add_subparsers(title="keys commands")
    create = key_commands.add_parser(
        "create", help="create a key; it is printed once and never stored"
    )
    create.add_argument("--name", default=None)
    create.add_argument("--admin", action="store_true", help="an admin key (admin API, SQL)")
    create.add_argument(
        "--functions", default=None, help="comma-separated functions the key may call"
    )
    create.add_argument("--rpm", type=int, default=None, help="requests-per-minute limit")
    create.add_argument(
        "--budget-usd",
        type=float,
        default=None,
        help="spend limit in USD per --budget-period; then requests get 429 (docs/spend.md)",
    )
    create.add_argument(
        "--budget-period",
        choices=["day", "month", "total"],
        default=None,
        help="what --budget-usd is per (default month)",
    )
    create.set_defaults(run=run_create)
    listing = key_commands.add_parser("list", help="list keys (prefixes only)")
    listing.set_defaults(run=run_list)
    revoke = key_commands.add_parser("revoke", help="revoke a key by id or visible prefix")
    revoke.add_argument("key")
    revoke.set_defaults(run=run_revoke)


def run_create(args: argparse.Namespace) -> int:
    from app.auth.keys import create_api_key
    from app.cli.store import run_with_store
    from app.errors import InvalidRequest

    role = "admin" if args.admin else "client"
    functions = (
        [f.strip() for f in args.functions.split(",") if f.strip()] if args.functions else None
    )

    async def work(_: ConfigRepository, keys: KeyRepository) -> int:
        try:
            info, key = await create_api_key(
                keys,
                name=args.name or f"{role} key",
                role=role,
                functions=functions,
                rpm_limit=args.rpm,
                actor="cli",
                budget_usd=args.budget_usd,
                budget_period=args.budget_period,
            )
        except InvalidRequest as exc:
            print(f"switchyard: {exc.message}", file=sys.stderr)
            return 2
        print(key)
        print(
            f"id {info.id}, role {info.role}"
            + (f", functions {','.join(functions)}" if functions else "")
            + (f", {args.rpm} requests/minute" if args.rpm else "")
            + (f", budget ${info.budget_usd:g} per {info.budget_period}" if info.budget_usd else "")
            + ". This is the only time the key is shown: store it now.",
            file=sys.stderr,
        )
        return 0

    return run_with_store(work)


def run_list(_: argparse.Namespace) -> int:
    from app.cli.store import run_with_store

    async def work(__: ConfigRepository, keys: KeyRepository) -> int:
        rows = await keys.list()
        print(
            f"{'id':36}  {'prefix':11}  {'role':6}  {'rpm':>5}  {'budget':>16}  {'revoked':7}  "
            "name / functions"
        )
        for k in rows:
            scope = f" [{','.join(k.functions)}]" if k.functions is not None else ""
            revoked = "yes" if k.revoked_at else "no"
            budget = f"${k.budget_usd:g}/{k.budget_period}" if k.budget_usd is not None else ""
            print(
                f"{k.id:36}  {k.prefix:11}  {k.role:6}  {k.rpm_limit or '':>5}  {budget:>16}  "
                f"{revoked:7}  {k.name}{scope}"
            )
        return 0

    return run_with_store(work)


def run_revoke(args: argparse.Namespace) -> int:
    from app.cli.store import run_with_store

    async def work(_: ConfigRepository, keys: KeyRepository) -> int:
        info = await keys.revoke(args.key, actor="cli")
        if info is None:
            print(f"no key '{args.key}'", file=sys.stderr)
            return 1
        print(f"revoked {info.id} ({info.prefix}, {info.name})")
        return 0

    return run_with_store(work)
