"""Medians and ratios of the alternating runs written by ``2026-12-06-alternate.sh``.

    python docs/benchmarks/2026-12-06-summarise.py OUT_DIR  [summary.json] > summary.md
    python docs/benchmarks/2026-12-06-summarise.py docs/benchmarks/2026-12-06-alternating.json

Reads OUT_DIR/r<round>-<variant>/results.json (variants a, b, c) and
OUT_DIR/bulk-cpu/r<round>-<variant>-<backend>.json, or the same gathered in one file
({"suite": {"r1-a": ...}, "bulk_cpu": {"r1-a-sqlite": ...}}), and prints, per point, each
variant's median and each round's figure, the ratios of the medians (B/A, C/B, C/A), and the
spread of the same ratios taken within each round (the variants of one round ran minutes
apart, under the same load from the machine's other users).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

VARIANTS = ("a", "b", "c")
PAIRS = (("b", "a"), ("c", "b"), ("c", "a"))


def _register(res: dict[str, Any], backend: str, key: str) -> float | None:
    for p in res.get("points", []):
        if p["backend"] == backend and p["preloaded"] == 0:
            for r in p.get("register", []):
                if r["clients"] == 32:
                    return float(r[key]) if r.get(key) is not None else None
    return None


def _point(res: dict[str, Any], backend: str, part: str, key: str) -> float | None:
    for p in res.get("points", []):
        if p["backend"] == backend and p["preloaded"] == 0 and p.get(part):
            return float(p[part][key])
    return None


FIGURES = {
    "SQLite registrations/s, 32 clients": lambda r: _register(r, "sqlite", "rps"),
    "PostgreSQL registrations/s, 32 clients": lambda r: _register(r, "postgresql", "rps"),
    "SQLite bulk registrations/s (batch endpoint)": lambda r: _point(
        r, "sqlite", "bulk", "rows_per_s"
    ),
    "PostgreSQL bulk registrations/s (batch endpoint)": lambda r: _point(
        r, "postgresql", "bulk", "rows_per_s"
    ),
    "SQLite server CPU ms per registration": lambda r: _register(
        r, "sqlite", "server_cpu_ms_per_request"
    ),
    "PostgreSQL server CPU ms per registration": lambda r: _register(
        r, "postgresql", "server_cpu_ms_per_request"
    ),
    "SQLite p50 ms, 32 clients": lambda r: _register(r, "sqlite", "p50_ms"),
    "SQLite p99 ms, 32 clients": lambda r: _register(r, "sqlite", "p99_ms"),
    "PostgreSQL p50 ms, 32 clients": lambda r: _register(r, "postgresql", "p50_ms"),
    "PostgreSQL p99 ms, 32 clients": lambda r: _register(r, "postgresql", "p99_ms"),
    "SQLite match reads/s": lambda r: _point(r, "sqlite", "match_read", "rps"),
    "PostgreSQL match reads/s": lambda r: _point(r, "postgresql", "match_read", "rps"),
    "SQLite CSV import registrations/s": lambda r: _point(r, "sqlite", "csv_import", "rows_per_s"),
    "PostgreSQL CSV import registrations/s": lambda r: _point(
        r, "postgresql", "csv_import", "rows_per_s"
    ),
}


def _suite_files(out: Path) -> dict[str, dict[str, Any]]:
    """run name (r<round>-<variant>) → results.json, from OUT_DIR or from a bundle file."""
    if out.is_file():
        return dict(json.loads(out.read_text())["suite"])
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("r*-*/results.json")}


def _bulk_files(out: Path) -> dict[str, dict[str, Any]]:
    """run name (r<round>-<variant>-<backend>) → the bulk-CPU script's output."""
    if out.is_file():
        return dict(json.loads(out.read_text()).get("bulk_cpu", {}))
    return {p.stem: json.loads(p.read_text()) for p in out.glob("bulk-cpu/r*-*-*.json")}


def load(out: Path) -> dict[int, dict[str, dict[str, Any]]]:
    rounds: dict[int, dict[str, dict[str, Any]]] = {}
    for name, res in sorted(_suite_files(out).items()):
        m = re.fullmatch(r"r(\d+)-([abc])", name)
        if m and "elapsed_s" in res:  # written when the run has finished
            rounds.setdefault(int(m[1]), {})[m[2]] = res
    return {n: vs for n, vs in sorted(rounds.items()) if set(vs) == set(VARIANTS)}


