"""A parent's or guardian's rights (AVG art. 15 and 17, ADR 0024), exercised by the
municipality's privacy officer: what names the parent, what may be disclosed to them, and the
removal of their links with the family matches that rest on them."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select

from notifier import OutboxEvent
from tests.conftest import Caller, make_bsn
from tests.verwijsindex.families.test_family_match import register
from tests.verwijsindex.helpers import privacy_officer_headers
from verwijsindex.context import AppContext
from verwijsindex.families.models import FamilyMatch, FamilyMatchStatus
from verwijsindex.registrations.models import RegistrationParent

SHARED, OWN, UNKNOWN = make_bsn(700), make_bsn(701), make_bsn(702)
KIDS = [make_bsn(710 + i) for i in range(3)]


async def _family(
    client: httpx.AsyncClient, callers: list[Caller]
) -> tuple[list[dict[str, Any]], str]:
    """Kid 0 (caller 0) names SHARED and OWN, kid 1 (caller 1) SHARED, kid 2 (caller 2) OWN:
    one family match of the three (kid 1 through SHARED, kid 2 through OWN)."""
    regs = [
        await register(client, callers[0], KIDS[0], SHARED, OWN),
        await register(client, callers[1], KIDS[1], SHARED),
        await register(client, callers[2], KIDS[2], OWN),
    ]
    family_id = regs[2]["family_match_id"]
    assert family_id is not None and regs[1]["family_match_id"] == family_id
    return regs, family_id


async def _inform(
    client: httpx.AsyncClient, caller: Caller, reg: str, body: dict[str, Any]
) -> None:
    r = await client.post(f"/v1/registrations/{reg}/informing", json=body, headers=caller.headers)
    assert r.status_code == 201, r.text


async def _access(client: httpx.AsyncClient, officer: dict[str, str], bsn: str) -> httpx.Response:
    return await client.post("/v1/subject-access/parent", json={"bsn": bsn}, headers=officer)


class TestParentAccess:
    async def test_lists_what_names_the_parent_and_discloses_only_what_parents_were_told(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        regs, family_id = await _family(client, callers)
        await _inform(
            client,
            callers[0],
            regs[0]["id"],
            {"status": "informed", "informed": ["youth", "parents"], "informed_on": "2026-03-02"},
        )
        await _inform(  # kid 1's parents are not told yet, to protect the youth
            client,
            callers[1],
            regs[1]["id"],
            {"status": "postponed", "reason": "safety_youth", "revisit_on": "2026-04-01"},
        )
        officer = await privacy_officer_headers(ctx)

        r = await _access(client, officer, SHARED)
        assert r.status_code == 200, r.text
        links = {link["registration"]["id"]: link for link in r.json()["links"]}
        assert set(links) == {regs[0]["id"], regs[1]["id"]}
        told, withheld = links[regs[0]["id"]], links[regs[1]["id"]]
        assert told["disclose"] is True and told["informing"]["parents_informed"] is True
        assert told["registration"]["organisation"]["id"] == callers[0].organisation_id
        assert withheld["disclose"] is False
        assert withheld["informing"]["status"] == "postponed"
        assert withheld["informing"]["revisit_on"] == "2026-04-01"
        assert {link["family_match"]["id"] for link in links.values()} == {family_id}
        assert SHARED not in r.text and "p1." not in r.text

        # Nothing recorded yet: withheld as well.
        own = (await _access(client, officer, OWN)).json()["links"]
        by_id = {link["registration"]["id"]: link["disclose"] for link in own}
        assert by_id == {regs[0]["id"]: True, regs[2]["id"]: False}
        assert (await _access(client, officer, UNKNOWN)).json() == {"links": []}

    async def test_the_request_is_in_the_access_log_under_the_parents_pseudonym(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _family(client, callers)
        officer = await privacy_officer_headers(ctx)
        assert (await _access(client, officer, SHARED)).status_code == 200
        log = await client.get("/v1/audit/access-log?operation=subject-access", headers=officer)
        assert log.status_code == 200, log.text
        [entry] = log.json()["items"]
        assert entry["subject_ref_type"] is None and entry["subject_pseudonym"]
        assert SHARED not in log.text

    async def test_a_youth_by_the_parents_number_is_not_a_parent(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        # A registration of the parent as a youth holds nothing of them as a parent.
        await register(client, callers[0], SHARED)
        officer = await privacy_officer_headers(ctx)
        assert (await _access(client, officer, SHARED)).json() == {"links": []}

    async def test_an_invalid_number_is_422_without_echo(
        self, client: httpx.AsyncClient, ctx: AppContext
    ) -> None:
        wrong = SHARED[:8] + str((int(SHARED[8]) + 1) % 10)
        officer = await privacy_officer_headers(ctx)
        r = await _access(client, officer, wrong)
        assert r.status_code == 422 and wrong not in r.text


class TestParentErasure:
    async def test_links_go_and_the_family_match_is_looked_at_again(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        regs, family_id = await _family(client, callers)
        officer = await privacy_officer_headers(ctx)
        body = {"bsn": SHARED, "reason": "unlawful-processing", "request_reference": "AVG-7"}
        r = await client.post("/v1/subject-erasure/parent", json=body, headers=officer)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["unlinked_registrations"] == 2 and out["family_matches_changed"] == 1
        assert out["request_reference"] == "AVG-7" and SHARED not in r.text

        async with ctx.database.read() as s:
            links = (await s.execute(select(RegistrationParent))).scalars().all()
            family = await s.get(FamilyMatch, family_id)
            left = (
                await s.execute(
                    select(OutboxEvent.organisation_id, OutboxEvent.payload).where(
                        OutboxEvent.event_type == "family_match.participant_left"
                    )
                )
            ).all()
        # Only OWN's links remain: kid 0 and kid 2 still share a parent, kid 1 leaves.
        assert sorted(link.registration_id for link in links) == sorted(
            [regs[0]["id"], regs[2]["id"]]
        )
        assert family is not None and family.status == FamilyMatchStatus.OPEN
        assert {o for o, _ in left} == {c.organisation_id for c in callers}
        assert {json.loads(p)["data"]["registration_id"] for _, p in left} == {
            r["id"] for r in regs
        }
        r = await client.get(f"/v1/family-matches/{family_id}", headers=callers[0].headers)
        left_at = {p["organisation"]["id"]: p["left_at"] for p in r.json()["participants"]}
        assert left_at[callers[1].organisation_id] is not None  # kid 1's organisation left
        assert left_at[callers[2].organisation_id] is None
        for reg, caller in zip(regs, callers, strict=True):  # the registrations stay
            read = await client.get(f"/v1/registrations/{reg['id']}", headers=caller.headers)
            assert read.json()["status"] == "active"
        assert (await _access(client, officer, SHARED)).json() == {"links": []}

        # Then OWN's: no pair is left, the family match closes.
        body = {**body, "bsn": OWN}
        r = await client.post("/v1/subject-erasure/parent", json=body, headers=officer)
        assert r.json()["unlinked_registrations"] == 2
        async with ctx.database.read() as s:
            family = await s.get(FamilyMatch, family_id)
        assert family is not None and family.status == FamilyMatchStatus.CLOSED

    async def test_nothing_to_remove_is_a_recorded_no_op(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        await _family(client, callers)
        officer = await privacy_officer_headers(ctx)
        body = {"bsn": UNKNOWN, "reason": "data-subject-request", "request_reference": "AVG-8"}
        r = await client.post("/v1/subject-erasure/parent", json=body, headers=officer)
        assert r.status_code == 200
        assert (r.json()["unlinked_registrations"], r.json()["family_matches_changed"]) == (0, 0)
        log = await client.get("/v1/audit/access-log?operation=subject-erasure", headers=officer)
        assert len(log.json()["items"]) == 1
