"""Property-based API testing with schemathesis against the app's own OpenAPI schema.

In-process (ASGI), on SQLite, authenticated as a professional with a valid
``X-Professional-Id`` (as the organisation's org-admin for ``/v1/api-keys``). Positive and
negative cases for every operation. Checks: no 5xx; responses conform to the documented
schemas, content types and status codes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Caller, make_caller
from verwijsindex.clock import SystemClock
from verwijsindex.context import build_context
from verwijsindex.http.app import create_app
from verwijsindex.settings import Settings
from verwijsindex.storage.migrate import upgrade

EXAMPLES_PER_MODE = 600
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
]


def _seed(app_settings: Settings) -> tuple[Caller, dict[str, str]]:
    """A professional's organisation and a municipality-admin's key (of municipality 0363)."""

    async def main() -> tuple[Caller, dict[str, str]]:
        ctx = build_context(app_settings, clock=SystemClock())
        try:
            await upgrade(ctx.database)
            caller = await make_caller(ctx, 0)
            async with ctx.database.transaction() as session:
                municipality = await ctx.admin.create_organisation(
                    session, name="Gemeente", sector="municipality", municipality="0363"
                )
                key = await ctx.admin.create_api_key(
                    session, organisation_id=municipality.id, role="municipality-admin"
                )
            return caller, {"Authorization": f"Bearer {key.key}"}
        finally:
            await ctx.database.dispose()

    return asyncio.run(main())


@pytest.mark.slow
def test_no_server_errors_and_no_schema_violations(tmp_path: Path) -> None:
    app_settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'schemathesis.db'}",
        run_sweeper=False,
        auto_migrate=False,
    )
    caller, municipality_admin = _seed(app_settings)
    app = create_app(app_settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    headers = caller.headers
    admin = caller.admin_headers
    sent: list[int] = []
    seen: set[tuple[str, int]] = set()

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = schema.as_strategy(generation_mode=mode, headers=headers)

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES_PER_MODE,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            # Each endpoint family is called with the role it is meant for.
            path = case.operation.path
            if path.startswith(("/v1/api-keys", "/v1/webhook-", "/v1/alert-messages")):
                role_headers = admin
            elif path.startswith("/v1/audit/") or path == "/v1/statistics":
                role_headers = caller.auditor_headers
            elif path == "/v1/organisations/me/encryption-key":
                role_headers = admin
            elif path.startswith("/v1/municipalities/"):
                role_headers = municipality_admin
            else:
                role_headers = headers
            case.headers = {**(case.headers or {}), **role_headers}
            response = case.call_and_validate(checks=CHECKS)
            sent.append(response.status_code)
            seen.add((case.operation.label, response.status_code))

        run()

    assert len(sent) >= 1000
    # Each operation was reached past authentication at least once.
    reached = {label for label, status in seen if status not in (401, 403)}
    assert reached == {op.label for op in operations}, sorted(seen)