def _fmt(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def summarise(out: Path) -> tuple[str, dict[str, Any]]:
    rounds = load(out)
    lines = [
        f"{len(rounds)} complete rounds ({', '.join(f'r{n}' for n in rounds)}), "
        "each A, B, C in turn.",
        "",
        "| figure | A median | B median | C median | B/A | C/B | C/A "
        "| B/A per round (min–max) | C/B per round | C/A per round |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    data: dict[str, Any] = {"rounds": list(rounds), "figures": {}}
    for name, get in FIGURES.items():
        per = {v: [get(rounds[n][v]) for n in rounds] for v in VARIANTS}
        if any(x is None for xs in per.values() for x in xs):
            continue
        med = {v: statistics.median(per[v]) for v in VARIANTS}
        row = [name, *(_fmt(med[v]) for v in VARIANTS)]
        entry: dict[str, Any] = {"per_round": per, "median": med, "ratios": {}}
        for x, y in PAIRS:
            row.append(f"{med[x] / med[y]:.3f}")
        for x, y in PAIRS:
            within = [per[x][i] / per[y][i] for i in range(len(rounds))]
            row.append(f"{statistics.median(within):.3f} ({min(within):.3f}–{max(within):.3f})")
            entry["ratios"][f"{x}/{y}"] = {
                "of_medians": med[x] / med[y],
                "per_round": within,
                "median_per_round": statistics.median(within),
            }
        lines.append("| " + " | ".join(row) + " |")
        data["figures"][name] = entry
    lines += ["", "Each round's figures (A / B / C):", ""]
    lines.append("| figure | " + " | ".join(f"r{n}" for n in rounds) + " |")
    lines.append("|---|" + "---:|" * len(rounds))
    for name, entry in data["figures"].items():
        cells = [
            " / ".join(_fmt(entry["per_round"][v][i]) for v in VARIANTS) for i in range(len(rounds))
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n", data


def summarise_bulk_cpu(out: Path) -> tuple[str, dict[str, Any]]:
    """OUT_DIR/bulk-cpu/r<round>-<variant>-<backend>.json of ``2026-12-06-bulk-cpu.py``: per
    backend and variant the median over every run, and the ratios of each round's medians."""
    runs: dict[tuple[str, str], dict[int, list[dict[str, Any]]]] = {}
    for name, result in sorted(_bulk_files(out).items()):
        m = re.fullmatch(r"r(\d+)-([abc])-(\w+)", name)
        if m:
            runs.setdefault((m[3], m[2]), {})[int(m[1])] = result["runs"]
    lines = [
        "| backend | figure | A | B | C | B/A per round (median, min–max) | C/B per round "
        "| C/A per round |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    data: dict[str, Any] = {}
    for backend in sorted({b for b, _v in runs}):
        by_v = {v: runs.get((backend, v), {}) for v in VARIANTS}
        common = sorted(set.intersection(*(set(r) for r in by_v.values())))
        for key, label in (
            ("server_cpu_us_per_item", "server CPU µs per item"),
            ("rows_per_s", "registrations/s"),
        ):
            every = {
                v: statistics.median(x[key] for n in common for x in by_v[v][n]) for v in VARIANTS
            }
            per_round = {
                v: [statistics.median(x[key] for x in by_v[v][n]) for n in common] for v in VARIANTS
            }
            row = [backend, label, *(_fmt(every[v]) for v in VARIANTS)]
            for x, y in PAIRS:
                within = [a / b for a, b in zip(per_round[x], per_round[y], strict=True)]
                row.append(f"{statistics.median(within):.3f} ({min(within):.3f}–{max(within):.3f})")
            lines.append("| " + " | ".join(row) + " |")
            data[f"{backend} {label}"] = {
                "rounds": common,
                "median_of_all_runs": every,
                "per_round_median": per_round,
            }
    return "\n".join(lines) + "\n", data


if __name__ == "__main__":
    out_dir = Path(sys.argv[1])
    text, data = summarise(out_dir)
    bulk_text, bulk_data = summarise_bulk_cpu(out_dir)
    if bulk_data:
        text += "\nServer CPU per bulk item (2026-12-06-bulk-cpu.py):\n\n" + bulk_text
        data["bulk_cpu"] = bulk_data
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(json.dumps(data, indent=2) + "\n")
    sys.stdout.write(text)
