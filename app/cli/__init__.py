"""The ``switchyard`` command: one module per group of subcommands, each adding its own
parsers with ``register``; ``main`` only assembles them and dispatches."""

from __future__ import annotations

import argparse

from app.cli import analytics, configs, datasets, evaluations, keys, serve


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    code: int = args.run(args) or 0
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description="Switchyard LLM gateway")
    commands = parser.add_subparsers(title="commands")
    for group in (serve, configs, keys, analytics, datasets, evaluations):
        group.register(commands)
    return parser
