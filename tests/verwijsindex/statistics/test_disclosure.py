"""Disclosure control: no suppressed cell can be recovered from the published cells.

The audit is an attacker's: every published cell of the grid (every query gives the same
cells), the identity between the stock of active registrations and its flows, and that counts
are non-negative. For each suppressed cell, the smallest and largest value it can take in a
solution that fits all of that (linear programming over the suppressed cells) must differ.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from verwijsindex.statistics.disclosure import CellKey, StockAndFlows, suppress
from verwijsindex.statistics.measures import (
    ENDED,
    IDENTITIES,
    MATCHES_MADE,
    MEASURES,
    REGISTRATIONS_ACTIVE,
    REGISTRATIONS_MADE,
    derive,
)

THRESHOLD = 10
SECTORS = ["education", "police"]


def _months(n: int) -> list[str]:
    return [f"2026-{m:02d}" for m in range(1, n + 1)]


def _widths(
    values: dict[CellKey, int],
    hidden: set[CellKey],
    months: list[str],
    sectors: list[str],
    identities: tuple[StockAndFlows, ...],
) -> dict[CellKey, float]:
    """How far apart two values of each suppressed cell can be given everything published:
    the largest ``x[cell] - y[cell]`` over two solutions ``x`` and ``y`` of the published
    equations, i.e. the cell's largest value minus its smallest, in one linear program per
    cell instead of two."""
    unknowns = sorted(hidden)
    position = {cell: i for i, cell in enumerate(unknowns)}
    rows: list[list[float]] = []
    rhs: list[float] = []
    for identity in identities:
        for sector in sectors:
            for index in range(len(months)):
                row = [0.0] * len(unknowns)
                constant = 0.0
                for cell, coefficient in identity.equation(months, index, sector).items():
                    if cell in position:
                        row[position[cell]] += coefficient
                    else:
                        constant += coefficient * values.get(cell, 0)
                if any(row):
                    rows.append(row)
                    rhs.append(-constant)
    n = len(unknowns)
    a_eq = b_eq = None
    if rows:
        a = np.array(rows)
        b = np.array(rhs)
        truth = np.array([values.get(cell, 0) for cell in unknowns], dtype=float)
        assert np.allclose(a @ truth, b), "the true values are a solution"
        zeros = np.zeros_like(a)
        a_eq = np.block([[a, zeros], [zeros, a]])
        b_eq = np.concatenate([b, b])
    widths: dict[CellKey, float] = {}
    for cell in unknowns:
        objective = np.zeros(2 * n)
        objective[position[cell]] = -1.0  # maximise x[cell] ...
        objective[n + position[cell]] = 1.0  # ... minus y[cell]
        result = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        assert result.status in (0, 3), result.message  # solved, or unbounded
        widths[cell] = float("inf") if result.status == 3 else -result.fun
    return widths


_count = st.one_of(st.integers(0, 3), st.integers(0, 14), st.integers(0, 60))


@st.composite
def grids(draw: st.DrawFn) -> tuple[dict[CellKey, int], list[str]]:
    months = _months(draw(st.integers(1, 5)))
    flows: dict[CellKey, int] = {}
    for sector in SECTORS:
        stock = 0
        for month in months:
            made = draw(_count)
            flows[(month, sector, REGISTRATIONS_MADE)] = made
            available = stock + made
            for measure in ENDED:
                ended = draw(st.integers(0, available))
                flows[(month, sector, measure)] = ended
                available -= ended
            stock = available
            flows[(month, sector, MATCHES_MADE)] = draw(_count)
    derive(flows, months, SECTORS)
    return flows, months


@settings(max_examples=150, deadline=None)
@given(grids())
def test_no_suppressed_cell_is_determined_by_the_published_cells(
    grid: tuple[dict[CellKey, int], list[str]],
) -> None:
    values, months = grid
    hidden = suppress(
        values,
        months=months,
        sectors=SECTORS,
        measures=MEASURES,
        threshold=THRESHOLD,
        identities=IDENTITIES,
    )
    for cell, value in values.items():
        if value < THRESHOLD:
            assert cell in hidden, "primary suppression"
    for cell, width in _widths(values, hidden, months, SECTORS, IDENTITIES).items():
        assert width >= 1 - 1e-6, f"{cell} is pinned to a range of {width}"


@settings(max_examples=60, deadline=None)
@given(grids(), st.integers(1, 5))
def test_a_months_pattern_does_not_depend_on_later_months(
    grid: tuple[dict[CellKey, int], list[str]], cut: int
) -> None:
    """Queries over overlapping periods show the same cells the same way: what is suppressed
    in a month is fixed once the month is in the grid."""
    values, months = grid
    cut = min(cut, len(months))
    args = {
        "sectors": SECTORS,
        "measures": MEASURES,
        "threshold": THRESHOLD,
        "identities": IDENTITIES,
    }
    whole = suppress(values, months=months, **args)  # type: ignore[arg-type]
    prefix = suppress(values, months=months[:cut], **args)  # type: ignore[arg-type]
    assert {c for c in whole if c[0] in months[:cut]} == prefix


def test_an_isolated_small_count_gets_a_complement() -> None:
    """Active 4 of 15 made and 11 ended as resolved: publishing made and the ended cells would
    give active by subtraction, so the smallest flow that can absorb it is suppressed too."""
    month = "2026-03"
    values: dict[CellKey, int] = {
        (month, "police", REGISTRATIONS_MADE): 15,
        (month, "police", "registrations_ended_risk_resolved"): 11,
    }
    derive(values, [month], ["police"])
    assert values[(month, "police", REGISTRATIONS_ACTIVE)] == 4
    hidden = suppress(
        values,
        months=[month],
        sectors=["police"],
        measures=MEASURES,
        threshold=THRESHOLD,
        identities=IDENTITIES,
    )
    assert (month, "police", REGISTRATIONS_ACTIVE) in hidden
    assert (month, "police", "registrations_ended_risk_resolved") in hidden
    assert (month, "police", REGISTRATIONS_MADE) not in hidden


@pytest.mark.parametrize("threshold", [0, 1, 4])
def test_a_threshold_below_five_is_refused(threshold: int) -> None:
    with pytest.raises(ValueError, match="never below 5"):
        suppress({}, months=[], sectors=[], measures=[], threshold=threshold)
