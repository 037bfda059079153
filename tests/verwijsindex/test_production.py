"""Production mode refuses to start with unsafe configuration; ``verwijsindex serve`` exits
non-zero naming the setting. Each case breaks exactly one thing of a good configuration."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verwijsindex.alerts.service import Alerts
from verwijsindex.errors import ConfigurationError
from verwijsindex.http.app import create_app
from verwijsindex.keys import (
    MIN_ESTIMATED_BITS,
    _estimated_bits,
    generate_ledger_key_file,
    generate_master_key_file,
    weak_key_reason,
)
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
        db = data_dir / "verwijsindex.db"
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

    def test_portal_cookies_without_secure(self, data_dir: Path) -> None:
        result = _serve(data_dir, VERWIJSINDEX_PORTAL_SECURE_COOKIES="false")
        assert result.returncode != 0
        assert "VERWIJSINDEX_PORTAL_SECURE_COOKIES" in result.stderr
        assert _production(data_dir).portal_secure_cookies is True

    def test_private_webhook_addresses_allowed(self, data_dir: Path) -> None:
        result = _serve(data_dir, VERWIJSINDEX_ALLOW_PRIVATE_WEBHOOK_ADDRESSES="true")
        assert result.returncode != 0
        assert "VERWIJSINDEX_ALLOW_PRIVATE_WEBHOOK_ADDRESSES" in result.stderr

    def test_sqlite_file_readable_by_others(self, data_dir: Path) -> None:
        db = data_dir / "verwijsindex.db"
        db.touch(mode=0o644)
        os.chmod(db, 0o644)
        result = _serve(data_dir)
        assert result.returncode != 0
        assert "VERWIJSINDEX_DATABASE_URL" in result.stderr
        assert "verwijsindex.db" in result.stderr

    def test_sqlite_wal_readable_by_others(self, data_dir: Path) -> None:
        (data_dir / "verwijsindex.db").touch(mode=0o600)
        wal = data_dir / "verwijsindex.db-wal"
        wal.touch()
        os.chmod(wal, 0o604)
        result = _serve(data_dir)
        assert result.returncode != 0
        assert "verwijsindex.db-wal" in result.stderr

    def test_weak_master_key_from_the_environment(self, data_dir: Path) -> None:
        # Issue 14, finding 11: 32 zero bytes were accepted.
        for path in (data_dir / "keys").glob("master-v*.key"):
            path.unlink()
        zeros = base64.b64encode(bytes(32)).decode()
        result = _serve(data_dir, VERWIJSINDEX_MASTER_KEY=zeros)
        assert result.returncode != 0
        assert "production mode refuses a weak master key (VERWIJSINDEX_MASTER_KEY)" in (
            result.stderr
        )
        assert "verwijsindex keys generate" in result.stderr
        assert "secrets.token_bytes(32)" in result.stderr
        assert zeros not in result.stderr

    def test_weak_master_key_file(self, data_dir: Path) -> None:
        # Issue 14, finding 11: a repeated word was accepted.
        path = data_dir / "keys" / "master-v1.key"
        document = json.loads(path.read_text())
        document["key"] = base64.b64encode(b"geheim12" * 4).decode()
        path.write_text(json.dumps(document))
        result = _serve(data_dir)
        assert result.returncode != 0
        assert "weak master key (key file master-v1.key)" in result.stderr
        assert "repeats a pattern of 8 bytes" in result.stderr

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
        with pytest.raises(ConfigurationError, match="ALLOW_LOOPBACK_WEBHOOK_ADDRESSES"):
            create_app(_production(data_dir, allow_loopback_webhook_addresses=True))
        with pytest.raises(ConfigurationError, match="KEYSERVICE_URL"):
            create_app(
                _production(
                    data_dir, keyservice_url="http://keys.example", keyservice_api_key="vks_x"
                )
            )
        counter = base64.b64encode(bytes(range(32))).decode()
        with pytest.raises(ConfigurationError, match="weak master key"):
            create_app(_production(data_dir, master_key=counter, master_key_version=2))
        # Development mode allows both (loopback receivers in development).
        create_app(
            Settings(
                data_dir=data_dir,
                run_sweeper=False,
                allow_http_webhooks=True,
                allow_private_webhook_addresses=True,
            )
        )


class TestMailRelay:
    """E-mail alerts in production: TLS to any relay off this machine, an https portal link."""

    HTTPS_PORTAL = "https://verwijsindex.gemeente.test/portal/"

    def test_plain_smtp_to_a_relay_off_this_machine_is_refused(self, data_dir: Path) -> None:
        for host in ("relay.gemeente.test", "192.0.2.25", "[2001:db8::25]"):
            with pytest.raises(ConfigurationError, match="VERWIJSINDEX_SMTP_SECURITY=none"):
                create_app(
                    _production(
                        data_dir,
                        smtp_host=host,
                        smtp_security="none",
                        portal_url=self.HTTPS_PORTAL,
                    )
                )

    def test_plain_smtp_to_a_loopback_relay_and_starttls_anywhere_are_allowed(
        self, data_dir: Path
    ) -> None:
        for host in ("127.0.0.1", "localhost", "::1", "127.0.0.25"):
            create_app(
                _production(
                    data_dir, smtp_host=host, smtp_security="none", portal_url=self.HTTPS_PORTAL
                )
            )
        for security in ("starttls", "tls"):
            create_app(
                _production(
                    data_dir,
                    smtp_host="relay.gemeente.test",
                    smtp_security=security,
                    smtp_username="verwijsindex",
                    smtp_password="s3cret",
                    portal_url=self.HTTPS_PORTAL,
                )
            )

    def test_the_portal_link_must_be_https(self, data_dir: Path) -> None:
        with pytest.raises(ConfigurationError, match="VERWIJSINDEX_PORTAL_URL"):
            create_app(_production(data_dir, smtp_host="relay.gemeente.test"))
        with pytest.raises(ConfigurationError, match="VERWIJSINDEX_PORTAL_URL"):
            create_app(
                _production(
                    data_dir,
                    smtp_host="relay.gemeente.test",
                    portal_url="http://verwijsindex.gemeente.test/portal/",
                )
            )
        # Without a relay there are no alerts, and no link to check.
        create_app(_production(data_dir))

    def test_the_password_is_a_secret_in_the_settings(self) -> None:
        settings = Settings(smtp_host="127.0.0.1", smtp_username="u", smtp_password="s3cret")
        assert "s3cret" not in repr(settings)
        assert "s3cret" not in repr(Alerts(settings=settings, database=None).mail_config())  # type: ignore[arg-type]


def _random_keys(count: int, size: int) -> list[bytes]:
    return [os.urandom(size) for _ in range(count)]


class TestKeyStrength:
    """``weak_key_reason``: random keys pass, the weak kinds the outside test used fail."""

    @pytest.mark.parametrize("size", [32, 48, 64])
    def test_random_keys_pass(self, size: int) -> None:
        # 20,000 keys per size. Refusing one would need a 2·10^-14 all-printable draw or
        # collisions worth 64 bits; the smallest estimates seen stay far above the threshold.
        keys = _random_keys(20_000, size)
        assert [k for k in keys if weak_key_reason(k) is not None] == []
        lowest = min(_estimated_bits(k) for k in keys)
        assert lowest > MIN_ESTIMATED_BITS + 30, lowest

    def test_generated_keys_pass(self, tmp_path: Path) -> None:
        for version in range(1, 21):
            path = generate_master_key_file(tmp_path, version=version, development=False)
            material = base64.b64decode(json.loads(path.read_text())["key"])
            assert weak_key_reason(material) is None

    @pytest.mark.parametrize(
        ("material", "reason"),
        [
            (bytes(32), "repeats a pattern of 1 byte"),
            (b"\xff" * 64, "repeats a pattern of 1 byte"),
            (b"password" * 4, "repeats a pattern of 8 bytes"),
            (os.urandom(16) * 2, "repeats a pattern of 16 bytes"),
            (bytes(range(32)), "counts or steps"),
            (bytes(range(200, 232)), "counts or steps"),
            (bytes((7 * i) % 256 for i in range(32)), "counts or steps"),
            (b"abcd1234" + bytes(24), "too few distinct"),
            (b"correct horse battery staple!!!", "printable text"),
            (os.urandom(16).hex().encode(), "printable text"),
        ],
        ids=[
            "zeros",
            "ones",
            "word",
            "block",
            "counter",
            "counter-from-200",
            "step-7",
            "short-padded",
            "passphrase",
            "hex-text",
        ],
    )
    def test_weak_keys_fail(self, material: bytes, reason: str) -> None:
        found = weak_key_reason(material)
        assert found is not None and reason in found

    @settings(max_examples=300)
    @given(
        word=st.binary(min_size=1, max_size=16),
        start=st.integers(0, 255),
        step=st.integers(0, 255),
        extra=st.integers(32, 64),
    )
    def test_families_of_weak_keys_fail(
        self, word: bytes, start: int, step: int, extra: int
    ) -> None:
        repeated = (word * (2 * extra // len(word) + 2))[:extra]
        assert weak_key_reason(repeated) is not None
        counter = bytes((start + step * i) % 256 for i in range(extra))
        assert weak_key_reason(counter) is not None
