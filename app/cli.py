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
    serve.add_argument("--config-dir", help="variants directory (SWITCHYARD_CONFIG_DIR, default ./variants)")
    serve.add_argument("--data-dir", help="SQLite, chDB and spill files (SWITCHYARD_DATA_DIR, default ./data)")
    serve.add_argument("--workers", type=int, help="worker processes (needs a ClickHouse server when > 1)")
    serve.set_defaults(run=_serve)

    config = commands.add_parser("config", help="validate, apply or export configuration")
    config_commands = config.add_subparsers(title="config commands")
    validate = config_commands.add_parser("validate", help="check a variants directory and list every problem")
    validate.add_argument("directory", nargs="?", default=None)
    validate.set_defaults(run=_config_validate)
    return parser


def _serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env(
        host=args.host, port=args.port, config_dir=args.config_dir, data_dir=args.data_dir, workers=args.workers
    )
    from app.config.problems import ConfigError
    from app.config.source import load_directory_snapshot

    try:  # fail fast, in the parent, with every problem listed
        load_directory_snapshot(settings.config_dir)
    except ConfigError as exc:
        print(f"switchyard: the config in {settings.config_dir} has problems:\n{exc}", file=sys.stderr)
        return 1
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
    from app.config.loader import load_directory
    from app.config.snapshot import validate_document

    directory = args.directory or Settings.from_env().config_dir
    document, sources, problems = load_directory(directory)
    problems += validate_document(document, sources)
    if problems:
        print(f"{len(problems)} problem(s) in {directory}:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    functions = document.get("functions", {})
    print(f"{directory}: OK ({len(document.get('providers', {}))} providers, "
          f"{len(document.get('models', {}))} models, {len(functions)} functions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
