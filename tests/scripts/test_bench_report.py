"""The benchmark's report (``results.md``) from fixed results, without running anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripts.bench.common import Options
from scripts.bench.report import render_markdown, save


def _run(clients: int, rps: float, p99: float, non_2xx: int = 0) -> dict[str, Any]:
    return {
        "clients": clients,
        "threads": 2,
        "seconds": 5.0,
        "requests": int(rps * 5),
        "rps": rps,
        "p50_ms": p99 / 2,
        "p95_ms": p99 * 0.9,
        "p99_ms": p99,
        "p999_ms": p99 * 1.1,
        "max_ms": p99 * 1.2,
        "non_2xx": non_2xx,
        "socket_errors": 0,
    }


def _point(backend: str, preloaded: int, rps: float, p99: float) -> dict[str, Any]:
    return {
        "backend": backend,
        "preloaded": preloaded,
        "warmup": _run(32, rps, p99 * 2),
        "register": [_run(32, rps, p99)],
        "match_read": _run(32, rps / 2, p99 * 3),
        "rss_bytes": 150_000_000,
        "rss_peak_bytes": 160_000_000,
        "db_size_bytes": 40_000_000,
        "check": {"youths_missing_a_match": 0, "youths_with_more_than_one_open_match": 0},
    }


def _results() -> dict[str, Any]:
    empty = _point("sqlite", 0, 3200.0, 20.0)
    empty["bulk"] = {
        "registrations": 20_000,
        "requests": 20,
        "concurrency": 2,
        "seconds": 0.4,
        "rows_per_s": 50_000,
        "batch_p50_ms": 40.0,
    }
    empty["csv_import"] = {
        "rows": 20_000,
        "registrations": 20_000,
        "failed": 0,
        "seconds": 2.0,
        "rows_per_s": 10_000,
    }
    empty["profile"] = {
        "file": "profile-sqlite-0-c32.txt",
        "run_under_profiler": _run(32, 2900.0, 25.0),
        "samples": 1000,
        "phases_pct": [["write groups", 60.0], ["HTTP server", 40.0]],
        "components_pct": [["SQLAlchemy", 70.0], ["uvicorn", 30.0]],
        "self_pct": [["execute (sqlalchemy/engine.py)", 12.5]],
    }
    large = _point("sqlite", 100_000, 2800.0, 40.0)
    large["load"] = {"registrations": 100_000, "seconds": 12.0, "registrations_per_s": 8333}
    return {
        "mode": "quick",
        "settings": {"duration_s": 5.0, "levels": [32], "scale": [0, 100_000]},
        "points": [empty, large, _point("postgresql", 0, 1000.0, 30.0)],
        "machine": {
            "date": "2026-01-01T00:00:00+00:00",
            "cpu_model": "Test CPU",
            "cores": 2,
            "usable_cores": 2,
            "memory_gib": 24.0,
            "kernel": "6.1",
            "python": "3.11.7",
            "sqlite": "3.40.1",
            "wrk": "wrk 4.1.0",
            "git_commit": "abc123",
            "git_dirty": True,
            "packages": {"fastapi": "1.0", "uvicorn": "2.0"},
            "postgres": {"server_version": "15", "fsync": "on", "synchronous_commit": "on"},
        },
        "hmac": {"hmac_sha256_per_s": 1_000_000, "pseudonymise_per_s": 800_000},
        "sqlite": {
            "executemany_rows": 100_000,
            "executemany_seconds": 1.0,
            "executemany_rows_per_s": 200_000,
            "durable_single_row_commits_per_s": 900,
        },
        "ceiling_bare": [_run(32, 20_000.0, 3.0)],
        "ceiling_fastapi": [_run(32, 8_000.0, 6.0)],
        "webhooks": {
            "verifier": "standardwebhooks 1.0",
            "latency": {
                "matches": 300,
                "median_ms": 12.0,
                "p90_ms": 20.0,
                "p99_ms": 30.0,
                "max_ms": 40.0,
                "registration_response_median_ms": 3.0,
            },
            "throughput": {"deliveries": 300, "deliveries_per_s": 500.0, "rejected": 0},
        },
        "scaleout": {
            "workers": [1, 2],
            "levels": [32],
            "points": [
                {"workers": 1, "register": [_run(32, 1000.0, 30.0)], "rss_bytes": 100_000_000},
                {"workers": 2, "register": [_run(32, 1700.0, 25.0)], "rss_bytes": 200_000_000},
            ],
        },
    }


def _headings(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("#")]


def test_every_section_in_order() -> None:
    assert _headings(render_markdown(_results())) == [
        "# Benchmark results (quick)",
        "## Ceilings (measured in this run)",
        "### HTTP ceilings: same uvicorn settings, same wrk script and request bodies",
        "## Registration through HTTP (`verwijsindex serve`, empty database, ~10% matches)",
        "## Scale (registrations and match reads at 32 clients)",
        "## Bulk registration (`POST /v1/registrations:batch`, 1,000 per request)",
        "## Scale-out on PostgreSQL (`serve --workers W --no-webhook-worker` and one "
        "`notifier run`)",
        "## Match → webhook (`scripts/bench_webhooks.py`, SQLite)",
        "## Targets (issue 6)",
        "## Profile: sqlite service, 0 preloaded, 32 clients (py-spy, 1,000 samples; "
        "2,900 req/s under the profiler)",
    ]


def test_figures_and_verdicts() -> None:
    lines = render_markdown(_results()).splitlines()
    # Shares of the ceilings: 3,200 / 8,000 and 3,200 / 20,000.
    assert "| sqlite | 32 | 3,200 | 10.0 | 18.0 | 20.0 | 0 | 40.0% | 16.0% |" in lines
    # p99 at 10^5 against the empty database: 40 / 20.
    scale = next(line for line in lines if line.startswith("| sqlite | 100,000 |"))
    assert "| 12 s | 80.0 / 96.0 | 2,800 | 20.0 | 40.0 | 2.00× |" in scale
    assert "| sqlite | 20,000 | 2 | 0.4 | 50,000 | 40.0 | 25.0% |" in lines
    assert "| 2 | 32 | 1,700 | 12.5 | 25.0 | 0 | 1.70× | 200 MB | – | – |" in lines
    assert "| ≥ 3,000 registrations/s, SQLite, 32 clients | 3,200/s | met |" in lines
    assert "| ≥ 55% of minimal FastAPI, 32 clients | 40.0% | **missed** |" in lines
    assert (
        "| sqlite: p99 at 10^7 within 1.5× of empty (measured at 100,000 only; target is at "
        "10^7) | 2.00× | not decided |"
    ) in lines
    assert "| PostgreSQL: 2 workers ≥ 1.6× one, 32 clients | 1.70× | met |" in lines
    assert "| `execute (sqlalchemy/engine.py)` | 12.5 |" in lines


def test_sections_left_out_or_failed() -> None:
    results = _results()
    results["webhooks"] = {"error": "Traceback ... boom"}
    del results["scaleout"]
    markdown = render_markdown(results)
    assert "Failed: `Traceback ... boom`" in markdown
    assert "Scale-out" not in markdown
    assert "| PostgreSQL: 2 workers ≥ 1.6× one | – | not measured in this run |" in markdown
    del results["webhooks"]
    assert "Not run (`--webhook-matches 0`)." in render_markdown(results)
    # Before any run: the machine alone.
    first = render_markdown({"mode": "quick", "settings": {"duration_s": 5.0}})
    assert _headings(first) == [
        "# Benchmark results (quick)",
        "## Match → webhook (`scripts/bench_webhooks.py`, SQLite)",
        "## Targets (issue 6)",
    ]


def test_saved_results_render_again_the_same(tmp_path: Path) -> None:
    options = Options(
        mode="quick",
        out=tmp_path / "out",
        duration=5.0,
        warmup=2.0,
        levels=[32],
        scale=[0],
        backends=["sqlite"],
        sqlite_rows=1000,
        profile=False,
        workdir=tmp_path,
    )
    save(options, _results())
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved == _results()
    assert (tmp_path / "out" / "results.md").read_text() == render_markdown(saved)


def test_blind_path_beside_the_direct_path() -> None:
    results = _results()
    point = next(p for p in results["points"] if p.get("csv_import"))
    point["blind"] = {
        "backend": point["backend"],
        "csv_import": {"rows": 20_000, "seconds": 8.0, "rows_per_s": 2_500,
                       "keyservice_cpu_s": 2.1},
        "direct_rows_per_s": 4_000,
        "ratio": 0.62,
        "check": {"youths_with_more_than_one_open_match": 0},
    }  # fmt: skip
    lines = render_markdown(results).splitlines()
    assert "| sqlite | 20,000 | 8.0 | 2,500 | 4000 | 62% | 2.1 | ok |" in lines
    assert "| sqlite: blind path ≥ 50% of the direct path (CSV import) | 62% | met |" in lines


def test_parents_held_against_the_runs_before_and_after() -> None:
    results = _results()
    point = next(p for p in results["points"] if p.get("register"))
    plain = next(r for r in point["register"] if r["clients"] == 32)
    point["register_parents"] = {**plain, "rps": 0.9 * plain["rps"]}
    point["register_plain_after"] = {**plain, "rps": 0.8 * plain["rps"]}
    lines = render_markdown(results).splitlines()
    # against the mean of the runs before (1.0) and after (0.8): 0.9 / 0.9 = 100 %
    assert any("registration with two parents within 10 %" in ln and "100.0%" in ln for ln in lines)
