"""The gateway benchmark's orchestrator (standard library only). ``bench/run`` installs what is
needed and then runs this; see docs/performance.md for the method.

Layout of one run:
  * the nginx mock (bench/mock, bench/lib/mock_conf.py) on 127.0.0.1:18081, pinned to CPU 0;
  * each target in turn, pinned to CPU 1: ``direct`` (wrk straight at the mock: the floor),
    ``switchyard`` (ClickHouse logging on, embedded chDB: the default), ``switchyard-nolog``
    (the same gateway, requests carry ``"store": false`` so nothing is recorded), ``litellm``
    (its proxy, from bench/.venvs/litellm) and ``tensorzero`` (its gateway, from the PyPI
    package in bench/.venvs/tensorzero, observability off);
  * per target, on CPU 0: a warm-up, wrk at c=1 (latency), wrk at c=64 (throughput), wrk at c=32
    on the streaming model, and the TTFB client (bench/lib/ttfb.py), one request at a time;
  * for ``switchyard``: RSS before and after ``--soak`` more requests, then a check that every
    upstream call (nginx's request counter) has its row in ClickHouse (``POST /admin/sql``).

Every phase also records how much CPU the gateway used and how much CPU *other* processes on the
machine used meanwhile ("foreign" CPU), because a shared machine makes numbers move.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
LIB = BENCH / "lib"
VENVS = BENCH / ".venvs"
HOST = "127.0.0.1"
MOCK_PORT = 18081
SWITCHYARD_PORT = 18080
LITELLM_PORT = 18082
MINIMAL_PORT = 18083
ADMIN_TOKEN = "bench-admin-token"
GATEWAY_CPU = "1"
LOAD_CPU = "0"
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

ALL_TARGETS = ("direct", "minimal", "switchyard", "switchyard-nolog", "litellm", "tensorzero")
# Not in the default run; asked for with --only (docs/performance.md, "Response cache and traces"):
# every request a cache hit, every request a cache miss (write_only: the provider is called and
# the answer stored), and traces exported to the mock's OTLP path.
EXTRA_TARGETS = (
    "switchyard-cache",
    "switchyard-cachemiss",
    "switchyard-traced",
    "switchyard-nojournal",
    "switchyard-workers2",
    "switchyard-reqwest",
    "switchyard-mixed",
    "switchyard-asgi",
    "switchyard-aiohttp",
)
# serve --workers 2 on the embedded default gets both cores (it shares them with the mock and
# wrk, which take ~15% of one: the ratio to one pinned worker is a lower bound).
ALL_CPUS = "0,1"
KNOWN_TARGETS = ALL_TARGETS + EXTRA_TARGETS
SWITCHYARD_TARGETS = ("switchyard", "switchyard-nolog", *EXTRA_TARGETS)
_HTTP_CLIENT = {
    "switchyard-reqwest": "pyreqwest",
    "switchyard-mixed": "mixed",
    "switchyard-aiohttp": "aiohttp",
}
_EXTRA_LABELS = {
    "switchyard-traced": "Switchyard, logging on, OTLP traces exported",
    "switchyard-nojournal": "Switchyard, logging on, write journal off",
    "switchyard-reqwest": "Switchyard, logging on, provider calls through pyreqwest",
    "switchyard-mixed": "Switchyard, logging on, pyreqwest for whole responses, aiohttp for streams",
    "switchyard-workers2": "Switchyard, logging on, serve --workers 2 on both cores (store process)",
    "switchyard-asgi": "Switchyard, logging on, served over ASGI (SWITCHYARD_SERVER_INTERFACE=asgi)",
    "switchyard-aiohttp": "Switchyard, logging on, provider calls through aiohttp only",
}
_CACHE_MODE = {"switchyard-cache": "on", "switchyard-cachemiss": "write_only"}
USER_MESSAGE = [{"role": "user", "content": "Where is my order #1042?"}]


@dataclass
class Profile:
    warmup_s: int
    c1_s: int
    c64_s: int
    s32_s: int
    ttfb_n: int
    soak: int


FULL = Profile(warmup_s=3, c1_s=15, c64_s=20, s32_s=20, ttfb_n=1000, soak=200_000)
QUICK = Profile(warmup_s=1, c1_s=4, c64_s=5, s32_s=5, ttfb_n=200, soak=20_000)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ----------------------------------------------------------------------------- /proc accounting


def proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may contain spaces: split after the closing parenthesis
    return raw[raw.rindex(")") + 2 :].split()


def proc_cpu_s(pid: int) -> float:
    fields = proc_stat(pid)
    if not fields:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def proc_rss_kb(pid: int) -> int:
    fields = proc_stat(pid)
    return int(fields[21]) * PAGE_KB if fields else 0


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = proc_stat(int(entry.name))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_cpu_s(root: int | None) -> float:
    return sum(proc_cpu_s(p) for p in descendants(root)) if root else 0.0


def tree_rss_kb(root: int) -> int:
    return sum(proc_rss_kb(p) for p in descendants(root))


def system_steal_s() -> float:
    """CPU-seconds the hypervisor gave to other guests (a VM's noisy neighbours)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            return (values[7] if len(values) > 7 else 0) / TICK
    return 0.0


def system_busy_s() -> float:
    """CPU-seconds spent busy by the whole machine (all CPUs) since boot."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            # user + nice + system: what processes ran. irq/softirq are left out: on this
            # benchmark they are mostly the loopback traffic of the benchmark itself.
            return (values[0] + values[1] + values[2]) / TICK
    raise RuntimeError("no cpu line in /proc/stat")


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuWindow:
    """Who used the CPU between start() and stop(): the gateway's process tree, the mock, our
    own children (wrk, the TTFB client) and everything else on the machine ("foreign")."""

    def __init__(self, gateway_pid: int | None, mock_pids: list[int]) -> None:
        self.gateway_pid = gateway_pid
        self.mock_pids = mock_pids

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.busy0 = system_busy_s()
        self.steal0 = system_steal_s()
        self.gw0 = tree_cpu_s(self.gateway_pid)
        self.mock0 = sum(proc_cpu_s(p) for p in self.mock_pids)
        self.kids0 = children_cpu_s()
        self.self0 = time.process_time()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        busy = system_busy_s() - self.busy0
        gw = tree_cpu_s(self.gateway_pid) - self.gw0
        mock = sum(proc_cpu_s(p) for p in self.mock_pids) - self.mock0
        kids = children_cpu_s() - self.kids0
        me = time.process_time() - self.self0
        foreign = max(0.0, busy - gw - mock - kids - me)
        return {
            "wall_s": round(wall, 2),
            "gateway_cpu_pct": round(100 * gw / wall, 1) if wall else 0.0,
            "mock_cpu_pct": round(100 * mock / wall, 1) if wall else 0.0,
            "client_cpu_pct": round(100 * kids / wall, 1) if wall else 0.0,
            "foreign_cpu_pct": round(100 * foreign / wall, 1) if wall else 0.0,
            "steal_cpu_pct": round(100 * (system_steal_s() - self.steal0) / wall, 1)
            if wall
            else 0.0,
        }


# ----------------------------------------------------------------------------- HTTP helpers


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return 0, repr(exc).encode()


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def choose_port(preferred: int) -> int:
    """The preferred port, or any free one when something else listens there."""
    if port_free(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    log(f"port {preferred} is taken; using {port} instead")
    return port


def choose_ports() -> None:
    global MOCK_PORT, SWITCHYARD_PORT, LITELLM_PORT, MINIMAL_PORT
    MOCK_PORT = choose_port(MOCK_PORT)
    SWITCHYARD_PORT = choose_port(SWITCHYARD_PORT)
    LITELLM_PORT = choose_port(LITELLM_PORT)
    MINIMAL_PORT = choose_port(MINIMAL_PORT)


def render_configs(work: Path) -> Path:
    """bench/configs with the mock's address as chosen for this run (they say 127.0.0.1:18081)."""
    out = work / "configs"
    for source in (BENCH / "configs").rglob("*"):
        if source.is_file():
            target = out / source.relative_to(BENCH / "configs")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source.read_text().replace("127.0.0.1:18081", f"{HOST}:{MOCK_PORT}"))
    return out


