"""docker-compose.yml, deploy/nginx.conf and the Dockerfile, checked by reading them.

There is no Docker engine where the tests run, so these tests hold the files to what
``docker compose up`` needs: services on official images, a health check on every long-running
service, ``depends_on`` conditions that can be met, and gateway settings that
app/settings.py knows and accepts.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import msgspec
import pytest
import yaml

from app.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
GATEWAYS = ("gateway-1", "gateway-2")
SETTINGS = {ENV_PREFIX + f.name.upper() for f in msgspec.structs.fields(Settings)}
_VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


def interpolate(value: object, environ: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` against ``environ``."""

    def one(match: re.Match[str]) -> str:
        name, kind, default = match.groups()
        if environ.get(name):
            return environ[name]
        if kind == "?":
            raise KeyError(f"{name}: {default}")
        return default or ""

    return _VARIABLE.sub(one, str(value).lower() if isinstance(value, bool) else str(value))


def test_the_services_and_their_official_images(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"postgres", "clickhouse", "migrate", *GATEWAYS, "lb"}
    assert re.fullmatch(r"postgres:\d+", services["postgres"]["image"])
    assert re.fullmatch(r"clickhouse/clickhouse-server:[\d.]+", services["clickhouse"]["image"])
    assert re.fullmatch(r"nginx:[\d.]+-alpine", services["lb"]["image"])
    for name in ("migrate", *GATEWAYS):
        assert services[name]["build"] == ".", name  # the Dockerfile beside it
    assert services["migrate"]["command"] == ["switchyard", "migrate"]
    # Only the balancer is published; the replicas are reached through it.
    assert [name for name, s in services.items() if "ports" in s] == ["lb"]
    assert services["lb"]["ports"] == ["${PUBLISH_PORT:-8080}:8080"]


def test_every_long_running_service_has_a_health_check(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if service.get("restart") == "no":  # one-shot job: its exit code is its health
            assert service["healthcheck"] == {"disable": True}, name
            continue
        assert service["restart"] == "unless-stopped", name
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name
        assert {"interval", "timeout", "retries"} <= set(check), name
    gateway_check = " ".join(services["gateway-1"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8080/ready" in gateway_check


def test_depends_on_conditions_can_be_met(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert services[target]["healthcheck"] != {"disable": True}, (name, target)
            else:
                assert condition == "service_completed_successfully", (name, target)
                assert services[target]["restart"] == "no", (name, target)
    healthy = {"condition": "service_healthy"}
    for name in GATEWAYS:
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "postgres": healthy,
            "clickhouse": healthy,
        }
    assert services["migrate"]["depends_on"] == {"postgres": healthy, "clickhouse": healthy}
    assert services["lb"]["depends_on"] == dict.fromkeys(GATEWAYS, healthy)


def test_every_setting_is_listed_and_every_value_is_a_valid_setting(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        environment = service.get("environment", {})
        for key in environment:
            if key.startswith(ENV_PREFIX):
                assert key in SETTINGS, f"{name} sets {key}, which app/settings.py does not read"
    for name in ("migrate", *GATEWAYS):
        listed = {k for k in services[name]["environment"] if k.startswith(ENV_PREFIX)}
        assert listed == SETTINGS, f"{name}: add {sorted(SETTINGS - listed)} to x-gateway"
        with pytest.raises(KeyError, match="SWITCHYARD_ADMIN_TOKEN"):
            {k: interpolate(v, {}) for k, v in services[name]["environment"].items()}
        environ = {
            key: interpolate(value, {"SWITCHYARD_ADMIN_TOKEN": "secret"})
            for key, value in services[name]["environment"].items()
        }
        settings = Settings.from_env(environ)  # exits on any value it cannot take
        assert (settings.host, settings.port, settings.require_auth) == ("0.0.0.0", 8080, True)
        assert settings.clickhouse_cluster is None  # empty: the single server of this file
        database, clickhouse = urlparse(settings.database_url), urlparse(settings.clickhouse_url)
        assert (database.scheme, database.hostname, database.port) == (
            "postgresql",
            "postgres",
            5432,
        )
        assert database.path == "/" + services["postgres"]["environment"]["POSTGRES_DB"]
        assert (clickhouse.hostname, clickhouse.port) == ("clickhouse", 8123)
        assert clickhouse.path == "/" + services["clickhouse"]["environment"]["CLICKHOUSE_DB"]
        assert clickhouse.username == services["clickhouse"]["environment"]["CLICKHOUSE_USER"]


def test_volumes_each_replica_keeps_its_own_spill_directory(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    named = set()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                named.add(source)
    assert named == set(compose["volumes"])
    data = [
        next(v.split(":")[0] for v in services[name]["volumes"] if v.endswith(":/data"))
        for name in GATEWAYS
    ]
    assert len(set(data)) == len(GATEWAYS)  # two writers never share a spill directory
    assert "postgres:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "clickhouse:/var/lib/clickhouse" in services["clickhouse"]["volumes"]


def test_the_balancer_spreads_over_both_replicas_and_streams() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    upstream = re.search(r"upstream gateways \{(.*?)\}", conf, re.S)
    assert upstream is not None
    servers = re.findall(r"^\s*server ([\w-]+):(\d+)", upstream[1], re.M)
    assert servers == [(name, "8080") for name in GATEWAYS]
    assert "proxy_pass http://gateways;" in conf
    assert "proxy_buffering off;" in conf  # server-sent events pass through chunk by chunk
    assert re.search(r"^\s*listen 8080;", conf, re.M)
    body = re.search(r"client_max_body_size (\d+)m;", conf)
    assert body is not None and int(body[1]) * 2**20 > Settings().max_body_bytes
    assert conf.count("{") == conf.count("}")


def test_the_dockerfile_fits_the_compose_file() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    for needed in ("app", "migrations", "variants"):
        assert re.search(rf"^COPY {needed} ", dockerfile, re.M), needed
    env = dict(re.findall(r"(SWITCHYARD_\w+)=(\S+)", dockerfile))
    assert set(env) <= SETTINGS
    assert re.search(rf"^EXPOSE {env['SWITCHYARD_PORT']}$", dockerfile, re.M)
    assert env["SWITCHYARD_DATA_DIR"] == "/data" and env["SWITCHYARD_CONFIG_DIR"] == "/app/variants"
    assert 'CMD ["switchyard", "serve"]' in dockerfile
    python = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, re.M)
    assert python is not None
    assert tuple(map(int, python[1].split("."))) >= (3, 11)  # pyproject's requires-python
    # The command the migrate job runs is one the CLI has.
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--only" in done.stdout, done.stderr
