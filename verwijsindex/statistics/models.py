"""The statistics rollup: counts per municipality, month, sector and measure, and how far the
rollup has counted. Counts only; nothing at the level of a youth, an organisation or a
professional."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from verwijsindex.storage.base import Base


class StatisticsCell(Base):
    """One count. Rows are only ever added to (the rollup adds each window's counts)."""

    __tablename__ = "statistics_cells"

    municipality: Mapped[str] = mapped_column(String(4), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    sector: Mapped[str] = mapped_column(String(40), primary_key=True)
    measure: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class StatisticsRollup(Base):
    """The rollup's watermark (one row): every source row stamped at or before
    ``counted_through`` has been counted, and nothing stamped later. ``epoch`` is the first
    month of the grid (the month of the oldest source row at the first rollup)."""

    __tablename__ = "statistics_rollup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    epoch: Mapped[str | None] = mapped_column(String(7))
    counted_through: Mapped[datetime | None]
