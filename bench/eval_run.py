"""How long an offline evaluation run of 1,000 datapoints takes on the instant dummy provider
(docs/performance.md, "Evaluation runs"): seeds 1,000 logged inferences, builds a dataset from
them, runs one variant at concurrency 32 and reports the wall time from start to completed.

Run against a gateway serving a function ``f`` (variant ``a``) whose ``bench`` evaluation reads
dataset ``bench-set`` (docs/performance.md gives the config): ``.venv/bin/python bench/eval_run.py --url http://127.0.0.1:8080 --token T``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx


async def seed(client: httpx.AsyncClient, n: int) -> None:
    semaphore = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with semaphore:
            body = {"model": "f", "messages": [{"role": "user", "content": f"question {i}"}]}
            response = await client.post("/v1/chat/completions", json=body)
            response.raise_for_status()

    await asyncio.gather(*(one(i) for i in range(n)))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--token", required=True)
    parser.add_argument("--datapoints", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.token}"}
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=120) as client:
        await seed(client, args.datapoints)
        await asyncio.sleep(3)  # the writer's flush
        created = await client.post(
            "/admin/datasets",
            json={"name": "bench-set", "function": "f", "filter": {"limit": args.datapoints}},
        )
        created.raise_for_status()
        print("datapoints", created.json()["datapoints"])
        started = time.perf_counter()
        run = await client.post(
            "/admin/evaluations/bench/runs",
            json={"variants": ["a"], "concurrency": args.concurrency},
        )
        run.raise_for_status()
        report = run.json()
        while report["status"] == "running":
            await asyncio.sleep(0.1)
            report = (await client.get(f"/admin/evaluations/runs/{report['id']}")).json()
        elapsed = time.perf_counter() - started
        print(f"{report['status']}: {report['done']} datapoints, {report['errored']} errored")
        print(f"{elapsed:.2f} s, {report['done'] / elapsed:.0f} datapoints/s")


if __name__ == "__main__":
    asyncio.run(main())
