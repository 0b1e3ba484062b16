"""``switchyard serve`` and ``switchyard migrate``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from app.settings import Settings


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="bind address (SWITCHYARD_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (SWITCHYARD_PORT, default 8080)")
    serve.add_argument(
        "--config-dir", help="variants directory (SWITCHYARD_CONFIG_DIR, default ./variants)"
    )
    serve.add_argument(
        "--data-dir", help="SQLite, chDB and spill files (SWITCHYARD_DATA_DIR, default ./data)"
    )
    serve.add_argument(
        "--workers", type=int, help="worker processes (needs a ClickHouse server when > 1)"
    )
    serve.set_defaults(run=run_serve)

    migrate = commands.add_parser("migrate", help="bring the ClickHouse and SQL schemas up to date")
    migrate.add_argument("--only", choices=["clickhouse", "sql"], help="migrate one store only")
    migrate.set_defaults(run=run_migrate)


def run_serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env(
        host=args.host,
        port=args.port,
        config_dir=args.config_dir,
        data_dir=args.data_dir,
        workers=args.workers,
    )
    if settings.workers > 1 and not settings.clickhouse_url:
        print(
            "switchyard: --workers > 1 needs a ClickHouse server (SWITCHYARD_CLICKHOUSE_URL): the embedded "
            "chDB engine holds its data directory for one process only.",
            file=sys.stderr,
        )
        return 2
    os.environ.update(settings.to_env())  # granian's worker processes read settings from here

    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    Granian(
        "app.main:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        log_level=LogLevels(settings.log_level),
        backlog=2048,
    ).serve()
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.only != "sql":
        from app.store.clickhouse.client import describe
        from app.store.clickhouse.commands import migrate_clickhouse

        try:
            applied = migrate_clickhouse(
                settings.resolved_clickhouse_url, settings.clickhouse_cluster
            )
        except Exception as exc:  # noqa: BLE001 - any failure is reported, with where it happened
            print(
                f"switchyard migrate: ClickHouse ({describe(settings.resolved_clickhouse_url)}): {exc}",
                file=sys.stderr,
            )
            return 1
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "already up to date"
        print(f"ClickHouse: {names}")
    if args.only != "clickhouse":
        from app.store.sql.migrate import upgrade

        upgrade(settings.resolved_database_url)
        print("SQL config store: up to date")
    return 0
