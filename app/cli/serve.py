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
        "--workers",
        type=int,
        help="worker processes (SWITCHYARD_WORKERS, default 1); on the embedded default a "
        "store process owns chDB for them",
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
    if settings.workers < 1:
        print(f"switchyard: --workers must be at least 1, not {settings.workers}", file=sys.stderr)
        return 2
    os.environ.update(settings.to_env())  # granian's worker processes read settings from here
    if settings.workers > 1:
        _migrate_config_store_once(settings)
    if not settings.uses_store_process:
        _serve_http(settings)
        return 0
    from app.cli.store_process import StoreProcess
    from app.logs import configure_logging

    configure_logging(settings.log_level)
    store = StoreProcess(settings)
    try:
        store.start()
    except RuntimeError as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 1
    try:
        _serve_http(settings)
    finally:
        store.stop()
    return 0


def _migrate_config_store_once(settings: Settings) -> None:
    """Workers would all run the SQL migrations at once; run them here first. A database that
    is down is not fatal: each worker serves the files and retries, as a single process does."""
    from app.store.sql.migrate import upgrade

    try:
        upgrade(settings.resolved_database_url)
    except Exception as exc:  # noqa: BLE001 - reported, and the workers retry on their own
        print(f"switchyard: config store not migrated yet ({exc}); workers retry", file=sys.stderr)


def _serve_http(settings: Settings) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)  # the workers inherit it
    rsgi = settings.server_interface == "rsgi"
    Granian(
        "app.main:create_rsgi_app" if rsgi else "app.main:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        interface=Interfaces.RSGI if rsgi else Interfaces.ASGI,
        websockets=False,  # no route takes a websocket
        loop=Loops.uvloop,
        log_level=LogLevels(settings.log_level),
        backlog=2048,
        # a worker that dies (killed, out of memory) is replaced; what it answered is in its
        # journal, which the next writer adopts (docs/analytics.md, "The journal")
        respawn_failed_workers=True,
        respawn_interval=1.0,
    ).serve()


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
