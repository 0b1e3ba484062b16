"""Summarise a py-spy ``--format raw`` profile (collapsed stacks: ``f1;f2;...;fn COUNT``).

    python profile_summary.py PROFILE.txt [--top N] [--match SUBSTRING ...]

Prints the functions with the most *self* samples (the leaf frame) and the most *inclusive*
samples (anywhere on the stack), as % of all samples, plus the share of samples per thread
when the profile was recorded with ``--threads``; ``--match`` adds the inclusive share of
stacks containing each substring (e.g. ``--match msgspec --match aiohttp``).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    m = FRAME.match(frame)
    if not m:
        return frame
    path = m.group("file")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({path})"


def package(frames: list[str]) -> str:
    """Where a sample's time goes, from its leaf frame."""
    leaf = frames[-1]
    m = FRAME.match(leaf)
    path = m.group("file") if m else leaf
    func = m.group("func") if m else leaf
    if "litestar/connection/request.py" in path and func == "Request.stream":
        return "granian (ASGI receive, native)"
    if "capture_response_started" in func or "send_and_note" in func:
        return "granian (ASGI send, native)"
    if func == "MPServer._spawn_asgi_lifespan_worker":
        return "granian + uvloop (native event loop, outside any Python frame)"
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    top = path.split("/", 1)[0]
    names = {
        "granian": "granian",
        "litestar": "litestar",
        "aiohttp": "aiohttp",
        "multidict": "aiohttp",
        "yarl": "aiohttp",
        "chdb": "chDB",
        "clickhouse_connect": "clickhouse-connect",
        "jinja2": "jinja2",
        "minijinja": "minijinja",
        "msgspec": "msgspec",
        "uvloop": "uvloop",
        "asyncio": "asyncio",
        "aiosqlite": "aiosqlite",
        "logging": "logging",
    }
    if top in names:
        return names[top]
    if top == "app":
        return path
    if not leaf:
        return "(no Python frame: native thread)"
    return "python stdlib/other"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", action="append", default=[])
    parser.add_argument(
        "--thread", default=None, help="only samples of threads whose label contains this"
    )
    args = parser.parse_args()

    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    matches: Counter[str] = Counter()
    total = 0
    for line in open(args.profile, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if not line:
            continue
        stack, _, count_text = line.rpartition(" ")
        try:
            count = int(count_text)
        except ValueError:
            continue
        frames = stack.split(";")
        if frames and frames[0].startswith(("thread (", "process ")):
            threads[frames[0]] += count
            if args.thread and args.thread not in frames[0]:
                continue
            frames = [f for f in frames if not f.startswith(("thread (", "process "))]
        total += count
        if not frames:
            continue
        names = [short(f) for f in frames]
        self_counts[names[-1]] += count
        packages[package(frames)] += count
        for name in set(names):
            incl_counts[name] += count
        for needle in args.match:
            if needle in stack:
                matches[needle] += count
    if not total:
        print("no samples")
        return
    print(f"samples: {total}")
    if threads:
        print("\nby thread:")
        for name, n in threads.most_common():
            print(f"  {100 * n / total:5.1f}%  {name}")
    print(
        "\nself samples by package (leaf frame; granian's native receive/send is charged to the frame awaiting it):"
    )
    for name, n in packages.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")
    print(f"\ntop {args.top} self (leaf) frames:")
    for name, n in self_counts.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")
    print(f"\ntop {args.top} inclusive frames:")
    for name, n in incl_counts.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")
    if matches:
        print("\nstacks containing:")
        for needle in args.match:
            print(f"  {100 * matches[needle] / total:5.1f}%  {needle}")


if __name__ == "__main__":
    main()
