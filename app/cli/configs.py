"""``switchyard config validate|apply|export``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from app.settings import Settings

if TYPE_CHECKING:  # imported when a command runs, so `switchyard --help` and `serve` stay light
    from app.store.sql.repos import ConfigRepository, KeyRepository


def register(commands: Any) -> None:
    config = commands.add_parser("config", help="validate, apply or export configuration")
    config_commands = config.add_subparsers(title="config commands")
    validate = config_commands.add_parser(
        "validate", help="check a variants directory and list every problem"
    )
    validate.add_argument("directory", nargs="?", default=None)
    validate.set_defaults(run=run_validate)
    apply = config_commands.add_parser(
        "apply", help="validate a variants directory and store it as a new version"
    )
    apply.add_argument("directory", nargs="?", default=None)
    apply.add_argument("--comment", default=None, help="what changed (kept in the version history)")
    apply.add_argument("--author", default="cli")
    apply.set_defaults(run=run_apply)
    export = config_commands.add_parser("export", help="write the live config version out as files")
    export.add_argument("directory")
    export.add_argument(
        "--version", type=int, default=None, help="a past version instead of the newest"
    )
    export.set_defaults(run=run_export)


def run_validate(args: argparse.Namespace) -> int:
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


def run_apply(args: argparse.Namespace) -> int:
    from app.cli.store import run_with_store
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

    async def work(versions: ConfigRepository, _: KeyRepository) -> int:
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

    return run_with_store(work)


def run_export(args: argparse.Namespace) -> int:
    from app.cli.store import run_with_store
    from app.config.export import write_directory

    async def work(versions: ConfigRepository, _: KeyRepository) -> int:
        stored = await (versions.get(args.version) if args.version else versions.latest())
        if stored is None:
            print("no such config version", file=sys.stderr)
            return 1
        files = write_directory(stored[1], args.directory)
        print(f"exported version {stored[0].version} to {args.directory} ({len(files)} files)")
        return 0

    return run_with_store(work)
