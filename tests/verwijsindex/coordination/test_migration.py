"""Matches open at the upgrade to 0008 get a coordination at the municipality."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from verwijsindex.settings import Settings
from verwijsindex.storage import create_database
from verwijsindex.storage.migrate import upgrade


async def test_open_matches_start_at_the_municipality(
    backend: str, tmp_path: Path, database_url: str
) -> None:
    database = create_database(Settings(data_dir=tmp_path, database_url=database_url))
    try:
        async with database.engine.begin() as c:
            await c.execute(text("DROP TABLE coordination_events"))
            await c.execute(text("DROP TABLE coordinations"))
            await c.execute(text("DROP TABLE covenant_versions"))
            await c.execute(
                text("UPDATE alembic_version SET version_num = '0007_appointed_auditors'")
            )
            now = datetime(2026, 1, 1, tzinfo=UTC)
            stamp = now if backend == "postgresql" else now.replace(tzinfo=None)
            values = {"now": stamp}
            await c.execute(
                text(
                    "INSERT INTO organisations (id, name, sector, municipality, created_at)"
                    " VALUES ('o1', 'A', 'youth-care', '0599', :now)"
                ),
                values,
            )
            await c.execute(
                text(
                    "INSERT INTO professionals (id, organisation_id, name, email, phone, active,"
                    " created_at) VALUES ('p1', 'o1', 'P', 'p@x.example', '+31 20 555 0000',"
                    " :yes, :now)"
                ),
                {**values, "yes": True},
            )
            for reg in ("r1", "r2"):
                await c.execute(
                    text(
                        "INSERT INTO registrations (id, pseudonym, key_version, organisation_id,"
                        " professional_id, municipality, status, created_at, ends_at)"
                        " VALUES (:id, :id, 1, 'o1', 'p1', '0599', 'active', :now, :now)"
                    ),
                    {**values, "id": reg},
                )
            for match, status in (("m-open", "open"), ("m-closed", "closed")):
                await c.execute(
                    text(
                        "INSERT INTO matches (id, subject_pseudonym, status, created_at)"
                        " VALUES (:id, :id, :status, :now)"
                    ),
                    {**values, "id": match, "status": status},
                )
                for reg in ("r1", "r2"):
                    await c.execute(
                        text(
                            "INSERT INTO match_participants (id, match_id, registration_id,"
                            " organisation_id, joined_at) VALUES (:id, :m, :r, 'o1', :now)"
                        ),
                        {**values, "id": f"{match}-{reg}", "m": match, "r": reg},
                    )
        # to 0008 only: the later migrations' tables are still there
        await upgrade(database, "0008_coordination")
        async with database.engine.connect() as c:
            rows = (
                await c.execute(
                    text("SELECT match_id, municipality, status, level FROM coordinations")
                )
            ).all()
        assert [tuple(r) for r in rows] == [("m-open", "0599", "escalated", 2)]
    finally:
        await database.dispose()
