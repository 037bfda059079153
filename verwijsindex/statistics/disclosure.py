"""Disclosure control of the published figures (docs/statistics.md, "Disclosure control").

Pure functions over one municipality's fixed grid of cells: month × sector × measure, every
closed month from the statistics epoch on. What is published of a cell depends on the grid
only, never on the period or the set of municipalities asked for, so two queries cannot be
differenced: an overlapping query shows the same cells the same way.

- **Primary suppression**: every count below the threshold (zero included) is suppressed.
- **Secondary suppression** for the one structural identity among the published measures,
  per municipality and sector: the stock of active registrations moves by the flows,
  ``active(m) = active(m-1) + made(m) - sum of ended(m, reason)``. For each month, in month
  order, complementary cells among that month's flows (made and ended, which appear in no
  other equation) are suppressed until every suppressed cell of the equation has a
  *partner*: another suppressed flow cell that can absorb a change of one in it. Then each
  suppressed cell can be one larger (or smaller) in a solution that fits every published
  cell, every identity and non-negativity: none is determined by what is published.
  A month's pattern depends on its own counts and on the months before it only, so it
  never changes once the month is closed.

No other linear relation among published cells exists: no totals or margins are published
(only the cells), the measures of different sources are counted independently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

CellKey = tuple[str, str, str]
"""(month ``YYYY-MM``, sector, measure)"""

MINIMUM_THRESHOLD = 5


@dataclass(frozen=True)
class StockAndFlows:
    """A stock measure and the flows that move it: ``stock(m) = stock(m-1) + inflow(m) -
    sum(outflows(m))``; the stock before the first month of the grid is zero."""

    stock: str
    inflow: str
    outflows: tuple[str, ...]

    def equation(self, months: Sequence[str], index: int, sector: str) -> dict[CellKey, int]:
        """The identity of month ``months[index]`` as cell → coefficient (sums to zero)."""
        month = months[index]
        cells: dict[CellKey, int] = {
            (month, sector, self.stock): 1,
            (month, sector, self.inflow): -1,
        }
        for outflow in self.outflows:
            cells[(month, sector, outflow)] = 1
        if index > 0:
            cells[(months[index - 1], sector, self.stock)] = -1
        return cells

    def private(self, month: str, sector: str) -> list[CellKey]:
        """The cells of the month's equation that appear in no other equation (the flows)."""
        return [(month, sector, self.inflow), *((month, sector, o) for o in self.outflows)]


def suppress(
    values: Mapping[CellKey, int],
    *,
    months: Sequence[str],
    sectors: Iterable[str],
    measures: Iterable[str],
    threshold: int,
    identities: Sequence[StockAndFlows] = (),
) -> set[CellKey]:
    """The cells to suppress in the grid ``months × sectors × measures`` (a missing value is
    zero). ``months`` must be consecutive and start at the epoch."""
    if threshold < MINIMUM_THRESHOLD:
        raise ValueError(f"the suppression threshold is never below {MINIMUM_THRESHOLD}")
    measures = list(measures)
    sectors = list(sectors)
    suppressed = {
        (month, sector, measure)
        for month in months
        for sector in sectors
        for measure in measures
        if values.get((month, sector, measure), 0) < threshold
    }
    for identity in identities:
        for sector in sectors:
            for index, month in enumerate(months):
                _complement(
                    values,
                    suppressed,
                    identity.equation(months, index, sector),
                    identity.private(month, sector),
                )
    return suppressed


def _complement(
    values: Mapping[CellKey, int],
    suppressed: set[CellKey],
    equation: Mapping[CellKey, int],
    private: Sequence[CellKey],
) -> None:
    """Suppress private cells of ``equation`` until every suppressed cell has a partner."""
    private_set = set(private)
    while True:
        lonely = next(
            (
                cell
                for cell in sorted(c for c in equation if c in suppressed)
                if not _has_partner(values, suppressed, equation, private, cell, private_set)
            ),
            None,
        )
        if lonely is None:
            return
        candidates = [
            cell
            for cell in private
            if cell not in suppressed
            and _partners(values, equation, lonely, cell, movable_down=lonely in private_set)
        ]
        if not candidates:  # pragma: no cover - every flow suppressed always has partners
            raise RuntimeError("no complementary cell left")
        suppressed.add(min(candidates, key=lambda c: (values.get(c, 0), c)))


def _has_partner(
    values: Mapping[CellKey, int],
    suppressed: set[CellKey],
    equation: Mapping[CellKey, int],
    private: Sequence[CellKey],
    cell: CellKey,
    private_set: set[CellKey],
) -> bool:
    movable_down = cell in private_set
    return any(
        other != cell
        and other in suppressed
        and _partners(values, equation, cell, other, movable_down=movable_down)
        for other in private
    )


def _partners(
    values: Mapping[CellKey, int],
    equation: Mapping[CellKey, int],
    cell: CellKey,
    other: CellKey,
    *,
    movable_down: bool,
) -> bool:
    """Whether ``other`` (a flow) can absorb a change of one in ``cell`` keeping the
    equation and non-negativity: ``cell`` one up (always possible) with ``other`` one up
    (opposite sign) or one down (same sign, needs ``other`` ≥ 1); or, for a flow, ``cell`` one
    down (needs ``cell`` ≥ 1) with ``other`` one down (opposite sign, needs ``other`` ≥ 1) or
    one up (same sign). A stock cell moves up only: it is in the next month's equation too,
    whose own partner then moves up as well."""
    same_sign = equation[cell] == equation[other]
    if not same_sign or values.get(other, 0) >= 1:
        return True
    return movable_down and values.get(cell, 0) >= 1
