"""``switchyard dataset create|list|export``: datasets through a running gateway's
``/admin/datasets`` (docs/evaluations.md), with the admin token."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.remote import GATEWAY_URL_HELP, TOKEN_HELP, call, print_table


def register(commands: Any) -> None:
    dataset = commands.add_parser("dataset", help="datasets built from the inference log")
    verbs = dataset.add_subparsers(title="dataset commands")

    create = verbs.add_parser("create", help="build a dataset from logged inferences")
    create.add_argument("name")
    create.add_argument("--function", required=True)
    create.add_argument("--description", default="")
    create.add_argument("--variant")
    create.add_argument("--campaign")
    create.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    create.add_argument("--metric", help="keep inferences with feedback of this metric")
    create.add_argument(
        "--value", type=float, help="... whose latest value is this (1/0 for booleans)"
    )
    create.add_argument("--min", type=float)
    create.add_argument("--max", type=float)
    create.add_argument("--from", dest="start", help="ISO date or date-time, inclusive (UTC)")
    create.add_argument("--to", dest="end", help="ISO date or date-time, exclusive (UTC)")
    create.add_argument("--limit", type=int, help="the newest N (default 1000)")
    create.set_defaults(run=run_create)

    listing = verbs.add_parser("list", help="datasets and their sizes")
    listing.set_defaults(run=run_list)

    export = verbs.add_parser("export", help="write a dataset as JSON Lines")
    export.add_argument("name")
    export.add_argument("--format", choices=["jsonl", "openai-sft"], default="jsonl")
    export.add_argument("--variant", help="openai-sft: render this variant's system prompt")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.set_defaults(run=run_export)

    for parser in (create, listing, export):
        parser.add_argument("--url", help=GATEWAY_URL_HELP)
        parser.add_argument("--token", help=TOKEN_HELP)


def run_create(args: argparse.Namespace) -> int:
    labels = {}
    for pair in args.label:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            print(
                f"switchyard dataset create: --label wants KEY=VALUE, got {pair!r}", file=sys.stderr
            )
            return 2
        labels[key] = value
    picked = {
        "variant": args.variant,
        "campaign": args.campaign,
        "metric": args.metric,
        "value": args.value,
        "min": args.min,
        "max": args.max,
        "from": args.start,
        "to": args.end,
        "limit": args.limit,
    }
    body = {
        "name": args.name,
        "function": args.function,
        "description": args.description,
        "filter": {"labels": labels, **{k: v for k, v in picked.items() if v is not None}},
    }
    response = call("dataset create", args, "POST", "/admin/datasets", timeout=600, json=body)
    if response is None:
        return 1
    info = response.json()
    print(f"dataset {info['name']}: {info['datapoints']} datapoints of {info['function']}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    response = call("dataset list", args, "GET", "/admin/datasets")
    if response is None:
        return 1
    rows = [
        [d["name"], d["function"], str(d["datapoints"]), d["created_at"][:19], d["description"]]
        for d in response.json()["datasets"]
    ]
    print_table(["name", "function", "datapoints", "created", "description"], rows)
    return 0


def run_export(args: argparse.Namespace) -> int:
    params = {"format": args.format, **({"variant": args.variant} if args.variant else {})}
    response = call(
        "dataset export",
        args,
        "GET",
        f"/admin/datasets/{args.name}/export",
        timeout=600,
        params=params,
    )
    if response is None:
        return 1
    if args.output:
        Path(args.output).write_bytes(response.content)
        lines = response.content.count(b"\n")
        print(f"wrote {lines} lines to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(response.content)
    skipped = response.headers.get("x-switchyard-skipped")
    if skipped and skipped != "0":
        print(f"{skipped} datapoints had no answer to learn and were left out", file=sys.stderr)
    return 0
