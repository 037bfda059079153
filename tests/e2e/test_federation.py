"""Federation with three real processes on loopback: two regional indexes and a hub, each
``verwijsindex serve`` with its own database (SQLite files, or PostgreSQL databases).

A youth registered in region a and in region b becomes one cross-region match in both; a
region that is down catches up when it is back (nothing lost, no duplicate); a withdrawal
ends the cross-region match; the hub's database and log hold no BSN and no regional
pseudonym, and its federated pseudonyms come from the federation key alone."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import signal
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from crypto import PseudonymKey, parse_bsn
from tests.at_rest import database_at_rest
from tests.conftest import make_bsn, registration_body
from tests.e2e.conftest import Server, free_port, start_server
from tests.e2e.test_webhooks_e2e import organisation, wait_until
from tests.verwijsindex.federation.helpers import three_databases
from verwijsindex.federation.keys import FederationKeys, bsn_input

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAST = {
    "VERWIJSINDEX_FEDERATION_POLL_INTERVAL_SECONDS": "0.1",
    "VERWIJSINDEX_FEDERATION_RETRY_MAX_SECONDS": "0.5",
    "VERWIJSINDEX_FEDERATION_TIMEOUT_SECONDS": "2",
}


@dataclass
class Federation:
    hub: Server
    regions: dict[str, Server]
    envs: dict[str, dict[str, str]]
    urls: dict[str, str]
    dirs: dict[str, Path]
    ports: dict[str, int]
    federation_key: str
    hub_port: int

    def restart(self, name: str) -> Server:
        self.regions[name] = start_server(
            self.urls[name], self.dirs[name], port=self.ports[name], **self.envs[name]
        )
        return self.regions[name]

    def stop(self) -> None:
        for server in [*self.regions.values(), self.hub]:
            server.stop()


@pytest.fixture
def federation(backend: str, db_templates: dict, tmp_path: Path) -> Iterator[Federation]:  # type: ignore[type-arg]
    for urls in three_databases(backend, db_templates[backend].template, tmp_path):
        hub_port = free_port()
        hub = start_server(
            urls["hub"], tmp_path / "hub", port=hub_port, command=("hub", "serve"), **FAST
        )
        ports = {"a": free_port(), "b": free_port()}
        federation_key = base64.b64encode(secrets.token_bytes(32)).decode()
        envs: dict[str, dict[str, str]] = {}
        for name in ("a", "b"):
            issued = json.loads(
                hub.cli(
                    "hub",
                    "add-region",
                    "--region",
                    name,
                    "--callback-url",
                    f"http://127.0.0.1:{ports[name]}",
                ).stdout
            )
            envs[name] = {
                "VERWIJSINDEX_FEDERATION_REGION_ID": name,
                "VERWIJSINDEX_FEDERATION_HUB_URL": hub.base_url,
                "VERWIJSINDEX_FEDERATION_REGION_KEY": issued["key"],
                "VERWIJSINDEX_FEDERATION_KEY": federation_key,
                # No key service in these regions: the direct path's input.
                "VERWIJSINDEX_FEDERATION_INPUT": "bsn",
                "VERWIJSINDEX_FEDERATION_SHARE_CONTACTS": "contacts"
                if name == "a"
                else "organisation",
                **FAST,
            }
        fed = Federation(
            hub=hub,
            regions={},
            envs=envs,
            urls=urls,
            dirs={n: tmp_path / n for n in ("hub", "a", "b")},
            ports=ports,
            federation_key=federation_key,
            hub_port=hub_port,
        )
        try:
            for name in ("a", "b"):
                fed.restart(name)
            yield fed
        finally:
            fed.stop()


def _register(server: Server, headers: dict[str, str], bsn: str) -> dict[str, object]:
    r = httpx.post(
        server.base_url + "/v1/registrations",
        json=registration_body(bsn),
        headers=headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _matches(server: Server, headers: dict[str, str], status: str = "all") -> list[dict]:  # type: ignore[type-arg]
    r = httpx.get(server.base_url + f"/v1/matches?status={status}", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _match(server: Server, headers: dict[str, str], match_id: str) -> dict:  # type: ignore[type-arg]
    r = httpx.get(server.base_url + f"/v1/matches/{match_id}", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _hub_rows(url: str, table: str) -> list[tuple]:  # type: ignore[type-arg]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        with sqlite3.connect(parsed.database) as conn:
            return list(conn.execute(f"SELECT * FROM {table}"))

    async def fetch() -> list[tuple]:  # type: ignore[type-arg]
        conn = await asyncpg.connect(
            host=parsed.host,
            port=parsed.port or 5432,
            user=parsed.username,
            database=parsed.database,
        )
        try:
            return [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table}")]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def _one_cross_region(server: Server, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    items = [m for m in _matches(server, headers) if m.get("scope") == "cross_region"]
    assert len(items) == 1, items
    return items[0]


def test_regions_match_across_the_hub_catch_up_and_follow_withdrawals(
    federation: Federation, tmp_path: Path
) -> None:
    a, b = federation.regions["a"], federation.regions["b"]
    a_pro, _ = organisation(a, 1)
    b_pro, _ = organisation(b, 2)
    youth, late = make_bsn(101), make_bsn(102)

    # 1. Registered in both regions → one cross-region match, the same in both.
    reg_a = _register(a, a_pro, youth)
    reg_b = _register(b, b_pro, youth)
    assert reg_a["match_id"] is None and reg_b["match_id"] is None  # no regional match
    wait_until(lambda: len(_matches(a, a_pro)) == 1 and len(_matches(b, b_pro)) == 1)
    in_a, in_b = _one_cross_region(a, a_pro), _one_cross_region(b, b_pro)
    assert in_a["id"] == in_b["id"] and in_a["status"] == "open"
    seen_from_a = _match(a, a_pro, in_a["id"])
    assert seen_from_a["scope"] == "cross_region"
    regions = {p["region"]: p for p in seen_from_a["participants"]}
    assert set(regions) == {None, "b"}
    assert regions[None]["registration_id"] == reg_a["id"]
    assert regions["b"]["organisation"]["name"] == "Org 2"
    assert regions["b"]["organisation"]["sector"] == "education"
    assert regions["b"]["professional"] is None  # region b shares organisation and sector only
    seen_from_b = _match(b, b_pro, in_b["id"])
    from_a = next(p for p in seen_from_b["participants"] if p["region"] == "a")
    # a shares contacts, but b's own setting shows organisation and sector only
    assert from_a["professional"] is None and from_a["organisation"]["name"] == "Org 1"

    # 2. Region b is down (killed) while a registration in a makes a match with b.
    late_b = _register(b, b_pro, late)
    wait_until(lambda: len(_hub_rows(federation.urls["hub"], "hub_registrations")) == 3)
    b.process.send_signal(signal.SIGKILL)
    b.process.wait(timeout=10)
    _register(a, a_pro, late)
    wait_until(lambda: len(_matches(a, a_pro)) == 2)
    wait_until(lambda: len(_hub_rows(federation.urls["hub"], "hub_outbox")) >= 1)
    b = federation.restart("b")
    wait_until(lambda: len(_matches(b, b_pro)) == 2)
    wait_until(lambda: not _hub_rows(federation.urls["hub"], "hub_outbox"))
    ids_b = [m["id"] for m in _matches(b, b_pro)]
    assert len(set(ids_b)) == 2 and {m["id"] for m in _matches(a, a_pro)} == set(ids_b)
    hub_matches = _hub_rows(federation.urls["hub"], "hub_matches")
    assert len(hub_matches) == 2  # no duplicate

    # 2b. The hub is down (killed) while both regions register a third youth: the regions'
    #     outboxes keep the hand-offs and send them when the hub is back.
    third = make_bsn(103)
    federation.hub.process.send_signal(signal.SIGKILL)
    federation.hub.process.wait(timeout=10)
    _register(a, a_pro, third)
    _register(b, b_pro, third)
    assert len(_matches(a, a_pro)) == 2  # registering did not wait for the hub
    federation.hub = start_server(
        federation.urls["hub"],
        federation.dirs["hub"],
        port=federation.hub_port,
        command=("hub", "serve"),
        **FAST,
    )
    wait_until(lambda: len(_matches(a, a_pro)) == 3 and len(_matches(b, b_pro)) == 3)
    assert len(_hub_rows(federation.urls["hub"], "hub_matches")) == 3
    assert len(_hub_rows(federation.urls["hub"], "hub_registrations")) == 6

    # 3. Region b withdraws the first youth's registration → the cross-region match ends.
    r = httpx.post(
        b.base_url + f"/v1/registrations/{reg_b['id']}/withdraw",
        json={"reason": "risk_resolved"},
        headers=b_pro,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    first = in_a["id"]
    wait_until(lambda: _match(a, a_pro, first)["status"] == "closed")
    closed = _match(a, a_pro, first)
    assert all(p["left_at"] is not None for p in closed["participants"])
    assert [m["id"] for m in _matches(a, a_pro, "open")] != [first]
    wait_until(lambda: _match(b, b_pro, first)["status"] == "closed")
    assert late_b["match_id"] is None

    # 4. The hub holds no BSN and no regional pseudonym; its federated pseudonyms are the
    #    federation key's and no region's. The regions' databases (with their federation
    #    tables) and logs hold no BSN or birth date either.
    _hub_privacy(federation, [youth, late, third])
    for name in ("a", "b"):
        federation.regions[name].stop()
        at_rest = database_at_rest(federation.urls[name])
        logs = federation.regions[name].logs().encode()
        for needle in [b.encode() for b in (youth, late, third)] + [
            registration_body()["birth_date"].encode()
        ]:
            assert not at_rest.holds(needle) and needle not in logs


def _regional_pseudonyms(federation: Federation) -> set[str]:
    values: set[str] = set()
    for name in ("a", "b"):
        values |= {str(r[1]) for r in _hub_rows(federation.urls[name], "registrations")}
        values |= {
            str(v)
            for row in _hub_rows(federation.urls[name], "access_log")
            for v in row
            if isinstance(v, str) and v[:1] in "ps" and v[1:2].isdigit() and "." in v
        }
    assert values
    return values


def _hub_privacy(federation: Federation, bsns: list[str]) -> None:
    hub_url = federation.urls["hub"]
    federation.hub.stop()
    at_rest = database_at_rest(hub_url)
    logs = federation.hub.logs().encode()
    raw = at_rest.raw + logs
    for needle in [b.encode() for b in bsns] + [registration_body()["birth_date"].encode()]:
        assert not at_rest.holds(needle) and needle not in logs
    regional = _regional_pseudonyms(federation)
    for pseudonym in regional:
        assert pseudonym.encode() not in raw
        assert pseudonym.partition(".")[2].encode() not in raw
    keys = FederationKeys.from_setting(federation.federation_key, version=1)
    stored = {str(r[3]) for r in _hub_rows(hub_url, "hub_registrations")}
    expected = {keys.federated_pseudonym(bsn_input(parse_bsn(b))) for b in bsns}
    assert stored == expected  # exactly the federation key's values
    bodies = {p.partition(".")[2] for p in regional}
    assert not bodies & {p.partition(".")[2] for p in stored}
    # Another key (say a region's master key, or a guess) gives other values.
    other = FederationKeys.from_setting(
        base64.b64encode(secrets.token_bytes(32)).decode(), version=1
    )
    assert not {other.federated_pseudonym(bsn_input(parse_bsn(b))) for b in bsns} & stored
    region_key = PseudonymKey.derive(master_key=secrets.token_bytes(32), version=1)
    assert not {region_key.pseudonymise(parse_bsn(b)) for b in bsns} & stored


def test_a_region_with_two_workers_sends_its_outbox_from_one_process(
    federation: Federation,
) -> None:
    """``serve --workers 2``: the supervising process runs the region's one federation
    worker (the worker processes do not), and its hand-offs still make the match."""
    federation.regions["a"].stop()
    a = federation.regions["a"] = start_server(
        federation.urls["a"],
        federation.dirs["a"],
        "--workers",
        "2",
        port=federation.ports["a"],
        **federation.envs["a"],
    )
    b = federation.regions["b"]
    a_pro, _ = organisation(a, 1)
    b_pro, _ = organisation(b, 2)
    youth = make_bsn(111)
    _register(a, a_pro, youth)
    _register(b, b_pro, youth)
    wait_until(lambda: len(_matches(a, a_pro)) == 1 and len(_matches(b, b_pro)) == 1)
    assert _one_cross_region(a, a_pro)["id"] == _one_cross_region(b, b_pro)["id"]
    # The log file goes on from the single process's run before (no pid in its lines).
    lines = [json.loads(line) for line in a.logs().splitlines() if line.startswith("{")]
    events = [e for e in lines if "pid" in e]
    workers = {e["pid"] for e in events if e.get("event") == "started"}
    senders = {e["pid"] for e in events if e.get("event") == "federation_worker_started"}
    assert len(workers) == 2 and senders == {a.process.pid}
