"""The ``switchyard`` command."""

from __future__ import annotations

import argparse
import os
import sys

from app.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return args.run(args) or 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description="Switchyard LLM gateway")
    commands = parser.add_subparsers(title="commands")

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
    serve.set_defaults(run=_serve)

    config = commands.add_parser("config", help="validate, apply or export configuration")
    config_commands = config.add_subparsers(title="config commands")
    validate = config_commands.add_parser(
        "validate", help="check a variants directory and list every problem"
    )
    validate.add_argument("directory", nargs="?", default=None)
    validate.set_defaults(run=_config_validate)
    apply = config_commands.add_parser(
        "apply", help="validate a variants directory and store it as a new version"
    )
    apply.add_argument("directory", nargs="?", default=None)
    apply.add_argument("--comment", default=None, help="what changed (kept in the version history)")
    apply.add_argument("--author", default="cli")
    apply.set_defaults(run=_config_apply)
    export = config_commands.add_parser("export", help="write the live config version out as files")
    export.add_argument("directory")
    export.add_argument(
        "--version", type=int, default=None, help="a past version instead of the newest"
    )
    export.set_defaults(run=_config_export)

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
    create.set_defaults(run=_keys_create)
    listing = key_commands.add_parser("list", help="list keys (prefixes only)")
    listing.set_defaults(run=_keys_list)
    revoke = key_commands.add_parser("revoke", help="revoke a key by id or visible prefix")
    revoke.add_argument("key")
    revoke.set_defaults(run=_keys_revoke)

    migrate = commands.add_parser("migrate", help="bring the ClickHouse and SQL schemas up to date")
    migrate.add_argument("--only", choices=["clickhouse", "sql"], help="migrate one store only")
    migrate.set_defaults(run=_migrate)

    sql = commands.add_parser(
        "sql", help="run a read-only ClickHouse query (see docs/analytics.md)"
    )
    sql.add_argument("query")
    sql.add_argument("--format", choices=["table", "json", "csv", "tsv"], default="table")
    sql.add_argument(
        "--url", help="a running gateway (default http://SWITCHYARD_HOST:SWITCHYARD_PORT)"
    )
    sql.add_argument("--token", help="admin key or token (default SWITCHYARD_ADMIN_TOKEN)")
    sql.set_defaults(run=_sql)

    campaign = commands.add_parser("campaign", help="experiment results")
    campaign_commands = campaign.add_subparsers(title="campaign commands")
    results = campaign_commands.add_parser(
        "results", help="a campaign's per-variant results, as a table"
    )
    results.add_argument("key", help="campaign key or id")
    results.add_argument("--metric", help="default: the campaign's primary metric")
    results.add_argument(
        "--function", help="needed when several functions have a campaign of that name"
    )
    results.add_argument("--format", choices=["table", "json"], default="table")
    results.add_argument(
        "--url", help="a running gateway (default http://SWITCHYARD_HOST:SWITCHYARD_PORT)"
    )
    results.add_argument("--token", help="API key (default SWITCHYARD_API_KEY)")
    results.set_defaults(run=_campaign_results)
    return parser


def _serve(args: argparse.Namespace) -> int:
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

    Granian(
        "app.main:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        log_level=settings.log_level,
        backlog=2048,
    ).serve()
    return 0


