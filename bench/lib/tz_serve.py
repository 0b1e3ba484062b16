"""Serve TensorZero's gateway over HTTP from its PyPI package, until SIGTERM/SIGINT.

    python tz_serve.py CONFIG_FILE URL_FILE

The ``tensorzero`` wheel embeds the Rust gateway; ``_start_http_gateway`` (what the package's
``patch_openai_client`` uses) binds it to an ephemeral 127.0.0.1 port. This writes its base URL
to URL_FILE. No ClickHouse, Postgres or Valkey URL is given, and the config sets
``gateway.observability.enabled = false``.
"""

from __future__ import annotations

import signal
import sys
import threading

from tensorzero import _start_http_gateway


def main() -> None:
    config_file, url_file = sys.argv[1], sys.argv[2]
    gateway = _start_http_gateway(
        config_file=config_file,
        clickhouse_url=None,
        postgres_url=None,
        valkey_url=None,
        async_setup=False,
    )
    with open(url_file, "w") as f:
        f.write(gateway.base_url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    gateway.close()


if __name__ == "__main__":
    main()