def nginx_requests() -> int:
    """nginx's total request counter (stub_status); the status request itself is counted."""
    status, body = http("GET", f"http://{HOST}:{MOCK_PORT}/nginx_status")
    if status != 200:
        raise RuntimeError(f"mock status page answered {status}: {body[:200]!r}")
    lines = body.decode().splitlines()
    return int(lines[2].split()[2])


# ----------------------------------------------------------------------------- processes


class Service:
    """A process we started in its own session, so that stopping it stops its children too."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log_path: Path, cwd: Path
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 40) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop in {timeout:.0f}s; killing its process group")
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        self.log_file.close()

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""


def pinned(argv: list[str], cpu: str, nice: int) -> list[str]:
    prefix = ["taskset", "-c", cpu]
    if nice:
        prefix += ["nice", "-n", str(nice)]
    return prefix + argv


# ----------------------------------------------------------------------------- targets


@dataclass
class Target:
    name: str
    label: str
    base_url: str = ""
    json_path: str = "/v1/chat/completions"
    sse_path: str = "/v1/chat/completions"
    json_body: dict[str, Any] = field(default_factory=dict)
    sse_body: dict[str, Any] = field(default_factory=dict)
    auth: str = ""
    service: Service | None = None
    notes: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.profile = QUICK if args.quick else FULL
        if args.soak is not None:
            self.profile.soak = args.soak
        self.work = BENCH / ".work" / time.strftime("%Y%m%d-%H%M%S")
        self.work.mkdir(parents=True, exist_ok=True)
        self.results: list[dict[str, Any]] = []
        self.summary: dict[str, dict[str, Any]] = {}
        self.checks: dict[str, Any] = {}
        self.mock: Service | None = None
        self.mock_pids: list[int] = []
        self.nice = 0 if args.no_nice or os.geteuid() != 0 else -10

    # ------------------------------------------------------------------ mock

    def start_mock(self) -> None:
        if not port_free(MOCK_PORT):
            raise SystemExit(f"port {MOCK_PORT} (mock) is taken: stop whatever listens there")
        self.configs = render_configs(self.work)
        mock_dir = self.work / "mock"
        mock_dir.mkdir()
        subprocess.run(
            [sys.executable, str(LIB / "mock_conf.py"), str(mock_dir), str(MOCK_PORT)], check=True
        )
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        argv = [
            nginx,
            "-c",
            str(mock_dir / "nginx.conf"),
            "-p",
            str(mock_dir),
            "-e",
            str(mock_dir / "nginx-error.log"),
        ]
        self.mock = Service(
            "mock",
            pinned(argv, LOAD_CPU, self.nice),
            dict(os.environ),
            mock_dir / "nginx.log",
            mock_dir,
        )
        for _ in range(100):
            status, _ = http("GET", f"http://{HOST}:{MOCK_PORT}/nginx_status", timeout=1)
            if status == 200:
                break
            time.sleep(0.1)
        else:
            raise SystemExit(f"the nginx mock did not start:\n{self.mock.tail()}")
        self.mock_pids = descendants(self.mock.pid)
        log(f"mock: nginx on {HOST}:{MOCK_PORT} (pids {self.mock_pids}, CPU {LOAD_CPU})")

    # ------------------------------------------------------------------ targets

    def make_target(self, name: str) -> Target:
        openai_json = {"model": "bench-model", "messages": USER_MESSAGE}
        stream = {"stream": True, "stream_options": {"include_usage": True}}
        if name == "direct":
            return Target(
                name,
                "direct to mock (floor)",
                f"http://{HOST}:{MOCK_PORT}",
                "/json/v1/chat/completions",
                "/sse/v1/chat/completions",
                openai_json,
                {**openai_json, **stream},
            )
        if name == "minimal":
            return Target(
                name,
                "minimal Litestar + aiohttp proxy (no features)",
                f"http://{HOST}:{MINIMAL_PORT}",
                json_body=openai_json,
                sse_body={**openai_json, **stream},
            )
        if name in SWITCHYARD_TARGETS:
            args = {"system_prompt_args": {"customer_name": "Ada"}}
            json_body = {"model": "bench", "messages": USER_MESSAGE, **args}
            sse_body = {"model": "bench-stream", "messages": USER_MESSAGE, **args, **stream}
            label = "Switchyard, ClickHouse logging on (chDB)"
            if name == "switchyard-nolog":
                json_body["store"] = sse_body["store"] = False
                label = 'Switchyard, logging off ("store": false)'
            if name in _CACHE_MODE:
                options = {"cache_options": {"enabled": _CACHE_MODE[name]}}
                json_body.update(options)
                sse_body.update(options)
                label = f"Switchyard, response cache {'hits' if name == 'switchyard-cache' else 'misses'}"
            label = _EXTRA_LABELS.get(name, label)
            if os.environ.get("BENCH_WHATIF"):
                label += f" [what-if: {os.environ['BENCH_WHATIF']}]"
            return Target(
                name,
                label,
                f"http://{HOST}:{SWITCHYARD_PORT}",
                json_body=json_body,
                sse_body=sse_body,
            )
        if name == "litellm":
            return Target(
                name,
                f"LiteLLM {pkg_version(VENVS / 'litellm', 'litellm')} proxy",
                f"http://{HOST}:{LITELLM_PORT}",
                json_body={"model": "bench-json", "messages": USER_MESSAGE},
                sse_body={"model": "bench-sse", "messages": USER_MESSAGE, **stream},
                auth="sk-bench-" + os.urandom(16).hex(),
            )
        if name == "tensorzero":
            return Target(
                name,
                f"TensorZero {pkg_version(VENVS / 'tensorzero', 'tensorzero')}, observability off",
                "",
                "/openai/v1/chat/completions",
                "/openai/v1/chat/completions",
                {"model": "tensorzero::model_name::bench-json", "messages": USER_MESSAGE},
                {"model": "tensorzero::model_name::bench-sse", "messages": USER_MESSAGE, **stream},
            )
        raise SystemExit(f"unknown target {name!r}; choose from {', '.join(ALL_TARGETS)}")

    def start_target(self, target: Target) -> None:
        tdir = self.work / target.name
        tdir.mkdir()
        env = dict(os.environ)
        if target.name in SWITCHYARD_TARGETS:
            if not port_free(SWITCHYARD_PORT):
                raise RuntimeError(f"port {SWITCHYARD_PORT} is taken")
            env.update(
                {
                    "SWITCHYARD_HOST": HOST,
                    "SWITCHYARD_PORT": str(SWITCHYARD_PORT),
                    "SWITCHYARD_CONFIG_DIR": str(self.configs / "switchyard"),
                    "SWITCHYARD_DATA_DIR": str(tdir / "data"),
                    "SWITCHYARD_LOG_LEVEL": "warning",
                    "SWITCHYARD_ADMIN_TOKEN": ADMIN_TOKEN,
                    "SWITCHYARD_WORKERS": "2" if target.name == "switchyard-workers2" else "1",
                }
            )
            if target.name == "switchyard-nojournal":
                env["SWITCHYARD_WRITE_JOURNAL"] = "false"
            if target.name in _HTTP_CLIENT:
                env["SWITCHYARD_HTTP_CLIENT"] = _HTTP_CLIENT[target.name]
            if target.name == "switchyard-asgi":
                env["SWITCHYARD_SERVER_INTERFACE"] = "asgi"
            if target.name == "switchyard-traced":  # the mock answers OTLP exports with 200
                env["SWITCHYARD_OTLP_ENDPOINT"] = f"http://{HOST}:{MOCK_PORT}"
            for key in (
                "SWITCHYARD_DATABASE_URL",
                "SWITCHYARD_CLICKHOUSE_URL",
                "SWITCHYARD_REQUIRE_AUTH",
            ):
                env.pop(key, None)
            argv = [str(REPO / ".venv" / "bin" / "switchyard"), "serve"]
            if os.environ.get("BENCH_WHATIF"):  # measuring a proposed change (bench/lib/whatif.py)
                argv = [str(REPO / ".venv" / "bin" / "python"), str(LIB / "whatif.py")]
            ready = f"{target.base_url}/ready"
        elif target.name == "minimal":
            if not port_free(MINIMAL_PORT):
                raise RuntimeError(f"port {MINIMAL_PORT} is taken")
            env["UPSTREAM"] = f"http://{HOST}:{MOCK_PORT}"
            argv = [
                str(REPO / ".venv" / "bin" / "granian"),
                "--interface",
                "asgi",
                "--loop",
                "uvloop",
                "--factory",
                "--host",
                HOST,
                "--port",
                str(MINIMAL_PORT),
                "--workers",
                "1",
                "--log-level",
                "warning",
                "--backlog",
                "2048",
                "--working-dir",
                str(LIB),
                "minimal_proxy:create_app",
            ]
            ready = f"{target.base_url}/health"
        elif target.name == "litellm":
            if not port_free(LITELLM_PORT):
                raise RuntimeError(f"port {LITELLM_PORT} is taken")
            env.update(
                {
                    "LITELLM_MASTER_KEY": target.auth,
                    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the cost map
                    "LITELLM_LOG": "ERROR",
                }
            )
            for key in ("DATABASE_URL", "REDIS_HOST", "REDIS_URL"):
                env.pop(key, None)
            argv = [
                str(VENVS / "litellm" / "bin" / "litellm"),
                "--config",
                str(self.configs / "litellm" / "config.yaml"),
                "--host",
                HOST,
                "--port",
                str(LITELLM_PORT),
                "--num_workers",
                "1",
            ]
            ready = f"{target.base_url}/health/liveliness"
        elif target.name == "tensorzero":
            url_file = tdir / "base_url"
            env["RUST_LOG"] = "warn"
            argv = [
                str(VENVS / "tensorzero" / "bin" / "python"),
                str(LIB / "tz_serve.py"),
                str(self.configs / "tensorzero" / "tensorzero.toml"),
                str(url_file),
            ]
            ready = ""
        else:
            return
        cpus = ALL_CPUS if target.name == "switchyard-workers2" else GATEWAY_CPU
        target.service = Service(
            target.name, pinned(argv, cpus, self.nice), env, tdir / "server.log", tdir
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not target.service.alive():
                raise RuntimeError(f"{target.name} exited during startup:\n{target.service.tail()}")
            # The embedded TensorZero gateway has no health route; it is serving once it has
            # written its URL (sanity() then checks a real completion).
            if target.name == "tensorzero" and url_file.exists() and url_file.read_text().strip():
                base = url_file.read_text().strip()  # http://127.0.0.1:PORT/openai/v1
                target.base_url = base.split("/openai/")[0]
                return
            if ready:
                status, _ = http("GET", ready, timeout=2)
                if status == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{target.name} was not ready after 120 s:\n{target.service.tail()}")

    def gateway_pid(self, target: Target) -> int | None:
        return target.service.pid if target.service else None

    # ------------------------------------------------------------------ load

    def body_file(self, target: Target, kind: str) -> Path:
        path = self.work / target.name / f"{kind}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(
            json.dumps(
                target.json_body if kind == "json" else target.sse_body, separators=(",", ":")
            )
        )
        return path

    def sanity(self, target: Target) -> None:
        headers = {"Content-Type": "application/json"}
        if target.auth:
            headers["Authorization"] = f"Bearer {target.auth}"
        for kind, path, body in (
            ("json", target.json_path, target.json_body),
            ("sse", target.sse_path, target.sse_body),
        ):
            status, payload = http(
                "POST", target.base_url + path, json.dumps(body).encode(), headers, timeout=30
            )
            good = (
                status == 200 and b"shipped" in payload and (kind == "json" or b"[DONE]" in payload)
            )
            if not good:
                raise RuntimeError(
                    f"{target.name}: a {kind} request failed: {status} {payload[:400]!r}"
                )

    def wrk(
        self,
        target: Target,
        phase: str,
        conns: int,
        seconds: int,
        kind: str,
        max_responses: int = 0,
        every_2s: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        out = self.work / target.name / f"wrk-{phase}.jsonl"
        env = dict(os.environ)
        env.update(
            {
                "BENCH_BODY": str(self.body_file(target, kind)),
                "BENCH_PATH": target.json_path if kind == "json" else target.sse_path,
                "BENCH_EXPECT": kind,
                "BENCH_OUT": str(out),
                "BENCH_LABEL": f"{target.name}:{phase}",
                "BENCH_MAX": str(max_responses),
                "BENCH_AUTH": target.auth,
            }
        )
        argv = pinned(
            [
                "wrk",
                "-t1",
                f"-c{conns}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(LIB / "chat.lua"),
                target.base_url,
            ],
            LOAD_CPU,
            self.nice,
        )
        done_file = self.work / target.name / f"wrk-{phase}.done"
        env["BENCH_DONE_FILE"] = str(done_file) if max_responses else ""
        window = CpuWindow(self.gateway_pid(target), self.mock_pids)
        window.start()
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + seconds + 120
        interrupted = False
        next_sample = time.monotonic() + 2
        while proc.poll() is None:
            if every_2s and time.monotonic() >= next_sample:
                every_2s()
                next_sample += 2
            if time.monotonic() > deadline:
                proc.kill()
                break
            if max_responses and not interrupted and done_file.exists():
                proc.send_signal(signal.SIGINT)  # wrk stops early and still reports
                interrupted = True
            time.sleep(0.1)
        stdout, stderr = proc.communicate()
        cpu = window.stop()
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed ({proc.returncode}): {stderr[-500:]} {stdout[-500:]}")
        result = json.loads(out.read_text().splitlines()[-1])
        result.update(cpu)
        result.update({"target": target.name, "phase": phase, "conns": conns, "kind": kind})
        errors = (
            result["non200"]
            + result["bad"]
            + sum(result[k] for k in ("err_connect", "err_read", "err_write", "err_timeout"))
        )
        result["errors"] = errors
        self.results.append(result)
        flag = "" if errors == 0 else f"  ERRORS {errors}: {result['first_bad'][:200]}"
        log(
            f"  {phase:>6}: {result['rps']:>9.1f} req/s  p50 {result['p50_ms']:.3f} ms  p99 {result['p99_ms']:.3f} ms  "
            f"gateway CPU {cpu['gateway_cpu_pct']:.0f}%  foreign CPU {cpu['foreign_cpu_pct']:.0f}%  steal {cpu['steal_cpu_pct']:.0f}%{flag}"
        )
        return result

    def ttfb(self, target: Target) -> dict[str, Any]:
        argv = [
            sys.executable,
            str(LIB / "ttfb.py"),
            HOST,
            target.base_url.rsplit(":", 1)[1],
            target.sse_path,
            str(self.body_file(target, "sse")),
            str(self.profile.ttfb_n),
            "--label",
            target.name,
        ]
        if target.auth:
            argv += ["--auth", target.auth]
        window = CpuWindow(self.gateway_pid(target), self.mock_pids)
        window.start()
        done = subprocess.run(
            pinned(argv, LOAD_CPU, self.nice), capture_output=True, text=True, timeout=600
        )
        cpu = window.stop()
        if done.returncode != 0:
            raise RuntimeError(f"ttfb client failed: {done.stderr[-800:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result.update(cpu)
        result.update({"target": target.name, "phase": "ttfb"})
        self.results.append(result)
        log(
            f"    ttfb: p50 {result['ttfb_p50_ms']:.3f} ms  p99 {result['ttfb_p99_ms']:.3f} ms  "
            f"errors {result['errors']}  foreign CPU {cpu['foreign_cpu_pct']:.0f}%"
        )
        return result

    # ------------------------------------------------------------------ ClickHouse

    def clickhouse(self, target: Target, sql: str) -> list[list[Any]]:
        status, body = http(
            "POST",
            f"{target.base_url}/admin/sql",
            json.dumps({"query": sql}).encode(),
            {"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
        )
        if status != 200:
            raise RuntimeError(f"/admin/sql answered {status}: {body[:300]!r}")
        return json.loads(body)["rows"]

    def writer_queue(self, target: Target) -> float | None:
        status, body = http("GET", f"{target.base_url}/metrics")
        if status != 200:
            return None
        for line in body.decode(errors="replace").splitlines():
            if line.startswith("switchyard_write_queue_depth"):
                return float(line.split()[-1])
        return None

    def check_clickhouse(self, target: Target, upstream_before: int) -> dict[str, Any]:
        """Every upstream call the gateway made during this target must have its inference row."""
        deadline = time.monotonic() + 60
        rows = -1
        last_change = time.monotonic()
        while time.monotonic() < deadline:
            count = int(self.clickhouse(target, "SELECT count() FROM inferences")[0][0])
            if count != rows:
                rows, last_change = count, time.monotonic()
            queue = self.writer_queue(target)
            if queue == 0 and time.monotonic() - last_change > 2:
                break
            time.sleep(0.5)
        upstream = nginx_requests() - upstream_before - 1  # minus this status request itself
        by_status = {
            str(s): int(n)
            for s, n in self.clickhouse(
                target, "SELECT status, count() FROM inferences GROUP BY status"
            )
        }
        model_rows = int(self.clickhouse(target, "SELECT count() FROM model_inferences")[0][0])
        client_ok = sum(
            r.get("ok", 0) for r in self.results if r["target"] == target.name and "ok" in r
        )
        client_ok += sum(
            r.get("n", 0)
            for r in self.results
            if r["target"] == target.name and r["phase"] == "ttfb"
        )
        result = {
            "upstream_calls": upstream,
            "inference_rows": rows,
            "model_inference_rows": model_rows,
            "rows_by_status": by_status,
            "client_ok_responses": client_ok,
        }
        if target.name == "switchyard":
            result["complete"] = rows == upstream and by_status.get("ok", 0) >= client_ok
        else:  # "store": false must record nothing
            result["complete"] = rows == 0
        log(
            f"  ClickHouse: {rows} inference rows ({by_status}), {model_rows} model_inference rows, "
            f"{upstream} upstream calls, {client_ok} ok responses seen by clients -> "
            f"{'OK' if result['complete'] else 'MISMATCH'}"
        )
        return result

    # ------------------------------------------------------------------ profiling

    def py_spy(
        self, target: Target, name: str, seconds: int, kind: str, conns: int, extra: list[str]
    ) -> None:
        py_spy = VENVS / "tools" / "bin" / "py-spy"
        if not py_spy.exists():
            log("  py-spy is not installed (bench/run --profile installs it); skipping profiles")
            return
        workers = [
            p for p in descendants(target.service.pid) if p != target.service.pid and proc_stat(p)
        ]
        # granian: the worker is the (only) child python process of the server process
        worker = (
            max(workers, key=lambda p: len(list(Path(f"/proc/{p}/task").iterdir())))
            if workers
            else target.service.pid
        )
        out = self.work / "profiles"
        out.mkdir(exist_ok=True)
        name = f"{target.name}-{name}"
        raw = out / f"{name}.txt"
        recorder = subprocess.Popen(
            pinned(
                [
                    str(py_spy),
                    "record",
                    "-p",
                    str(worker),
                    "-d",
                    str(seconds),
                    "-r",
                    "250",
                    "-f",
                    "raw",
                    "-o",
                    str(raw),
                    "--nonblocking",
                    "--threads",
                    *extra,
                ],
                LOAD_CPU,
                0,
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        per_thread = subprocess.Popen(
            [sys.executable, str(LIB / "threads.py"), str(worker), str(seconds - 1)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(0.5)
        self.wrk(target, f"prof-{name}", conns, seconds + 1, kind)
        recorder.wait(60)
        (out / f"{name}.threads.txt").write_text(per_thread.communicate(timeout=30)[0])
        svg = out / f"{name}.svg"
        subprocess.run([str(py_spy), "--version"], capture_output=True)
        text = ""
        for thread in (None, "MainThread"):
            done = subprocess.run(
                [
                    sys.executable,
                    str(LIB / "profile_summary.py"),
                    str(raw),
                    "--top",
                    "40",
                    *(["--thread", thread] if thread else []),
                ],
                capture_output=True,
                text=True,
            )
            text += (
                f"===== {'all threads' if thread is None else 'event loop thread only'}\n"
                + done.stdout
                + done.stderr
                + "\n"
            )
        (out / f"{name}.summary.txt").write_text(text)
        log(f"  profile {name}: {raw} (summary in {out / (name + '.summary.txt')})")
        del svg

    def wait_idle(self) -> None:
        """Wait (up to --wait-idle seconds) for the rest of the machine to go quiet."""
        limit = self.args.wait_idle
        deadline = time.monotonic() + limit
        while True:
            window = CpuWindow(None, self.mock_pids)
            window.start()
            time.sleep(2)
            foreign = window.stop()["foreign_cpu_pct"]
            if foreign <= 15:
                return
            if time.monotonic() >= deadline:
                if limit:
                    log(
                        f"  the machine is still busy ({foreign:.0f}% of a core used by other processes) "
                        f"after {limit} s; measuring anyway (see the foreign CPU column)"
                    )
                return
            log(f"  waiting for other processes to go quiet ({foreign:.0f}% of a core busy)")
            time.sleep(3)

    # ------------------------------------------------------------------ a target, start to end

    def run_target(self, name: str) -> None:
        target = self.make_target(name)
        log(f"== {target.label}")
        self.wait_idle()
        upstream_before = nginx_requests()
        try:
            self.start_target(target)
            self.sanity(target)
            pid = self.gateway_pid(target)
            rss: dict[str, int] = {}
            if pid:
                rss["after_start_kb"] = tree_rss_kb(pid)
            p = self.profile
            self.wrk(target, "warmup", 16, p.warmup_s, "json")
            self.wrk(target, "warmup-sse", 16, max(1, p.warmup_s // 2), "sse")
            if pid:
                rss["after_warmup_kb"] = tree_rss_kb(pid)
            c1 = self.wrk(target, "c1", 1, p.c1_s, "json")
            c64 = self.wrk(target, "c64", 64, p.c64_s, "json")
            s32 = self.wrk(target, "s32", 32, p.s32_s, "sse")
            tt = self.ttfb(target)
            entry: dict[str, Any] = {
                "label": target.label,
                "c1": c1,
                "c64": c64,
                "s32": s32,
                "ttfb": tt,
            }
            if name == "switchyard" and p.soak:
                rss["before_soak_kb"] = tree_rss_kb(pid)
                n_json, n_sse = p.soak * 3 // 4, p.soak - p.soak * 3 // 4
                log(
                    f"  soak: {p.soak} requests ({n_json} non-streaming at c=64, {n_sse} streaming at c=32)"
                )
                samples: list[int] = []
                sample = lambda: samples.append(tree_rss_kb(pid))  # noqa: E731
                self.wrk(target, "soak", 64, 3600, "json", max_responses=n_json, every_2s=sample)
                self.wrk(target, "soak-sse", 32, 3600, "sse", max_responses=n_sse, every_2s=sample)
                time.sleep(2)
                rss["after_soak_kb"] = tree_rss_kb(pid)
                rss["max_during_soak_kb"] = max([*samples, rss["after_soak_kb"]])
                log(
                    f"  RSS (gateway process tree): {rss['before_soak_kb'] / 1024:.0f} MB before, "
                    f"{rss['after_soak_kb'] / 1024:.0f} MB after {p.soak} requests"
                )
            if name in SWITCHYARD_TARGETS and self.args.profile:
                self.py_spy(target, "c64-json", 15, "json", 64, [])
                self.py_spy(target, "s32-sse", 15, "sse", 32, [])
                self.py_spy(target, "c64-json-gil", 10, "json", 64, ["--gil"])
            if name in ("switchyard", "switchyard-nolog"):
                entry["clickhouse"] = self.check_clickhouse(target, upstream_before)
            if rss:
                entry["rss"] = rss
            self.summary[name] = entry
        except Exception as exc:  # one target failing must not lose the others' figures
            log(f"  {name} FAILED: {exc}")
            self.summary[name] = {"label": target.label, "error": str(exc)[:500]}
        finally:
            if target.service:
                target.service.stop()
                if name in SWITCHYARD_TARGETS:
                    (self.work / name / "server.log").exists()

    # ------------------------------------------------------------------ whole run

    def run(self) -> Path:
        started = dt.datetime.now()
        self.start_mock()
        try:
            for name in self.args.only:
                self.run_target(name)
        finally:
            if self.mock:
                self.mock.stop()
        report = render_report(self, started)
        results = BENCH / "results"
        results.mkdir(exist_ok=True)
        stem = started.strftime("%Y-%m-%d")
        if self.args.only != list(ALL_TARGETS):
            stem += "-" + "+".join(self.args.only)
        if self.args.quick:
            stem += "-quick"
        path = results / f"{stem}.md"
        n = 2
        while path.exists():
            path = results / f"{stem}-{n}.md"
            n += 1
        path.write_text(report)
        (path.with_suffix(".jsonl")).write_text("".join(json.dumps(r) + "\n" for r in self.results))
        path.with_suffix(".json").write_text(
            json.dumps(
                {
                    "started": started.isoformat(),
                    "args": vars(self.args),
                    "profile": vars(self.profile),
                    "nice": self.nice,
                    "versions": versions(),
                    "summary": self.summary,
                    "results": self.results,
                },
                indent=1,
            )
        )
        print()
        print(report)
        log(f"results: {path} (raw phases: {path.with_suffix('.jsonl')}; work files: {self.work})")
        return path


# ----------------------------------------------------------------------------- report


def pkg_version(venv: Path, package: str) -> str:
    python = venv / "bin" / "python"
    if not python.exists():
        return "?"
    done = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "?"


def tool_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0] if text else "?"


def versions() -> dict[str, str]:
    venv = REPO / ".venv"
    out = {
        "python": tool_version([str(venv / "bin" / "python"), "--version"]).replace("Python ", "")
    }
    for package in (
        "granian",
        "litestar",
        "aiohttp",
        "msgspec",
        "uvloop",
        "chdb-core",
        "clickhouse-connect",
    ):
        out[package] = pkg_version(venv, package)
    out["nginx"] = tool_version(["nginx", "-v"]).replace("nginx version: ", "")
    out["wrk"] = tool_version(["wrk", "-v"]).split(" [")[0]
    out["litellm"] = pkg_version(VENVS / "litellm", "litellm")
    out["tensorzero"] = pkg_version(VENVS / "tensorzero", "tensorzero")
    out["kernel"] = platform.release()
    try:
        cpu = next(
            line
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        out["cpu"] = cpu.split(":", 1)[1].strip()
    except StopIteration:
        out["cpu"] = "?"
    out["cores"] = str(os.cpu_count())
    try:
        out["git"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "app"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if dirty:
            out["git"] += f" + uncommitted changes in app/ ({len(dirty.splitlines())} files)"
    except FileNotFoundError:
        out["git"] = "?"
    return out


BENCH_SET = {
    "SWITCHYARD_HOST",
    "SWITCHYARD_PORT",
    "SWITCHYARD_CONFIG_DIR",
    "SWITCHYARD_DATA_DIR",
    "SWITCHYARD_LOG_LEVEL",
    "SWITCHYARD_ADMIN_TOKEN",
    "SWITCHYARD_WORKERS",
}


def overrides() -> list[str]:
    """SWITCHYARD_* settings inherited from the environment (e.g. SWITCHYARD_WRITE_INTERVAL_S)."""
    return sorted(
        f"{k}={v}"
        for k, v in os.environ.items()
        if k.startswith("SWITCHYARD_")
        and k not in BENCH_SET
        and k
        not in ("SWITCHYARD_DATABASE_URL", "SWITCHYARD_CLICKHOUSE_URL", "SWITCHYARD_REQUIRE_AUTH")
    )


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def ratio_targets(s: dict) -> list[str]:
    """The targets judged as ratios within this run (docs/performance.md, "Targets as ratios"):
    absolute figures move by 2x between days on shared machines, ratios of one run do not."""
    ok = {n: e for n, e in s.items() if "error" not in e}
    on, off = ok.get("switchyard"), ok.get("switchyard-nolog")
    minimal, tz, direct = ok.get("minimal"), ok.get("tensorzero"), ok.get("direct")
    rows: list[tuple[str, str, float, bool]] = []
    hit, miss, traced = (
        ok.get("switchyard-cache"),
        ok.get("switchyard-cachemiss"),
        ok.get("switchyard-traced"),
    )
    nojournal, workers2 = ok.get("switchyard-nojournal"), ok.get("switchyard-workers2")
    for client in ("reqwest", "mixed", "aiohttp"):  # the default transport is mixed
        other = ok.get(f"switchyard-{client}")
        if on and other:
            for phase, what in (("c64", "c=64"), ("s32", "streaming")):
                ratio = other[phase]["rps"] / on[phase]["rps"]
                rows.append((f"{client} ÷ the default, {what} req/s", "> 1", ratio, ratio > 1))
    if on and (asgi := ok.get("switchyard-asgi")):
        for phase, what in (("c64", "c=64"), ("s32", "streaming")):
            ratio = on[phase]["rps"] / asgi[phase]["rps"]
            rows.append((f"RSGI ÷ ASGI, {what} req/s", "> 1", ratio, ratio > 1))
        ratio = on["c1"]["p99_ms"] / asgi["c1"]["p99_ms"]
        rows.append(("RSGI ÷ ASGI, p99 at c=1", "< 1", ratio, ratio < 1))
    if on and nojournal:
        for phase, what in (("c64", "c=64"), ("s32", "streaming")):
            ratio = on[phase]["rps"] / nojournal[phase]["rps"]
            rows.append((f"journal on ÷ off, {what} req/s", "≥ 0.95", ratio, ratio >= 0.95))
    if on and workers2:
        for phase, what in (("c64", "c=64"), ("s32", "streaming")):
            ratio = workers2[phase]["rps"] / on[phase]["rps"]
            rows.append((f"--workers 2 ÷ one worker, {what} req/s", "≥ 1.8", ratio, ratio >= 1.8))
    if hit and miss:
        for phase, what in (("c64", "c=64"), ("s32", "streaming")):
            ratio = hit[phase]["rps"] / miss[phase]["rps"]
            rows.append((f"cache hit ÷ miss, {what} req/s", "≥ 2", ratio, ratio >= 2))
    if traced and on:
        for phase, what in (("c64", "c=64"), ("s32", "streaming")):
            ratio = traced[phase]["rps"] / on[phase]["rps"]
            rows.append((f"tracing on ÷ off, {what} req/s", "≥ 0.9", ratio, ratio >= 0.9))
    if on and off:
        for phase, what in (("c64", "c=64"), ("s32", "streaming")):
            ratio = on[phase]["rps"] / off[phase]["rps"]
            rows.append((f"logging on ÷ off, {what} req/s", "≥ 0.85", ratio, ratio >= 0.85))
        ratio = on["c1"]["p99_ms"] / off["c1"]["p99_ms"]
        rows.append(("logging on ÷ off, p99 at c=1", "≤ 1.3", ratio, ratio <= 1.3))
    if off and minimal:
        for phase, what in (("c64", "c=64"), ("s32", "streaming")):
            ratio = off[phase]["rps"] / minimal[phase]["rps"]
            rows.append(
                (f"logging off ÷ minimal proxy, {what} req/s", "≥ 0.9", ratio, ratio >= 0.9)
            )
    if on and tz:
        for phase, what in (("c64", "c=64"), ("s32", "streaming")):
            ratio = on[phase]["rps"] / tz[phase]["rps"]
            goal = 0.6 if phase == "c64" else 0.9  # issue 23's targets
            rows.append(
                (f"logging on ÷ TensorZero, {what} req/s", f"≥ {goal}", ratio, ratio >= goal)
            )
        if direct:
            floor = direct["c1"]["p99_ms"]
            ratio = (on["c1"]["p99_ms"] - floor) / max(tz["c1"]["p99_ms"] - floor, 1e-3)
            rows.append(("added p99 at c=1, logging on ÷ TensorZero's", "≤ 3", ratio, ratio <= 3))
    if not rows:
        return []
    lines = [
        "",
        "## Targets as ratios within this run",
        "",
        "| target | goal | measured | status |",
    ]
    lines.append("| --- | --- | --- | --- |")
    lines += [
        f"| {what} | {goal} | {ratio:.2f} | {'met' if met else 'missed'} |"
        for what, goal, ratio, met in rows
    ]
    return lines


def render_report(bench: Bench, started: dt.datetime) -> str:
    s = bench.summary
    v = versions()
    direct = s.get("direct") if "error" not in s.get("direct", {"error": 1}) else None
    lines = [
        f"# Gateway benchmark, {started:%Y-%m-%d %H:%M}",
        "",
        f"Command: `bench/run{' --quick' if bench.args.quick else ''}"
        f"{' --only ' + ','.join(bench.args.only) if bench.args.only != list(ALL_TARGETS) else ''}`; "
        f"{v['cores']} cores ({v['cpu']}), gateway pinned to CPU {GATEWAY_CPU}, mock + wrk + TTFB client on CPU {LOAD_CPU}"
        f"{', all at nice ' + str(bench.nice) if bench.nice else ''}.",
        "",
        *(
            [f"Environment overrides passed to Switchyard: `{' '.join(overrides())}`.", ""]
            if overrides()
            else []
        ),
        "| target | p50 ms c=1 | p99 ms c=1 | added p50 / p99 ms | req/s c=64 (× direct) | stream req/s c=32 (× direct) "
        "| TTFB p50 / p99 ms (added p50) | errors | gateway CPU c=64 | foreign CPU max |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in bench.args.only:
        entry = s.get(name)
        if not entry:
            continue
        if "error" in entry:
            lines.append(
                f"| {entry['label']} | failed: {' '.join(entry['error'].split())[:120].replace('|', '/')} | | | | | | | | |"
            )
            continue
        c1, c64, s32, tt = entry["c1"], entry["c64"], entry["s32"], entry["ttfb"]
        errors = c1["errors"] + c64["errors"] + s32["errors"] + tt["errors"]
        foreign = max(
            c1["foreign_cpu_pct"],
            c64["foreign_cpu_pct"],
            s32["foreign_cpu_pct"],
            tt["foreign_cpu_pct"],
        )
        if direct and name != "direct":
            added = f"{c1['p50_ms'] - direct['c1']['p50_ms']:+.2f} / {c1['p99_ms'] - direct['c1']['p99_ms']:+.2f}"
            r64 = f" ({c64['rps'] / direct['c64']['rps']:.3f}×)"
            r32 = f" ({s32['rps'] / direct['s32']['rps']:.3f}×)"
            attf = f" ({tt['ttfb_p50_ms'] - direct['ttfb']['ttfb_p50_ms']:+.2f})"
        else:
            added, r64, r32, attf = "—", "", "", ""
        lines.append(
            f"| {entry['label']} | {fmt(c1['p50_ms'])} | {fmt(c1['p99_ms'])} | {added} | {fmt(c64['rps'], 0)}{r64} "
            f"| {fmt(s32['rps'], 0)}{r32} | {fmt(tt['ttfb_p50_ms'])} / {fmt(tt['ttfb_p99_ms'])}{attf} | {errors} "
            f"| {c64['gateway_cpu_pct']:.0f}% | {foreign:.0f}% |"
        )
    lines += [
        "",
        "Columns: p50/p99 of wrk's request latency at one connection; `added` is minus the direct row; "
        "req/s at 64 connections (non-streaming) and at 32 connections (streaming, whole stream read); "
        "TTFB = request written to first SSE `data:` byte, one request at a time (bench/lib/ttfb.py); "
        "errors = non-200 + non-completion bodies + socket errors + timeouts over all phases; "
        "gateway CPU = CPU time of the gateway's process tree / wall time during the c=64 phase "
        "(100% = one core); foreign CPU = CPU used by processes outside the benchmark during a phase "
        "(% of one core; anything above a few % means the figures are disturbed).",
    ]
    sy = s.get("switchyard")
    others = [
        n
        for n in bench.args.only
        if n not in ("direct", "switchyard") and "error" not in s.get(n, {"error": 1})
    ]
    if sy and "error" not in sy and others:
        lines += [
            "",
            "## Ratios (Switchyard with logging on ÷ the other target)",
            "",
            "| vs | p50 latency c=1 | req/s c=64 | stream req/s c=32 | TTFB p50 |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name in others:
            o = s[name]
            lines.append(
                f"| {o['label']} | {sy['c1']['p50_ms'] / o['c1']['p50_ms']:.2f}× | {sy['c64']['rps'] / o['c64']['rps']:.2f}× "
                f"| {sy['s32']['rps'] / o['s32']['rps']:.2f}× | {sy['ttfb']['ttfb_p50_ms'] / o['ttfb']['ttfb_p50_ms']:.2f}× |"
            )
    if sy and "error" not in sy:
        lines += ["", "## Switchyard checks", ""]
        ch = sy.get("clickhouse")
        if ch:
            lines.append(
                f"- ClickHouse completeness: {ch['inference_rows']:,} rows in `inferences` "
                f"({', '.join(f'{k}: {n:,}' for k, n in ch['rows_by_status'].items())}), "
                f"{ch['model_inference_rows']:,} in `model_inferences`, for {ch['upstream_calls']:,} upstream calls "
                f"counted by the mock and {ch['client_ok_responses']:,} completions the clients received: "
                f"**{'complete' if ch['complete'] else 'MISMATCH'}**."
            )
        rss = sy.get("rss", {})
        if "after_soak_kb" in rss:
            growth = (rss["after_soak_kb"] - rss["before_soak_kb"]) / 1024
            lines.append(
                f"- Memory (RSS of the gateway's process tree): {rss['after_start_kb'] / 1024:.0f} MB after start, "
                f"{rss['before_soak_kb'] / 1024:.0f} MB before the soak, {rss['after_soak_kb'] / 1024:.0f} MB after "
                f"{bench.profile.soak:,} more requests (peak {rss.get('max_during_soak_kb', 0) / 1024:.0f} MB during them): "
                f"**{growth:+.0f} MB**. Most of it is the embedded chDB engine; a short soak (--quick) mostly "
                f"measures its caches filling up."
            )
    nolog = s.get("switchyard-nolog")
    if nolog and "error" not in nolog and nolog.get("clickhouse"):
        ch = nolog["clickhouse"]
        lines.append(
            f'- Logging off (`"store": false` in every request): {ch["inference_rows"]} rows recorded '
            f"for {ch['upstream_calls']:,} upstream calls ({'as expected' if ch['complete'] else 'UNEXPECTED'})."
        )
    if sy and "error" not in sy and direct:
        lines += [
            "",
            "## Targets (Switchyard, logging on)",
            "",
            "| target | goal | measured | status |",
            "| --- | --- | --- | --- |",
        ]
        add50 = sy["c1"]["p50_ms"] - direct["c1"]["p50_ms"]
        add99 = sy["c1"]["p99_ms"] - direct["c1"]["p99_ms"]
        attf = sy["ttfb"]["ttfb_p50_ms"] - direct["ttfb"]["ttfb_p50_ms"]
        errors = sum(sy[k]["errors"] for k in ("c1", "c64", "s32", "ttfb"))
        rows = [
            ("added p50 at c=1", "≤ 0.6 ms", add50, add50 <= 0.6, "ms"),
            ("added p99 at c=1", "≤ 2 ms", add99, add99 <= 2, "ms"),
            (
                "non-streaming req/s at c=64",
                "≥ 3,000",
                sy["c64"]["rps"],
                sy["c64"]["rps"] >= 3000,
                "req/s",
            ),
            (
                "streaming req/s at c=32",
                "≥ 2,500",
                sy["s32"]["rps"],
                sy["s32"]["rps"] >= 2500,
                "req/s",
            ),
            ("added streaming TTFB p50", "≤ 1 ms", attf, attf <= 1, "ms"),
        ]
        for what, goal, value, ok, unit in rows:
            lines.append(f"| {what} | {goal} | {fmt(value)} {unit} | {'met' if ok else 'missed'} |")
        lines.append(f"| errors | 0 | {errors} | {'met' if errors == 0 else 'missed'} |")
        ch = sy.get("clickhouse")
        if ch:
            lines.append(
                f"| every inference in ClickHouse | all | {ch['inference_rows']:,} / {ch['upstream_calls']:,} "
                f"| {'met' if ch['complete'] else 'missed'} |"
            )
        rss = sy.get("rss", {})
        if "after_soak_kb" in rss:
            growth = (rss["after_soak_kb"] - rss["before_soak_kb"]) / 1024
            lines.append(
                f"| RSS growth over {bench.profile.soak:,} requests | < 50 MB | {growth:+.0f} MB "
                f"| {'met' if growth < 50 else 'missed'} |"
            )
    lines += ratio_targets(s)
    lines += ["", "## Versions", "", ", ".join(f"{k} {val}" for k, val in v.items()), ""]
    lines += [
        "## Phases",
        "",
        "| target | phase | conns | req/s | p50 ms | p99 ms | max ms | ok | errors "
        "| gateway CPU | mock CPU | client CPU | foreign CPU | steal |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in bench.results:
        if r["phase"] == "ttfb":
            lines.append(
                f"| {r['target']} | ttfb | 1 | | {fmt(r['ttfb_p50_ms'], 3)} | {fmt(r['ttfb_p99_ms'], 3)} | | "
                f"{r['n']} | {r['errors']} | {r['gateway_cpu_pct']:.0f}% | {r['mock_cpu_pct']:.0f}% "
                f"| {r['client_cpu_pct']:.0f}% | {r['foreign_cpu_pct']:.0f}% | {r.get('steal_cpu_pct', 0):.0f}% |"
            )
        else:
            lines.append(
                f"| {r['target']} | {r['phase']} | {r['conns']} | {fmt(r['rps'], 0)} | {fmt(r['p50_ms'], 3)} "
                f"| {fmt(r['p99_ms'], 3)} | {fmt(r['max_ms'], 1)} | {r['ok']} | {r['errors']} "
                f"| {r['gateway_cpu_pct']:.0f}% | {r['mock_cpu_pct']:.0f}% | {r['client_cpu_pct']:.0f}% "
                f"| {r['foreign_cpu_pct']:.0f}% | {r.get('steal_cpu_pct', 0):.0f}% |"
            )
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short phases (a smoke run, ~3 minutes)"
    )
    parser.add_argument(
        "--only",
        default=",".join(ALL_TARGETS),
        help=f"comma-separated targets, in order (default: {','.join(ALL_TARGETS)})",
    )
    parser.add_argument(
        "--soak",
        type=int,
        default=None,
        help="requests between the two RSS readings (default 200000)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also record py-spy profiles of Switchyard under load",
    )
    parser.add_argument(
        "--wait-idle",
        type=int,
        default=60,
        metavar="SECONDS",
        help="before each target, wait up to this long for other processes to go quiet (default 60)",
    )
    parser.add_argument(
        "--no-nice", action="store_true", help="do not raise the benchmark's priority (nice -10)"
    )
    args = parser.parse_args(argv)
    args.only = [t.strip() for t in args.only.split(",") if t.strip()]
    for name in args.only:
        if name not in KNOWN_TARGETS:
            parser.error(f"unknown target {name!r}; choose from {', '.join(KNOWN_TARGETS)}")
    if os.cpu_count() and os.cpu_count() < 2:
        parser.error("needs at least 2 CPUs (gateway on CPU 1, load on CPU 0)")
    choose_ports()
    path = Bench(args).run()
    return 0 if path else 1


if __name__ == "__main__":
    sys.exit(main())
