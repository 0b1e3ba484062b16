"""Process settings, read once from ``SWITCHYARD_*`` environment variables.

The CLI turns its flags into the same variables before the server starts, so a worker
process (which granian spawns fresh) sees exactly what the command line asked for.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from app.wire import limits

ENV_PREFIX = "SWITCHYARD_"
# A cluster of the servers' remote_servers, or a macro naming one (``{cluster}``).
_CLUSTER_NAME = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_-]*|\{[a-z_]+\})$")


def check_cluster_name(name: str) -> str:
    if not _CLUSTER_NAME.match(name):
        raise ValueError(
            f"clickhouse_cluster {name!r}: expected a cluster name from the servers' "
            "remote_servers (letters, digits, _ and -) or a macro such as {cluster}"
        )
    return name


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    # The provider transport (docs/providers.md, "HTTP client"): mixed (reqwest for whole
    # responses, aiohttp for streams), aiohttp, or Rust's reqwest for both.
    http_client: Literal["aiohttp", "pyreqwest", "mixed"] = "mixed"
    # How granian calls the app (docs/performance.md, "RSGI for the chat endpoint"): RSGI for
    # the chat endpoint with Litestar behind an adapter, or Litestar's ASGI app for everything.
    server_interface: Literal["rsgi", "asgi"] = "rsgi"
    # How long a thread may hold the GIL while another waits (Python's default is 5 ms): the
    # writer thread's encoding would otherwise delay a request that long (docs/performance.md,
    # "The GIL switch interval").
    gil_switch_interval_ms: Annotated[float, msgspec.Meta(gt=0, le=100)] = 1.0
    config_dir: str = "./variants"
    data_dir: str = "./data"
    database_url: str | None = None
    clickhouse_url: str | None = None
    # A ClickHouse cluster the migrations run ON CLUSTER for (docs/scaling.md); None: one server.
    clickhouse_cluster: str | None = None
    require_auth: bool = False
    max_body_bytes: int = 10 * 1024 * 1024
    admin_token: str | None = None
    log_level: str = "info"
    # Write path (see docs/analytics.md): batch by size or interval, bounded queue.
    write_batch_rows: int = 5000
    write_interval_s: float = 2.0
    write_queue_rows: int = 100_000
    # Nice levels the writer (and an embedded chDB's threads) run below request handling.
    write_nice: int = 5
    # ClickHouse being down is retried this many times (with backoff) before a batch spills.
    write_retries: int = 3
    # Every record is written to the spill file before its response ends, so a killed process
    # loses nothing it answered (docs/analytics.md, "The journal").
    write_journal: bool = True
    # Retention of config-store rows (docs/admin.md, "Retention"); 0 keeps them forever.
    # Adaptive campaigns' first assignments: pruned once the campaign is ended or removed and
    # has assigned no unit for this long. Budget counters: this long after their period ended.
    sticky_retention_days: int = 30
    spend_retention_days: int = 90
    # POST /admin/sql and `switchyard sql`: ClickHouse stops a query past these limits.
    # Response cache (docs/operations.md, "Response cache"): Redis when set, else in-process.
    cache_url: str | None = None
    cache_max_bytes: int = 64 * 1024 * 1024
    cache_ttl_s: float = 86400.0  # how long an entry is kept when the request sets no max_age_s
    # OpenTelemetry traces (docs/operations.md, "Traces"): off while otlp_endpoint is unset.
    otlp_endpoint: str | None = None
    otlp_headers: str = ""  # key=value,key2=value2
    otlp_service_name: str = "switchyard"
    otlp_queue_spans: int = 4096
    otlp_sample_ratio: float = 1.0  # of new traces; a client's sampled flag is followed
    # Evaluation runs (docs/evaluations.md): a run still "running" whose heartbeat (refreshed
    # every second by the process running it) is older than this was cut off: interrupted.
    eval_stale_s: float = 15.0
    admin_sql_timeout_s: float = 30.0
    admin_sql_max_rows: int = 100_000
    # Input limits (docs/security.md, "Input limits"): the defaults are ceilings, settings may lower.
    max_n: int = limits.MAX_N
    max_labels: int = limits.MAX_LABELS
    max_label_key_chars: int = limits.MAX_LABEL_KEY_CHARS
    max_label_value_chars: int = limits.MAX_LABEL_VALUE_CHARS
    max_tags: int = limits.MAX_TAGS
    max_tag_chars: int = limits.MAX_TAG_CHARS

    def __post_init__(self) -> None:
        self.input_limits  # noqa: B018 - raises ValueError for a limit out of range
        for name in ("sticky_retention_days", "spend_retention_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (keep forever) or a number of days")
        if self.clickhouse_cluster is not None:
            check_cluster_name(self.clickhouse_cluster)
            if not self.clickhouse_url or self.clickhouse_url.startswith("chdb:"):
                raise ValueError(
                    "clickhouse_cluster needs clickhouse_url to name a server of that cluster "
                    "(embedded chDB is a single node)"
                )

    @property
    def input_limits(self) -> limits.InputLimits:
        return limits.InputLimits(
            n=self.max_n,
            labels=self.max_labels,
            label_key_chars=self.max_label_key_chars,
            label_value_chars=self.max_label_value_chars,
            tags=self.max_tags,
            tag_chars=self.max_tag_chars,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw not in (None, ""):
                values[field.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise SystemExit(f"invalid setting: {exc}") from exc

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{Path(self.data_dir).resolve() / 'switchyard.db'}"

    @property
    def resolved_clickhouse_url(self) -> str:
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{Path(self.data_dir).resolve() / 'clickhouse'}"

    @property
    def uses_store_process(self) -> bool:
        """Several workers on the embedded engine: one store process owns it (docs/scaling.md,
        "Workers on the embedded default")."""
        return self.workers > 1 and not self.clickhouse_url

    @property
    def store_socket(self) -> Path:
        """The store process's Unix socket: in the data directory, or, when that path is too
        long for a socket name (107 bytes), a name derived from it in the temp directory."""
        data = Path(self.data_dir).resolve()
        path = data / "store.sock"
        if len(str(path)) <= 107:  # sun_path holds 108 bytes with its NUL on Linux
            return path
        digest = hashlib.sha256(str(data).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"switchyard-{digest}.sock"

    @property
    def spill_dir(self) -> Path:
        return Path(self.data_dir) / "spill"

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a child process."""
        env: dict[str, str] = {}
        for field in msgspec.structs.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            env[ENV_PREFIX + field.name.upper()] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
        return env
