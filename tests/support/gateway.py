"""Runs ``switchyard serve`` as a real process on 127.0.0.1 for tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.fake_openai import free_port

REPO = Path(__file__).resolve().parents[2]


class Gateway:
    def __init__(self, config_dir: Path, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.config_dir = config_dir
        self.data_dir = data_dir
        self.port = free_port()
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "gateway.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> Gateway:
        """Start and wait for /health (90 s: chDB migrations alone take 20 s or more on a loaded
        2-core machine; a healthy start is rarely over 5 s)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
        env.update(
            SWITCHYARD_PORT=str(self.port),
            SWITCHYARD_CONFIG_DIR=str(self.config_dir),
            SWITCHYARD_DATA_DIR=str(self.data_dir),
            SWITCHYARD_LOG_LEVEL="warning",
        )
        if client := os.environ.get("TEST_HTTP_CLIENT"):  # the whole suite on another transport
            env["SWITCHYARD_HTTP_CLIENT"] = client
        if interface := os.environ.get("TEST_SERVER_INTERFACE"):  # or on ASGI
            env["SWITCHYARD_SERVER_INTERFACE"] = interface
        env.update(self.env)  # a test's settings win, the log level included
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child writes to it until stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() can reach granian's workers
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gateway did not become healthy:\n{self.log()}")

    def stop(self, timeout: float = 20) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # A worker that outlived its server (killed, or exited early) would keep running, and
        # keep its port and chDB directory, for the rest of the session.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def copy_demo_config(target: Path) -> Path:
    shutil.copytree(REPO / "variants", target)
    return target


def start_gateway(
    root: Path,
    gateway_toml: str,
    functions: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Gateway:
    """A gateway on a config of its own (``gateway.toml`` text plus function files), under ``root``."""
    config = root / "variants"
    (config / "functions").mkdir(parents=True, exist_ok=True)
    (config / "gateway.toml").write_text(gateway_toml)
    for name, text in (functions or {}).items():
        (config / "functions" / f"{name}.toml").write_text(text)
    return Gateway(config, root / "data", env=env).start()
