"""``switchyard sql``, ``switchyard campaign results`` and ``switchyard spend``: analysts' reads,
through a running gateway (or, for SQL, straight from the embedded store when no gateway
answers)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from app.cli.remote import GATEWAY_URL_HELP, gateway_request
from app.settings import Settings


def register(commands: Any) -> None:
    sql = commands.add_parser(
        "sql", help="run a read-only ClickHouse query (see docs/analytics.md)"
    )
    sql.add_argument("query")
    sql.add_argument("--format", choices=["table", "json", "csv", "tsv"], default="table")
    sql.add_argument("--url", help=GATEWAY_URL_HELP)
    sql.add_argument("--token", help="admin key or token (default SWITCHYARD_ADMIN_TOKEN)")
    sql.set_defaults(run=run_query)

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
    results.add_argument("--url", help=GATEWAY_URL_HELP)
    results.add_argument("--token", help="API key (default SWITCHYARD_API_KEY)")
    results.set_defaults(run=run_campaign_results)

    spend = commands.add_parser(
        "spend", help="spend in USD, grouped and summed in ClickHouse (see docs/spend.md)"
    )
    spend.add_argument(
        "--group-by",
        default="function,variant",
        help="comma-separated: function, variant, model, provider, api_key, day (default function,variant)",
    )
    spend.add_argument("--from", dest="start", help="ISO date or date-time, inclusive (UTC)")
    spend.add_argument("--to", dest="end", help="ISO date or date-time, exclusive (UTC)")
    spend.add_argument("--format", choices=["table", "json", "csv"], default="table")
    spend.add_argument("--url", help=GATEWAY_URL_HELP)
    spend.add_argument("--token", help="admin key or token (default SWITCHYARD_ADMIN_TOKEN)")
    spend.set_defaults(run=run_spend)


def run_query(args: argparse.Namespace) -> int:
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


def run_campaign_results(args: argparse.Namespace) -> int:
    import msgspec

    from app.experiments.report import format_results
    from app.experiments.schema import CampaignResults

    settings = Settings.from_env()
    token = args.token or os.environ.get("SWITCHYARD_API_KEY") or settings.admin_token
    params = {k: v for k, v in (("metric", args.metric), ("function", args.function)) if v}
    response = gateway_request(
        "campaign results",
        args.url,
        token,
        "GET",
        f"/v1/campaigns/{args.key}/results",
        params=params,
    )
    if response is None:
        return 1
    if args.format == "json":
        print(response.text)
    else:
        print(format_results(msgspec.json.decode(response.content, type=CampaignResults)), end="")
    return 0


def run_spend(args: argparse.Namespace) -> int:
    import msgspec

    from app.store.clickhouse.spend import TOTALS, SpendReport

    params = {
        "group_by": args.group_by,
        "format": "csv" if args.format == "csv" else "json",
        **{k: v for k, v in (("from", args.start), ("to", args.end)) if v},
    }
    token = args.token or Settings.from_env().admin_token
    response = gateway_request("spend", args.url, token, "GET", "/admin/spend", params=params)
    if response is None:
        return 1
    if args.format != "table":
        print(response.text, end="" if response.text.endswith("\n") else "\n")
        return 0
    report = msgspec.json.decode(response.content, type=SpendReport)
    columns = [*report.group_by, *TOTALS]
    cells = [
        [_spend_cell(getattr(row, c)) for c in columns] for row in [*report.rows, report.total]
    ]
    cells[-1][: len(report.group_by) or 0] = ["total", *[""] * (len(report.group_by) - 1)][
        : len(report.group_by)
    ]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    return 0


def _spend_cell(value: object) -> str:
    import msgspec

    if isinstance(value, float):
        return f"{value:.6f}"
    return "" if value is msgspec.UNSET else str(value)
