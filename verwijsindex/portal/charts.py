"""Bar charts as server-rendered SVG: the geometry is computed here, the template draws it
with SVG attributes only (the portal's CSP allows no inline script or style and no
third-party library). A suppressed count is not drawn as a bar: it is marked as suppressed,
so a chart never shows more than the table and the API publish."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 640
HEIGHT = 220
_LEFT = 48
_BOTTOM = 40
_TOP = 12


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int | None
    """None: suppressed."""
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    baseline: float
    bars: list[Bar]
    ticks: list[Tick]

    @property
    def suppressed(self) -> int:
        return sum(1 for bar in self.bars if bar.value is None)


def _nice_top(largest: int) -> int:
    """The axis' top: four ticks of 1, 2 or 5 times a power of ten, at least ``largest``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * 4 >= largest:
                return step * factor * 4
        step *= 10


def bar_chart(points: Sequence[tuple[str, int | float | None]]) -> Chart:
    """One bar per (label, value); values None are suppressed and drawn as a marker."""
    baseline = HEIGHT - _BOTTOM
    plot_height = baseline - _TOP
    values = [int(v) for _, v in points if v is not None]
    top = _nice_top(max(values, default=0))
    slot = (WIDTH - _LEFT - 8) / max(len(points), 1)
    bars = []
    for i, (label, value) in enumerate(points):
        shown = None if value is None else int(value)
        height = 0.0 if shown is None else plot_height * shown / top
        bars.append(
            Bar(
                label=label,
                value=shown,
                x=round(_LEFT + i * slot + slot * 0.15, 1),
                y=round(baseline - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
            )
        )
    ticks = [Tick(top * k // 4, round(baseline - plot_height * k / 4, 1)) for k in range(5)]
    return Chart(WIDTH, HEIGHT, _LEFT, baseline, bars, ticks)
