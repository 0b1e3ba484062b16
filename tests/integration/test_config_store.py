"""The SQL config store on both backends: migrations, alembic check, apply/export round trip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command

from app.store.sql.migrate import alembic_config, upgrade
from tests.support import postgres, stores
from tests.support.gateway import REPO


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


def test_migrations_from_empty_and_models_match(database_url: str) -> None:
    upgrade(database_url)
    command.check(alembic_config(database_url))  # raises if models and migrations disagree
    upgrade(database_url)  # idempotent


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=full_env,
    )


def test_apply_export_apply_round_trips(database_url: str, tmp_path: Path) -> None:
    env = {"SWITCHYARD_DATABASE_URL": database_url, "SWITCHYARD_DATA_DIR": str(tmp_path / "data")}
    first = cli("config", "apply", "variants", "--comment", "demo", env=env)
    assert first.returncode == 0, first.stderr
    assert "as version 1" in first.stdout
    exported = cli("config", "export", str(tmp_path / "exported"), env=env)
    assert exported.returncode == 0, exported.stderr
    again = cli("config", "apply", str(tmp_path / "exported"), env=env)
    assert again.returncode == 0 and "no change" in again.stdout, again.stdout
    # And the export is itself a valid variants directory.
    assert cli("config", "validate", str(tmp_path / "exported"), env=env).returncode == 0


def test_apply_refuses_a_broken_directory(database_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "functions").mkdir(parents=True)
    (broken / "gateway.toml").write_text('[providers.x]\ntype = "nope"\n')
    result = cli("config", "apply", str(broken), env={"SWITCHYARD_DATABASE_URL": database_url})
    assert result.returncode == 1
    assert "providers.x.type" in result.stdout and "nothing applied" in result.stdout


def test_keys_cli_stores_only_hashes(database_url: str) -> None:
    env = {"SWITCHYARD_DATABASE_URL": database_url}
    created = cli("keys", "create", "--admin", "--name", "ops", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("sy-") and len(key) > 40
    listing = cli("keys", "list", env=env).stdout
    assert key[:11] in listing and key not in listing
    dump = stores.dump(database_url, "api_keys", "audit_log")
    assert key[:11] in dump  # the visible prefix is stored: the rest of the key is not
    assert key not in dump and key[11:] not in dump
    revoked = cli("keys", "revoke", key[:11], env=env)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
