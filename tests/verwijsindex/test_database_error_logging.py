"""Database errors in the server log: never a statement's parameters or a driver's message.

Issue 14, finding 7: a database error during a registration wrote the youth's pseudonym, the
registration id, the organisation and the professional into the server log (SQLAlchemy's
``[parameters: …]``; asyncpg also puts values in its messages).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from crypto import parse_bsn
from tests.conftest import Caller, make_bsn, registration_body
from verwijsindex.context import AppContext
from verwijsindex.logging import configure_logging, format_exception_without_values

_SQLITE_TRIGGER = """
CREATE TRIGGER refuse_registrations BEFORE INSERT ON registrations
BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END
"""
# On PostgreSQL the trigger puts the row's values in the message and its detail, as drivers
# and the server do for some errors (a unique violation's "Key (…)=(…)").
_PG_FUNCTION = """
CREATE FUNCTION refuse_registration() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'refused % of %', NEW.pseudonym, NEW.professional_id
    USING DETAIL = 'Key (id, organisation_id)=(' || NEW.id || ', ' || NEW.organisation_id || ')';
END $$ LANGUAGE plpgsql
"""
_PG_TRIGGER = """
CREATE TRIGGER refuse_registrations BEFORE INSERT ON registrations
FOR EACH ROW EXECUTE FUNCTION refuse_registration()
"""
_UUID_PART = re.compile(r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-", re.IGNORECASE)


def _without_own_ids(line: dict[str, Any]) -> str:
    """A log line without the two fields that name the service's own ids by design."""
    return json.dumps({k: v for k, v in line.items() if k not in ("request_id", "organisation_id")})


class TestDatabaseErrorsInTheLog:
    async def test_failed_registration_logs_no_pseudonym_or_ids(
        self,
        app: FastAPI,
        callers: list[Caller],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        configure_logging(level="info", json=True)
        ctx: AppContext = app.state.ctx
        async with ctx.database.transaction() as session:
            if ctx.database.dialect == "sqlite":
                await session.execute(text(_SQLITE_TRIGGER))
            else:
                await session.execute(text(_PG_FUNCTION))
                await session.execute(text(_PG_TRIGGER))
        bsn = make_bsn(31)
        capsys.readouterr()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.post(
                "/v1/registrations", json=registration_body(bsn), headers=callers[0].headers
            )
        assert r.status_code == 500
        logged = capsys.readouterr().err
        lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
        errors = [line for line in lines if line.get("event") == "unhandled_error"]
        assert errors and "exception" in errors[0]
        exception = errors[0]["exception"]
        # What is not: the youth's pseudonyms, the ids of the registration, professional and
        # organisation, the driver's message.
        parsed = parse_bsn(bsn)
        secrets = [
            ctx.keys.pseudonymise(parsed),
            ctx.keys.access_log_subject(parsed, callers[0].organisation_id),
            callers[0].professional_id,
            callers[0].organisation_id,
            "refused",
            "parameters:",
        ]
        for line in lines:
            text_of_line = _without_own_ids(line)
            for secret in secrets:
                assert secret not in text_of_line, (secret, text_of_line)
            assert _UUID_PART.search(text_of_line) is None, text_of_line
        # What an operator needs is there: the kind of error and the statement.
        assert "database error; message and parameters withheld" in exception
        assert "INSERT INTO registrations" in exception


class TestFormatting:
    async def test_driver_messages_with_values_are_withheld(
        self, database_url: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        engine = create_async_engine(database_url)  # parameters not hidden: the worst case
        caught: list[DBAPIError] = []
        secret = "-".join(("SECRET", "ONE"))  # not in a source line the traceback shows
        try:
            async with engine.connect() as connection:
                await connection.execute(text("CREATE TEMP TABLE t (a VARCHAR(40) PRIMARY KEY)"))
                await connection.execute(text("INSERT INTO t VALUES (:a)"), {"a": secret})
                try:
                    await connection.execute(text("INSERT INTO t VALUES (:a)"), {"a": secret})
                except DBAPIError as exc:
                    caught.append(exc)
                await connection.rollback()
        finally:
            await engine.dispose()
        (exc,) = caught
        assert secret in str(exc)  # SQLAlchemy's own text has it
        rendered = format_exception_without_values((type(exc), exc, exc.__traceback__))
        assert secret not in rendered
        assert "INSERT INTO t VALUES" in rendered and "Traceback" in rendered
        assert "IntegrityError" in rendered
        if "postgresql" in database_url:
            assert "sqlstate=23505" in rendered and "constraint=t_pkey" in rendered
        else:
            assert "sqlite=SQLITE_CONSTRAINT_PRIMARYKEY" in rendered
        # The standard library's records (uvicorn's, SQLAlchemy's) are rendered the same way.
        configure_logging(level="info", json=True)
        logging.getLogger("some.library").error("failed", exc_info=exc)
        logged = capsys.readouterr().err
        assert "withheld" in logged and secret not in logged

    def test_other_exceptions_keep_their_message_and_chain(self) -> None:
        try:
            try:
                raise KeyError("inner")
            except KeyError as inner:
                raise ValueError("outer") from inner
        except ValueError as exc:
            rendered = format_exception_without_values((type(exc), exc, exc.__traceback__))
        assert "KeyError: 'inner'" in rendered and "ValueError: outer" in rendered
        assert "direct cause" in rendered
        assert rendered.index("KeyError") < rendered.index("ValueError")