def _config_validate(args: argparse.Namespace) -> int:
    from app.config.compile import validate_document
    from app.config.loader import load_directory

    directory = args.directory or Settings.from_env().config_dir
    document, sources, problems = load_directory(directory)
    problems += validate_document(document, sources)
    if problems:
        print(f"{len(problems)} problem(s) in {directory}:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    functions = document.get("functions", {})
    print(
        f"{directory}: OK ({len(document.get('providers', {}))} providers, "
        f"{len(document.get('models', {}))} models, {len(functions)} functions)"
    )
    return 0


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    """Repositories over the configured SQL store, migrated to the newest schema."""
    from app.store.sql.engine import create_engine, is_postgres, session_factory
    from app.store.sql.migrate import upgrade
    from app.store.sql.repos import ConfigRepository, KeyRepository

    url = settings.resolved_database_url
    upgrade(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    return engine, ConfigRepository(sessions, notify=is_postgres(url)), KeyRepository(sessions)


def _run_with_store(work):  # type: ignore[no-untyped-def]
    import asyncio

    settings = Settings.from_env()
    engine, versions, keys = _store(settings)

    async def main() -> int:
        try:
            return await work(versions, keys)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _config_apply(args: argparse.Namespace) -> int:
    from app.config.export import normalized
    from app.config.problems import ConfigError
    from app.config.source import directory_document

    directory = args.directory or Settings.from_env().config_dir
    try:
        document, _ = directory_document(directory)
    except ConfigError as exc:
        print(f"{len(exc.problems)} problem(s) in {directory}; nothing applied:")
        for problem in exc.problems:
            print(f"  {problem}")
        return 1

    async def work(versions, keys) -> int:  # type: ignore[no-untyped-def]
        latest = await versions.latest()
        if latest is not None and normalized(latest[1]) == normalized(document):
            print(f"no change: version {latest[0].version} already holds this config")
            return 0
        info = await versions.create(
            document,
            parent=latest[0].version if latest else 0,
            author=args.author,
            comment=args.comment or f"applied {directory}",
            target="config",
        )
        print(f"applied {directory} as version {info.version}")
        return 0

    return _run_with_store(work)


def _config_export(args: argparse.Namespace) -> int:
    from app.config.export import write_directory

    async def work(versions, keys) -> int:  # type: ignore[no-untyped-def]
        stored = await (versions.get(args.version) if args.version else versions.latest())
        if stored is None:
            print("no such config version", file=sys.stderr)
            return 1
        files = write_directory(stored[1], args.directory)
        print(f"exported version {stored[0].version} to {args.directory} ({len(files)} files)")
        return 0

    return _run_with_store(work)


def _keys_create(args: argparse.Namespace) -> int:
    from app.auth.keys import create_api_key
    from app.errors import InvalidRequest

    role = "admin" if args.admin else "client"
    functions = (
        [f.strip() for f in args.functions.split(",") if f.strip()] if args.functions else None
    )

    async def work(versions, keys) -> int:  # type: ignore[no-untyped-def]
        try:
            info, key = await create_api_key(
                keys,
                name=args.name or f"{role} key",
                role=role,
                functions=functions,
                rpm_limit=args.rpm,
                actor="cli",
            )
        except InvalidRequest as exc:
            print(f"switchyard: {exc.message}", file=sys.stderr)
            return 2
        print(key)
        print(
            f"id {info.id}, role {info.role}"
            + (f", functions {','.join(functions)}" if functions else "")
            + (f", {args.rpm} requests/minute" if args.rpm else "")
            + ". This is the only time the key is shown: store it now.",
            file=sys.stderr,
        )
        return 0

    return _run_with_store(work)


def _keys_list(args: argparse.Namespace) -> int:
    async def work(versions, keys) -> int:  # type: ignore[no-untyped-def]
        rows = await keys.list()
        print(f"{'id':36}  {'prefix':11}  {'role':6}  {'rpm':>5}  {'revoked':7}  name / functions")
        for k in rows:
            scope = f" [{','.join(k.functions)}]" if k.functions is not None else ""
            print(
                f"{k.id:36}  {k.prefix:11}  {k.role:6}  {k.rpm_limit or '':>5}  {'yes' if k.revoked_at else 'no':7}  {k.name}{scope}"
            )
        return 0

    return _run_with_store(work)


def _keys_revoke(args: argparse.Namespace) -> int:
    async def work(versions, keys) -> int:  # type: ignore[no-untyped-def]
        info = await keys.revoke(args.key, actor="cli")
        if info is None:
            print(f"no key '{args.key}'", file=sys.stderr)
            return 1
        print(f"revoked {info.id} ({info.prefix}, {info.name})")
        return 0

    return _run_with_store(work)


def _migrate(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.only != "sql":
        from app.store.clickhouse.client import describe
        from app.store.clickhouse.commands import migrate_clickhouse

        try:
            applied = migrate_clickhouse(settings.resolved_clickhouse_url)
        except Exception as exc:
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


def _sql(args: argparse.Namespace) -> int:
    from app.store.clickhouse.commands import run_sql
    from app.store.clickhouse.query import SqlLimits

    settings = Settings.from_env()
    return run_sql(
        args.query,
        None if args.format == "table" else args.format,
        gateway_url=args.url or f"http://{settings.host}:{settings.port}",
        token=args.token or settings.admin_token,
        clickhouse_url=settings.resolved_clickhouse_url,
        limits=SqlLimits(settings.admin_sql_timeout_s, settings.admin_sql_max_rows),
    )


def _campaign_results(args: argparse.Namespace) -> int:
    import httpx
    import msgspec

    from app.experiments.report import format_results
    from app.experiments.schema import CampaignResults

    settings = Settings.from_env()
    url = (args.url or f"http://{settings.host}:{settings.port}").rstrip("/")
    token = args.token or os.environ.get("SWITCHYARD_API_KEY") or settings.admin_token
    params = {k: v for k, v in (("metric", args.metric), ("function", args.function)) if v}
    try:
        response = httpx.get(
            f"{url}/v1/campaigns/{args.key}/results",
            params=params,
            timeout=60,
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )
    except httpx.HTTPError as exc:
        print(f"switchyard campaign results: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(
            f"switchyard campaign results: {response.status_code}: {response.json()['error']['message']}",
            file=sys.stderr,
        )
        return 1
    if args.format == "json":
        print(response.text)
    else:
        print(format_results(msgspec.json.decode(response.content, type=CampaignResults)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
