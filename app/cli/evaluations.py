"""``switchyard eval run|show|resume``: offline evaluation runs through a running gateway's
``/admin/evaluations`` (docs/evaluations.md). ``run`` starts one, draws its progress on
standard error until it ends, prints the results table, and exits 1 if any datapoint errored
or the run did not complete."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from app.cli.remote import GATEWAY_URL_HELP, TOKEN_HELP, call, print_table

POLL_S = 0.5
BAR = 30


def register(commands: Any) -> None:
    evaluate = commands.add_parser("eval", help="offline evaluations of variants on a dataset")
    verbs = evaluate.add_subparsers(title="eval commands")
    run = verbs.add_parser("run", help="run an evaluation and print its results")
    run.add_argument("name", help="an evaluation of the config ([evaluations.NAME])")
    run.add_argument("--variant", action="append", required=True, help="repeat for each variant")
    run.add_argument("--concurrency", type=int, default=8)
    run.add_argument("--limit", type=int, help="only the first N datapoints")
    run.add_argument("--no-wait", action="store_true", help="print the run id and return")
    run.set_defaults(run=run_eval)
    show = verbs.add_parser("show", help="a run's progress and results")
    show.add_argument("run_id")
    show.set_defaults(run=run_show)
    resume = verbs.add_parser("resume", help="resume an interrupted run and wait for it")
    resume.add_argument("run_id")
    resume.set_defaults(run=run_resume)
    for parser in (run, show, resume):
        parser.add_argument("--url", help=GATEWAY_URL_HELP)
        parser.add_argument("--token", help=TOKEN_HELP)


def run_eval(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"variants": args.variant, "concurrency": args.concurrency}
    if args.limit:
        body["limit"] = args.limit
    started = call("eval run", args, "POST", f"/admin/evaluations/{args.name}/runs", json=body)
    if started is None:
        return 1
    report = started.json()
    if args.no_wait:
        print(report["id"])
        return 0
    return _follow(args, "run", report)


def run_show(args: argparse.Namespace) -> int:
    response = call("eval show", args, "GET", f"/admin/evaluations/runs/{args.run_id}")
    if response is None:
        return 1
    report = response.json()
    print_report(report)
    return _exit_code(report)


def run_resume(args: argparse.Namespace) -> int:
    resumed = call("eval resume", args, "POST", f"/admin/evaluations/runs/{args.run_id}/resume")
    if resumed is None:
        return 1
    return _follow(args, "resume", resumed.json())


def _follow(args: argparse.Namespace, verb: str, report: dict[str, Any]) -> int:
    print(f"run {report['id']}", file=sys.stderr)
    while report["status"] == "running":
        _draw(report)
        time.sleep(POLL_S)
        response = call(f"eval {verb}", args, "GET", f"/admin/evaluations/runs/{report['id']}")
        if response is None:
            return 1
        report = response.json()
    _draw(report)
    print(file=sys.stderr)
    print_report(report)
    return _exit_code(report)


def _draw(report: dict[str, Any]) -> None:
    total = max(report["total"], 1)
    filled = BAR * report["done"] // total
    errored = f", {report['errored']} errored" if report["errored"] else ""
    sys.stderr.write(
        f"\r[{'#' * filled}{'.' * (BAR - filled)}] {report['done']}/{report['total']}{errored}"
    )
    sys.stderr.flush()


def print_report(report: dict[str, Any]) -> None:
    print(f"{report['evaluation']} on {report['dataset']}: {report['status']}")
    rows = []
    for result in report["results"]:
        for name, summary in result["evaluators"].items():
            rows.append(
                [
                    result["variant"],
                    name,
                    str(summary["n"]),
                    _number(summary["mean"]),
                    _interval(summary["ci"]),
                    str(result["errored"]),
                    _number(result["cost"], 6),
                ]
            )
    print_table(["variant", "evaluator", "n", "mean", "95% CI", "errored", "cost USD"], rows)
    comparison = report.get("comparison")
    if comparison:
        print(f"\n{comparison['second']} - {comparison['first']}, paired:")
        print_table(
            ["evaluator", "n", "difference", "95% CI", "p-value"],
            [
                [
                    name,
                    str(paired["n"]),
                    _number(paired["difference"]),
                    _interval(paired["ci"]),
                    _number(paired["p_value"]),
                ]
                for name, paired in comparison["evaluators"].items()
            ],
        )
    for error in report["errors"][:5]:
        print(f"errored: {error['variant']} {error['datapoint_id']}: {error['error']}")
    if report.get("error"):
        print(f"run error: {report['error']}")


def _exit_code(report: dict[str, Any]) -> int:
    return 0 if report["status"] == "completed" and report["errored"] == 0 else 1


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _interval(bounds: list[float] | None) -> str:
    return "-" if not bounds else f"[{bounds[0]:.4f}, {bounds[1]:.4f}]"
