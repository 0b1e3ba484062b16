"""How fast console pages answer: sign in, then request each page N times in sequence.

    .venv/bin/python bench/console_pages.py http://127.0.0.1:8080 sy-... [--n 50]

Prints p50/p95/max per page in milliseconds (client-side, over loopback, one request at a
time). Run against the demo after some traffic so the tables have rows; see docs/console.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import httpx

PAGES = [
    "/ui/functions",
    "/ui/functions/support-bot",
    "/ui/campaigns",
    "/ui/campaigns/tone-test?function=support-bot",
    "/ui/inferences",
    "/ui/inferences?function=support-bot&status=ok",
    "/ui/versions",
    "/ui/keys",
    "/ui/sql",
]


def sign_in(client: httpx.Client, key: str) -> None:
    token = re.search(r'name="login_token" value="([^"]+)"', client.get("/ui/login").text)
    assert token, "no sign-in form"
    response = client.post("/ui/login", data={"login_token": token.group(1), "api_key": key})
    assert response.status_code == 303, response.text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("key")
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    with httpx.Client(base_url=args.url, follow_redirects=False, timeout=30) as client:
        sign_in(client, args.key)
        detail = re.search(
            r'href="(/ui/inferences/[0-9a-f-]{36})"', client.get("/ui/inferences").text
        )
        pages = PAGES + ([detail.group(1)] if detail else [])
        print(f"{'page':55} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for path in pages:
            times = []
            for _ in range(args.n):
                start = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            print(f"{path[:55]:55} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}")


if __name__ == "__main__":
    main()
