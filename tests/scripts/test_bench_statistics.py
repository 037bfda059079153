"""The statistics benchmark runs, and measures what it says: a loaded year counted by the first
rollup and a year's query of every cell; the middleware benchmark measures both variants."""

from __future__ import annotations

import pytest

from scripts.bench.statistics import bench_middleware, bench_statistics


@pytest.mark.slow
def test_the_statistics_benchmark_counts_a_loaded_year() -> None:
    result = bench_statistics("sqlite", 2_000, repeats=2)
    assert result["load"]["registrations"] == 2_000
    assert result["first_rollup_windows"] in (12, 13)  # a year back to this month
    assert result["query_cells"] == 12 * 10 * 23  # months × sectors × measures
    assert 0 < result["query_s_median"] < 2


def test_the_middleware_benchmark_measures_with_and_without_metrics() -> None:
    result = bench_middleware(500)
    assert result["middleware_off_us"] > 0 and result["middleware_on_us"] > 0
    assert result["observe_request_us"] > 0
