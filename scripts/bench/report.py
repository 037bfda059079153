"""The report: ``results.md`` rendered from the results (``results.json``) alone, so a saved
``results.json`` renders again the same."""

from __future__ import annotations

import json
from typing import Any

from scripts.bench.common import TARGET_CLIENTS, Options


def save(opts: Options, results: dict[str, Any]) -> None:
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (opts.out / "results.md").write_text(render_markdown(results))


def _by_clients(runs: list[dict[str, Any]] | None) -> dict[int, dict[str, Any]]:
    return {r["clients"]: r for r in runs or []}


def _mb(n: int | None) -> str:
    return "–" if n is None else f"{n / 1e6:,.0f} MB"


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def render_markdown(res: dict[str, Any]) -> str:
    m = res.get("machine", {})
    out = [f"# Benchmark results ({res.get('mode')})", ""]
    if m:
        pg = m.get("postgres", {})
        out += [
            "| machine | |",
            "|---|---|",
            f"| date | {m['date']} |",
            f"| CPU | {m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable) |",
            f"| memory | {m['memory_gib']} GiB |",
            f"| kernel | {m['kernel']} |",
            f"| Python | {m['python']} |",
            f"| SQLite | {m['sqlite']} |",
            f"| PostgreSQL | {pg.get('server_version', '–')} (fsync={pg.get('fsync', '–')}, "
            f"synchronous_commit={pg.get('synchronous_commit', '–')}) |",
            f"| load generator | {m['wrk']} |",
            f"| git commit | {m['git_commit']}{' (dirty)' if m['git_dirty'] else ''} |",
            "| packages | " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + " |",
            "",
        ]
    s = res.get("settings", {})
    out += [f"Each HTTP figure is one wrk run of {s.get('duration_s')} s; latencies in ms.", ""]
    if "hmac" in res:
        h, q = res["hmac"], res.get("sqlite", {})
        out += [
            "## Ceilings (measured in this run)",
            "",
            "| ceiling | figure |",
            "|---|---|",
            f"| HMAC-SHA256 of a BSN, one core | {h['hmac_sha256_per_s']:,}/s |",
            f"| full pseudonym (HMAC + base64), one core | {h['pseudonymise_per_s']:,}/s |",
        ]
        if q:
            out += [
                f"| raw sqlite3 executemany, {q['executemany_rows']:,} registrations, one "
                f"transaction, WAL, synchronous=FULL | {q['executemany_rows_per_s']:,} rows/s |",
                f"| raw sqlite3, one registration per durable transaction "
                f"| {q['durable_single_row_commits_per_s']:,} commits/s |",
            ]
        out.append("")
    bare = _by_clients(res.get("ceiling_bare"))
    fast = _by_clients(res.get("ceiling_fastapi"))
    if bare or fast:
        out += [
            "### HTTP ceilings: same uvicorn settings, same wrk script and request bodies",
            "",
            "| clients | bare ASGI (load generator ceiling) req/s | p99 | minimal FastAPI "
            "(ceiling 1) req/s | p50 | p99 |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for c in sorted(set(bare) | set(fast)):
            b, f = bare.get(c, {}), fast.get(c, {})
            out.append(
                f"| {c} | {b.get('rps', 0):,.0f} | {_ms(b.get('p99_ms'))} | "
                f"{f.get('rps', 0):,.0f} | {_ms(f.get('p50_ms'))} | {_ms(f.get('p99_ms'))} |"
            )
        out.append("")
    points = res.get("points", [])
    sweeps = [p for p in points if p["preloaded"] == 0]
    if sweeps:
        out += [
            "## Registration through HTTP (`verwijsindex serve`, empty database, ~10% matches)",
            "",
            "| backend | clients | req/s | p50 | p95 | p99 | non-2xx | vs minimal FastAPI "
            "| vs bare ASGI |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for p in sweeps:
            for r in p["register"]:
                f = fast.get(r["clients"], {}).get("rps")
                b = bare.get(r["clients"], {}).get("rps")
                vs_fast = f"{r['rps'] / f:.1%}" if f else "–"
                vs_bare = f"{r['rps'] / b:.1%}" if b else "–"
                out.append(
                    f"| {p['backend']} | {r['clients']} | {r['rps']:,.0f} | {_ms(r['p50_ms'])} "
                    f"| {_ms(r['p95_ms'])} | {_ms(r['p99_ms'])} | {r['non_2xx']} | "
                    f"{vs_fast} | {vs_bare} |"
                )
        out.append("")
    if points:
        out += [
            f"## Scale (registrations and match reads at {TARGET_CLIENTS} clients)",
            "",
            "| backend | preloaded | load time | cold start: p99 / max | register req/s | p50 "
            "| p99 | p99 vs empty | match read req/s | p50 | p99 | RSS | RSS peak | DB on disk "
            "| youths missing a match |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        empty = {
            p["backend"]: _by_clients(p["register"]).get(TARGET_CLIENTS)
            for p in points
            if p["preloaded"] == 0
        }
        for p in points:
            r = _by_clients(p["register"]).get(TARGET_CLIENTS, {})
            mr = p.get("match_read", {})
            e = empty.get(p["backend"])
            ratio = f"{r['p99_ms'] / e['p99_ms']:.2f}×" if r and e and e["p99_ms"] else "–"
            load = p.get("load")
            load_time = f"{load['seconds']:.0f} s" if load else "–"
            missing = p.get("check", {}).get("youths_missing_a_match", "–")
            w = p.get("warmup") or {}
            cold = f"{_ms(w.get('p99_ms'))} / {_ms(w.get('max_ms'))}" if w else "–"
            out.append(
                f"| {p['backend']} | {p['preloaded']:,} | "
                f"{load_time} | {cold} | {r.get('rps', 0):,.0f} | "
                f"{_ms(r.get('p50_ms'))} | {_ms(r.get('p99_ms'))} | {ratio} | "
                f"{mr.get('rps', 0):,.0f} | {_ms(mr.get('p50_ms'))} | {_ms(mr.get('p99_ms'))} | "
                f"{_mb(p.get('rss_bytes'))} | {_mb(p.get('rss_peak_bytes'))} | "
                f"{_mb(p.get('db_size_bytes'))} | {missing} |"
            )
        out.append("")
    bulk_rows = [p for p in points if p.get("bulk")]
    if bulk_rows:
        executemany = (res.get("sqlite") or {}).get("executemany_rows_per_s")
        out += [
            "## Bulk registration (`POST /v1/registrations:batch`, 1,000 per request)",
            "",
            "| backend | registrations | in flight | seconds | registrations/s | batch p50 ms "
            "| vs raw executemany |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for p in bulk_rows:
            for key, name in (("bulk", p["backend"]), ("bulk_parents", "… two parents each")):
                b = p.get(key)
                if b is None:
                    continue
                share = f"{b['rows_per_s'] / executemany:.1%}" if executemany else "–"
                out.append(
                    f"| {name} | {b['registrations']:,} | {b['concurrency']} | {b['seconds']} "
                    f"| {b['rows_per_s']:,} | {b['batch_p50_ms']} | {share} |"
                )
        out.append("")
        imports = [p for p in bulk_rows if p.get("csv_import")]
        if imports:
            out += [
                "CSV import (`verwijsindex import-registrations`, batches of 1,000 one after "
                "another, from the command's start to its exit):",
                "",
                "| backend | rows | created | failed | seconds | registrations/s |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for p in imports:
                c = p["csv_import"]
                out.append(
                    f"| {p['backend']} | {c['rows']:,} | {c['registrations']:,} | {c['failed']} "
                    f"| {c['seconds']} | {c['rows_per_s']:,} |"
                )
            out.append("")
        with_parents = [p for p in points if p.get("register_parents")]
        if with_parents:
            out += [
                f"## Registration with two parents ({TARGET_CLIENTS} clients, same run and "
                "database)",
                "",
                "Without parents is measured before and after the run with parents; the ratio "
                "is against their mean (the later runs meet a larger database).",
                "",
                "| backend | preloaded | without parents req/s (before / after) "
                "| with two parents req/s | ratio | p99 without | p99 with |",
                "|---|---:|---:|---:|---:|---:|---:|",
            ]
            for p in with_parents:
                plain = _by_clients(p.get("register")).get(TARGET_CLIENTS, {})
                after = p.get("register_plain_after") or {}
                parents = p["register_parents"]
                reference = _plain_reference(p)
                ratio = f"{parents['rps'] / reference:.1%}" if reference else "–"
                again = f" / {after['rps']:,.0f}" if after.get("rps") else ""
                out.append(
                    f"| {p['backend']} | {p['preloaded']:,} | {plain.get('rps', 0):,.0f}{again} "
                    f"| {parents['rps']:,.0f} | {ratio} | {_ms(plain.get('p99_ms'))} "
                    f"| {_ms(parents.get('p99_ms'))} |"
                )
            out.append("")
        out += render_blind([p["blind"] for p in bulk_rows if p.get("blind")])
    out += render_scaleout(res)
    out += render_webhooks(res.get("webhooks"))
    out += render_portal(res.get("portal"))
    out += render_targets(res, fast)
    for p in points:
        prof = p.get("profile")
        if prof and "components_pct" in prof:
            run = prof["run_under_profiler"]
            out += [
                f"## Profile: {p['backend']} service, {p['preloaded']:,} preloaded, "
                f"{TARGET_CLIENTS} clients (py-spy, "
                f"{prof['samples']:,} samples; {run['rps']:,.0f} req/s under the profiler)",
                "",
                "| phase of the work | % of samples |",
                "|---|---:|",
                *[f"| {n} | {v} |" for n, v in prof["phases_pct"]],
                "",
                "| component (innermost frame) | % of samples |",
                "|---|---:|",
                *[f"| {n} | {v} |" for n, v in prof["components_pct"]],
                "",
                "| function (self) | % of samples |",
                "|---|---:|",
                *[f"| `{n}` | {v} |" for n, v in prof["self_pct"]],
                "",
            ]
    return "\n".join(out) + "\n"


def _scaleout_runs(res: dict[str, Any]) -> dict[tuple[int, int], dict[str, Any]]:
    """(workers, clients) → the wrk run, from the scale-out section."""
    return {
        (p["workers"], r["clients"]): r
        for p in (res.get("scaleout") or {}).get("points", [])
        for r in p["register"]
    }


def render_blind(points: list[dict[str, Any]]) -> list[str]:
    """The blind path's CSV import beside the direct path's (target: at least 50 %)."""
    if not points:
        return []
    out = [
        "Blind path (`import-registrations --keyservice-url`: the command blinds, a key service"
        " in its own process evaluates, the index receives subject tokens; target ≥ 50 % of the"
        " direct path):",
        "",
        "| backend | rows | seconds | registrations/s | direct registrations/s | ratio "
        "| key service CPU s | matches check |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in points:
        c = p.get("csv_import") or {}
        check = p.get("check") or {}
        ok = "ok" if not check.get("youths_with_more_than_one_open_match") else "DUPLICATES"
        ratio = p.get("ratio")
        out.append(
            f"| {p['backend']} | {c.get('rows', 0):,} | {c.get('seconds')} "
            f"| {c.get('rows_per_s', 0):,} | {p.get('direct_rows_per_s', '–')} "
            f"| {'–' if ratio is None else f'{ratio:.0%}'} | {c.get('keyservice_cpu_s')} | {ok} |"
        )
    return [*out, ""]


def render_scaleout(res: dict[str, Any]) -> list[str]:
    points = (res.get("scaleout") or {}).get("points", [])
    if not points:
        return []
    runs = _scaleout_runs(res)
    out = [
        "## Scale-out on PostgreSQL (`serve --workers W --no-webhook-worker` "
        "and one `notifier run`)",
        "",
        "| API workers | clients | req/s | p50 | p99 | non-2xx | vs 1 worker | RSS (workers) "
        "| youths missing a match | youths with > 1 open match |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        check = p.get("check", {})
        for r in p["register"]:
            one = runs.get((1, r["clients"]))
            ratio = f"{r['rps'] / one['rps']:.2f}×" if one and one["rps"] else "–"
            out.append(
                f"| {p['workers']} | {r['clients']} | {r['rps']:,.0f} | {_ms(r['p50_ms'])} "
                f"| {_ms(r['p99_ms'])} | {r['non_2xx']} | {ratio} | {_mb(p.get('rss_bytes'))} "
                f"| {check.get('youths_missing_a_match', '–')} "
                f"| {check.get('youths_with_more_than_one_open_match', '–')} |"
            )
    out.append("")
    return out


def render_webhooks(hooks: dict[str, Any] | None) -> list[str]:
    out = ["## Match → webhook (`scripts/bench_webhooks.py`, SQLite)", ""]
    if not hooks:
        return [*out, "Not run (`--webhook-matches 0`).", ""]
    if "error" in hooks:
        return [*out, f"Failed: `{hooks['error'][-300:]}`", ""]
    lat, thr = hooks["latency"], hooks["throughput"]
    return [
        *out,
        f"Signatures verified with {hooks['verifier']}.",
        "",
        "| measure | figure |",
        "|---|---:|",
        f"| registration that makes a match → both organisations' webhooks verified, median "
        f"({lat['matches']:,} matches) | {lat['median_ms']:.1f} ms |",
        f"| p90 / p99 / max | {lat['p90_ms']:.1f} / {lat['p99_ms']:.1f} / {lat['max_ms']:.1f} ms |",
        f"| the registration's own response, median | "
        f"{lat['registration_response_median_ms']:.1f} ms |",
        f"| backlog of {thr['deliveries']:,} deliveries, one `notifier run` process | "
        f"{thr['deliveries_per_s']:,.0f} deliveries/s ({thr['rejected']} rejected) |",
        "",
    ]


def render_targets(res: dict[str, Any], fast: dict[int, dict[str, Any]]) -> list[str]:
    points = res.get("points", [])
    sqlite_empty = next(
        (p for p in points if p["backend"] == "sqlite" and p["preloaded"] == 0), None
    )
    rows = []
    if sqlite_empty:
        r = _by_clients(sqlite_empty["register"]).get(TARGET_CLIENTS)
        f = fast.get(TARGET_CLIENTS, {}).get("rps")
        if r:
            rows.append(
                (
                    "≥ 3,000 registrations/s, SQLite, 32 clients",
                    f"{r['rps']:,.0f}/s",
                    r["rps"] >= 3000,
                )
            )
            if f:
                rows.append(
                    (
                        "≥ 55% of minimal FastAPI, 32 clients",
                        f"{r['rps'] / f:.1%}",
                        r["rps"] / f >= 0.55,
                    )
                )
            rows.append(
                ("p99 ≤ 25 ms, SQLite, 32 clients", f"{r['p99_ms']:.1f} ms", r["p99_ms"] <= 25)
            )
    for backend in ("sqlite", "postgresql"):
        bp = [p for p in points if p["backend"] == backend]
        empty = next((p for p in bp if p["preloaded"] == 0), None)
        largest = max(bp, key=lambda p: p["preloaded"], default=None)
        if not empty or not largest or largest is empty:
            continue
        e = _by_clients(empty["register"]).get(TARGET_CLIENTS)
        big = _by_clients(largest["register"]).get(TARGET_CLIENTS)
        n = largest["preloaded"]
        suffix = "" if n >= 10_000_000 else f" (measured at {n:,} only; target is at 10^7)"
        if e and big:
            ratio = big["p99_ms"] / e["p99_ms"]
            rows.append(
                (
                    f"{backend}: p99 at 10^7 within 1.5× of empty{suffix}",
                    f"{ratio:.2f}×",
                    ratio <= 1.5 if n >= 10_000_000 else None,
                )
            )
        rss = largest.get("rss_bytes")
        if rss:
            rows.append(
                (
                    f"{backend}: RSS < 250 MB at 10^7{suffix}",
                    _mb(rss),
                    rss < 250e6 if n >= 10_000_000 else None,
                )
            )
    for p in points:
        blind = p.get("blind") or {}
        if blind.get("ratio") is not None:
            rows.append(
                (
                    f"{p['backend']}: blind path ≥ 50% of the direct path (CSV import)",
                    f"{blind['ratio']:.0%}",
                    blind["ratio"] >= 0.5,
                )
            )
    bulk = sqlite_empty.get("bulk") if sqlite_empty else None
    ceiling = (res.get("sqlite") or {}).get("executemany_rows_per_s")
    if bulk:
        rows.append(
            (
                "bulk ≥ 50,000 registrations/s (SQLite)",
                f"{bulk['rows_per_s']:,}/s",
                bulk["rows_per_s"] >= 50_000,
            )
        )
        if ceiling:
            share = bulk["rows_per_s"] / ceiling
            rows.append(("bulk ≥ half of raw executemany", f"{share:.1%}", share >= 0.5))
    for p in points:
        parents = p.get("register_parents")
        reference = _plain_reference(p)
        if parents and reference:
            ratio = parents["rps"] / reference
            rows.append(
                (
                    f"{p['backend']} at {p['preloaded']:,}: registration with two parents within "
                    "10 % of one without (issue 17)",
                    f"{ratio:.1%}",
                    ratio >= 0.9,
                )
            )
    runs = _scaleout_runs(res)
    one, two = runs.get((1, TARGET_CLIENTS)), runs.get((2, TARGET_CLIENTS))
    if one and two and one["rps"]:
        ratio = two["rps"] / one["rps"]
        rows.append(
            (
                f"PostgreSQL: 2 workers ≥ 1.6× one, {TARGET_CLIENTS} clients",
                f"{ratio:.2f}×",
                ratio >= 1.6,
            )
        )
    out = ["## Targets (issue 6)", "", "| target | measured | verdict |", "|---|---:|---|"]
    for name, value, ok in rows:
        verdict = "not decided" if ok is None else ("met" if ok else "**missed**")
        out.append(f"| {name} | {value} | {verdict} |")
    if not (one and two):
        out.append("| PostgreSQL: 2 workers ≥ 1.6× one | – | not measured in this run |")
    out.append("")
    return out


def render_portal(points: list[dict[str, Any]] | None) -> list[str]:
    """The portal's page latency at 8 signed-in sessions (``scripts/bench/portal.py``)."""
    if not points:
        return []
    out = [
        "## Portal pages at 8 signed-in sessions (`scripts/bench/portal.py`)",
        "",
        "Must hold: p99 < 100 ms.",
        "",
        "| backend | page | requests | p50 ms | p99 ms | max ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for point in points:
        rows = [*point["pages"].items(), ("all pages", point["all"])]
        for name, figures in rows:
            out.append(
                f"| {point['backend']} | {name} | {figures['requests']} | {figures['p50_ms']}"
                f" | {figures['p99_ms']} | {figures['max_ms']} |"
            )
    return [*out, ""]


def _plain_reference(point: dict[str, Any]) -> float | None:
    """Registrations/s without parents to hold the run with parents against: the mean of the
    runs before and after it (the run before alone in results that lack the one after)."""
    plain = _by_clients(point.get("register")).get(TARGET_CLIENTS) or {}
    runs = [r["rps"] for r in (plain, point.get("register_plain_after") or {}) if r.get("rps")]
    return sum(runs) / len(runs) if runs else None
