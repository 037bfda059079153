"""`make run` on a fresh clone: installs, creates ./var with development keys, seeds the demo,
prints the keys once and serves; the printed curl works."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pyotp
import pytest

from tests.e2e.conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _clone(dest: Path) -> Path:
    if not (ROOT / ".git").exists():
        pytest.fail("the make-run test needs a git checkout of the project")
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True, timeout=120)
    # Test the working tree as it is, not only what is committed.
    for rel in subprocess.run(
        ["git", "ls-files", "-m", "-o", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split():
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


class TestMakeRun:
    def test_fresh_clone_serves_the_demo(self, tmp_path: Path) -> None:
        clone = _clone(tmp_path / "clone")
        port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("VERWIJSINDEX_", "VIRTUAL_ENV"))
        }
        env["VERWIJSINDEX_PORT"] = str(port)
        log = (tmp_path / "make-run.log").open("w+")
        proc = subprocess.Popen(
            ["make", "run"],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 420
            while time.monotonic() < deadline:
                assert proc.poll() is None, (tmp_path / "make-run.log").read_text()
                try:
                    if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            else:
                pytest.fail("make run did not serve in time")
            output = (tmp_path / "make-run.log").read_text()
            keys = re.findall(r"professional key: (vi_test_\S+)", output)
            pros = re.findall(r"professional id : (\S+)", output)
            assert len(keys) == 2 and len(pros) == 2, output
            assert "curl" in output and "/docs" in output
            key_file = clone / "var" / "keys" / "master-v1.key"
            assert key_file.stat().st_mode & 0o777 == 0o600
            assert (clone / "var" / "verwijsindex.db").exists()
            body = {"bsn": "111222333", "birth_date": "2012-05-01"}
            results = [
                httpx.post(
                    base + "/v1/registrations",
                    json=body,
                    headers={"Authorization": f"Bearer {k}", "X-Professional-Id": p},
                ).json()
                for k, p in zip(keys, pros, strict=True)
            ]
            assert results[0]["match_id"] is None and results[1]["match_id"]
            assert httpx.get(base + "/docs").status_code == 200
            # The printed portal sign-in works: user name, password and a TOTP code.
            user, password, secret = re.findall(
                r"^  (\S+@\S+) \(professional\)\n\s+password : (\S+)\n\s+secret   : (\S+)",
                output,
                re.M,
            )[0]
            assert f"{base}/portal/" in output and "otpauth://totp/" in output
            with httpx.Client(base_url=base) as browser:
                form = browser.get("/portal/aanmelden")
                token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                assert token, form.text
                signed_in = browser.post(
                    "/portal/aanmelden",
                    data={
                        "csrf_token": token.group(1),
                        "username": user,
                        "password": password,
                        "code": pyotp.TOTP(secret).now(),
                    },
                    headers={"Origin": base},
                )
                assert signed_in.status_code == 303, signed_in.text
                assert "Mijn registraties" in browser.get("/portal/registraties").text
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        # A second `make run` does not print keys again.
        out = subprocess.run(
            ["make", "-s", "install"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0
        again = subprocess.run(
            [str(clone / ".venv" / "bin" / "verwijsindex"), "demo"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert "vi_test_" not in again.stdout and "already present" in again.stdout
