"""Production mode refuses to start with unsafe configuration; ``verwijsindex serve`` exits
non-zero naming the setting. Each case breaks exactly one thing of a good configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from verwijsindex.errors import ConfigurationError
from verwijsindex.http.app import create_app
from verwijsindex.keys import generate_ledger_key_file, generate_master_key_file
from verwijsindex.settings import Settings


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERWIJSINDEX_")}
    env.update(
        {
            "VERWIJSINDEX_ENV": "production",
            "VERWIJSINDEX_DATA_DIR": str(data_dir),
            "VERWIJSINDEX_PORT": "1",  # never reached: every case fails before binding
            **extra,
        }
    )
    return env


def _serve(data_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verwijsindex.cli", "serve"],
        env=_env(data_dir, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A good production layout: private data dir, keys dir 0700, production key 0600."""
    root = tmp_path / "data"
    root.mkdir(mode=0o700)
    generate_master_key_file(root / "keys", version=1, development=False)
    generate_ledger_key_file(root / "keys", development=False)
    os.chmod(root / "keys", 0o700)
    return root


def _production(data_dir: Path, **values: object) -> Settings:
    return Settings(env="production", data_dir=data_dir, run_sweeper=False, **values)  # type: ignore[arg-type]


class TestGoodConfiguration:
    def test_starts_and_creates_a_private_sqlite_file(self, data_dir: Path) -> None:
        create_app(_production(data_dir))
        db = data_dir / "verwijsindex.storage"
        assert db.exists()
        assert db.stat().st_mode & 0o077 == 0


@pytest.mark.slow
class TestServeRefuses:
    def test_development_keys(self, tmp_path: Path) -> None:
        root = tmp_path / "data"
        generate_master_key_file(root / "keys", version=1, development=True)
        os.chmod(root / "keys", 0o700)
        result = _serve(root)
        assert result.returncode != 0
        assert "production mode refuses development keys" in result.stderr

    def test_missing_keys(self, tmp_path: Path) -> None:
        result = _serve(tmp_path)
        assert result.returncode != 0
        assert "production mode needs a master key" in result.stderr
        assert not (tmp_path / "keys").exists()

    def test_key_file_readable_by_others(self, data_dir: Path) -> None:
        os.chmod(data_dir / "keys" / "master-v1.key", 0o640)
        result = _serve(data_dir)
        assert result.returncode != 0
        assert "key file master-v1.key is accessible by other users" in result.stderr

    def test_keys_dir_readable_by_others(self, data_dir: Path) -> None:
        os.chmod(data_dir / "keys", 0o755)
        result = _serve(data_dir)
        assert result.returncode != 0
        assert "VERWIJSINDEX_KEYS_DIR" in result.stderr
        assert "chmod 700" in result.stderr

    def test_http_webhooks_allowed(self, data_dir: Path) -> None:
        result = _serve(data_dir, VERWIJSINDEX_ALLOW_HTTP_WEBHOOKS="true")
        assert result.returncode != 0
        assert "VERWIJSINDEX_ALLOW_HTTP_WEBHOOKS" in result.stderr

    def test_private_webhook_addresses_allowed(self, data_dir: Path) -> None:
        result = _serve(data_dir, VERWIJSINDEX_ALLOW_PRIVATE_WEBHOOK_ADDRESSES="true")
        assert result.returncode != 0
        assert "VERWIJSINDEX_ALLOW_PRIVATE_WEBHOOK_ADDRESSES" in result.stderr

    def test_sqlite_file_readable_by_others(self, data_dir: Path) -> None:
        db = data_dir / "verwijsindex.storage"
        db.touch(mode=0o644)
        os.chmod(db, 0o644)
        result = _serve(data_dir)
        assert result.returncode != 0
        assert "VERWIJSINDEX_DATABASE_URL" in result.stderr
        assert "verwijsindex.storage" in result.stderr

    def test_sqlite_wal_readable_by_others(self, data_dir: Path) -> None:
        (data_dir / "verwijsindex.storage").touch(mode=0o600)
        wal = data_dir / "verwijsindex.storage-wal"
        wal.touch()
        os.chmod(wal, 0o604)
        result = _serve(data_dir)
        assert result.returncode != 0
        assert "verwijsindex.storage-wal" in result.stderr

    def test_cli_commands_refuse_too(self, data_dir: Path) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "verwijsindex.cli", "sweep"],
            env=_env(data_dir, VERWIJSINDEX_ALLOW_HTTP_WEBHOOKS="true"),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0
        assert "VERWIJSINDEX_ALLOW_HTTP_WEBHOOKS" in result.stderr


class TestCreateAppRefuses:
    def test_each_refusal_is_a_configuration_error(self, data_dir: Path) -> None:
        with pytest.raises(ConfigurationError, match="ALLOW_HTTP_WEBHOOKS"):
            create_app(_production(data_dir, allow_http_webhooks=True))
        with pytest.raises(ConfigurationError, match="ALLOW_PRIVATE_WEBHOOK_ADDRESSES"):
            create_app(_production(data_dir, allow_private_webhook_addresses=True))
        # Development mode allows both (loopback receivers in development).
        create_app(
            Settings(
                data_dir=data_dir,
                run_sweeper=False,
                allow_http_webhooks=True,
                allow_private_webhook_addresses=True,
            )
        )
