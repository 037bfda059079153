"""The family match's rules (ADR 0016).

Two active registrations are *family-linked* when they name a common parent (the same parent
pseudonym), concern different youths (different youth pseudonyms) and were made by different
professionals. A family match holds the registrations connected by such links:

- a new registration linked to registrations of no family match opens one with them;
- linked to registrations of one family match, it joins it (with any linked registration not
  in it yet);
- linked to registrations of several family matches (two parents, two families that are now
  one), the oldest family match takes them all: the younger ones close with reason
  ``merged`` and their participants join the oldest;
- when a registration ends it leaves; so does every participant left without a link to another
  participant; below two participants the family match closes (``no_pair_left``). A family
  match is not split when the registration that connected two groups ends: it stays one
  until no pair is left.

Siblings registered by one professional do not link (that professional knows both), and two
registrations of one youth are the youth's own match, not a family match. Writers are
serialised by the subject locks of the youths and parents concerned and, for any change of a
family match's participants, by :func:`repo.lock_family_matches` taken after them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crypto import Pseudonym
from notifier import Event, EventType, enqueue_many
from verwijsindex.families import repository as repo
from verwijsindex.families.models import (
    FamilyCloseReason,
    FamilyMatch,
    FamilyMatchParticipant,
    FamilyMatchStatus,
)
from verwijsindex.storage.base import insert_objects, new_id


@dataclass(frozen=True, slots=True)
class Node:
    """A registration as the family rules see it."""

    registration_id: str
    youth: Pseudonym
    professional_id: str
    organisation_id: str


def linked(a: Node, b: Node) -> bool:
    return a.youth != b.youth and a.professional_id != b.professional_id


def _event(
    kind: EventType,
    family_id: str,
    organisation_id: str,
    registration_id: str,
    now: datetime,
    *,
    alerts: bool = True,
) -> Event:
    return Event(
        event_type=kind,
        organisation_id=organisation_id,
        data={"family_match_id": family_id, "registration_id": registration_id},
        occurred_at=now,
        match_id=family_id,
        alerts=alerts,
    )


@dataclass
class FamilyBatch:
    """What one write group knows of the families of its parents, and what it changes."""

    by_parent: dict[Pseudonym, list[Node]] = field(default_factory=dict)
    family_of: dict[str, str] = field(default_factory=dict)
    """Registration id → its open family match."""
    families: dict[str, FamilyMatch] = field(default_factory=dict)
    participants: dict[str, list[FamilyMatchParticipant]] = field(default_factory=dict)
    """Family match id → current participations (loaded ones are mapped and tracked by the
    session; new ones are inserted at the end)."""
    new_links: list[tuple[str, str, int]] = field(default_factory=list)
    """``(parent, registration_id, key_version)`` of the new registrations: written with the
    registrations (:func:`verwijsindex.registrations.repository.insert_registrations`), not by
    :meth:`flush`."""
    new_families: list[FamilyMatch] = field(default_factory=list)
    new_participants: list[FamilyMatchParticipant] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def add(
        self, node: Node, parents: Sequence[Pseudonym], key_version: int, now: datetime
    ) -> str | None:
        """Link a new registration to its parents; open, join or merge family matches as the
        rules say. Returns the registration's family match id, if any."""
        neighbours: dict[str, Node] = {}
        for parent in parents:
            for other in self.by_parent.setdefault(parent, []):
                if linked(node, other):
                    neighbours.setdefault(other.registration_id, other)
            self.by_parent[parent].append(node)
            self.new_links.append((parent, node.registration_id, key_version))
        if not neighbours:
            return None
        found = {self.family_of[r] for r in neighbours if r in self.family_of}
        ordered = sorted((self.families[f] for f in found), key=lambda f: (f.created_at, f.id))
        family = ordered[0] if ordered else self._open(now)
        created = not self.participants[family.id]
        # Everyone of a younger family match joins the oldest, not only the linked ones.
        newcomers = {r: o for younger in ordered[1:] for r, o in self._merge(younger, family, now)}
        for n in [*neighbours.values(), node]:
            if self.family_of.get(n.registration_id) != family.id:
                newcomers.setdefault(n.registration_id, n.organisation_id)
        current = self.participants.setdefault(family.id, [])
        for registration_id, organisation_id in newcomers.items():
            participant = FamilyMatchParticipant(
                id=new_id(),
                family_match_id=family.id,
                registration_id=registration_id,
                organisation_id=organisation_id,
                joined_at=now,
                left_at=None,
            )
            self.new_participants.append(participant)
            current.append(participant)
            self.family_of[registration_id] = family.id
        kind = (
            EventType.FAMILY_MATCH_CREATED if created else EventType.FAMILY_MATCH_PARTICIPANT_JOINED
        )
        # Every participant's systems are told; by e-mail only those for whom it is new.
        self.events.extend(
            _event(
                kind,
                family.id,
                p.organisation_id,
                p.registration_id,
                now,
                alerts=p.registration_id in newcomers,
            )
            for p in current
        )
        return family.id

    def _open(self, now: datetime) -> FamilyMatch:
        family = FamilyMatch(
            id=new_id(),
            status=FamilyMatchStatus.OPEN,
            created_at=now,
            closed_at=None,
            close_reason=None,
        )
        self.new_families.append(family)
        self.families[family.id] = family
        self.participants[family.id] = []
        return family

    def _merge(
        self, younger: FamilyMatch, older: FamilyMatch, now: datetime
    ) -> list[tuple[str, str]]:
        """Close ``younger``; its participants (``(registration_id, organisation_id)``,
        returned) become newcomers of ``older``."""
        moved: list[tuple[str, str]] = []
        younger.status = FamilyMatchStatus.CLOSED
        younger.closed_at = now
        younger.close_reason = FamilyCloseReason.MERGED
        for p in self.participants.pop(younger.id, []):
            p.left_at = now
            self.family_of.pop(p.registration_id, None)
            moved.append((p.registration_id, p.organisation_id))
            self.events.append(
                Event(
                    event_type=EventType.FAMILY_MATCH_CLOSED,
                    organisation_id=p.organisation_id,
                    data={
                        "family_match_id": younger.id,
                        "registration_id": p.registration_id,
                        "reason": str(FamilyCloseReason.MERGED),
                    },
                    occurred_at=now,
                    match_id=younger.id,
                )
            )
        del self.families[younger.id]
        return moved

    @property
    def changes_rows(self) -> bool:
        """Whether :meth:`flush` writes family rows (which refer to registrations)."""
        return bool(self.families or self.new_families or self.new_participants)

    async def flush(self, session: AsyncSession) -> None:
        """Write the batch: changes to loaded rows first (a participant leaves its old family
        match before it joins another), then the new rows."""
        if self.families:  # loaded (and possibly changed) rows are tracked by the session
            await session.flush()
        await insert_objects(session, self.new_families)
        await insert_objects(session, self.new_participants)
        await enqueue_many(session, self.events)


class FamilyIndex:
    """Loads what a write group needs to know of its parents' families, and ends
    registrations' part in them."""

    async def load(
        self,
        session: AsyncSession,
        named: Mapping[Pseudonym, Sequence[tuple[Pseudonym, str]]],
        found: Sequence[tuple[Pseudonym, str]],
        known: Mapping[str, Node],
    ) -> FamilyBatch:
        """What the write needs of the active registrations naming its parents and of their
        family matches. ``named``: each parent the write names → the (youth, professional) of
        each new registration naming it; ``found``: ``(parent, registration_id)`` of the
        registrations naming those parents, oldest first, as read after the subject locks
        (with the youths' registrations:
        :func:`verwijsindex.registrations.repository.active_registrations_with_open_match`);
        ``known``: registrations the write has read already (its youths' active ones), which
        are not read again.

        A registration found naming a parent counts only if it links (:func:`linked`) with
        a new registration naming that parent; usually none does (no parent named before, or
        only by the same youth's other registrations, as when a second professional registers
        a youth), and then nothing more is read and no family lock is taken. Otherwise the
        family lock is taken (after the caller's subject locks of the parents) before the
        family matches are read."""
        batch = FamilyBatch()
        if not found:
            return batch
        unknown = sorted({registration_id for _, registration_id in found} - known.keys())
        nodes = dict(known)
        for (
            registration_id,
            youth,
            professional_id,
            organisation_id,
        ) in await repo.linked_registrations(session, unknown):
            nodes[registration_id] = Node(registration_id, youth, professional_id, organisation_id)
        for parent, registration_id in found:
            node = nodes.get(registration_id)  # absent: the registration is not active
            if node is not None and any(
                youth != node.youth and professional != node.professional_id
                for youth, professional in named[parent]
            ):
                batch.by_parent.setdefault(parent, []).append(node)
        if not batch.by_parent:
            return batch
        await repo.lock_family_matches(session)
        family_of = await repo.open_families_of_registrations(
            session, sorted({n.registration_id for ns in batch.by_parent.values() for n in ns})
        )
        batch.family_of = dict(family_of)
        ids = sorted(set(family_of.values()))
        for family in await repo.family_matches(session, ids):
            batch.families[family.id] = family
        for participant in await repo.current_participations(session, family_ids=ids):
            batch.participants.setdefault(participant.family_match_id, []).append(participant)
        return batch

    async def end(
        self, session: AsyncSession, registration_ids: Sequence[str], now: datetime
    ) -> None:
        """The registrations have ended: delete their parents' links; they leave their family
        matches, as does every participant left without a link; a family match below two
        participants closes. The caller holds the subject locks of the registrations' youths
        and parents."""
        if not registration_ids:
            return
        await repo.delete_parent_links(session, registration_ids)
        if not await repo.open_families_of_registrations(session, registration_ids):
            return
        await repo.lock_family_matches(session)
        leaving = await repo.current_participations(session, registration_ids=registration_ids)
        events: list[Event] = []
        for family_id in sorted({p.family_match_id for p in leaving}):
            await self._leave(
                session,
                family_id,
                [p for p in leaving if p.family_match_id == family_id],
                now,
                events,
            )
        await session.flush()
        await enqueue_many(session, events)

    async def unlink_parent(
        self, session: AsyncSession, parents: Sequence[Pseudonym], now: datetime
    ) -> tuple[list[str], int]:
        """A parent's links are removed (a privacy officer's erasure for the parent): delete
        the links under ``parents`` (one person's pseudonyms, every version and path), then
        each open family match a linked registration takes part in is looked at again, as
        when a participant leaves (participants left without a link leave; below two, it
        closes). Returns the registrations that named the parent and the family matches
        looked at. The caller holds the subject locks of ``parents``."""
        registration_ids = await repo.delete_links_of_parents(session, parents)
        family_ids = sorted(
            set((await repo.open_families_of_registrations(session, registration_ids)).values())
        )
        if not family_ids:
            return registration_ids, 0
        await repo.lock_family_matches(session)
        events: list[Event] = []
        for family_id in family_ids:
            await self._leave(session, family_id, [], now, events)
        await session.flush()
        await enqueue_many(session, events)
        return registration_ids, len(family_ids)

    async def _leave(
        self,
        session: AsyncSession,
        family_id: str,
        leaving: list[FamilyMatchParticipant],
        now: datetime,
        events: list[Event],
    ) -> None:
        for p in leaving:
            p.left_at = now
        await session.flush()
        members = await repo.members(session, family_id)
        current = {
            p.registration_id: p
            for p in await repo.current_participations(session, family_ids=[family_id])
        }
        nodes = {
            m.registration_id: (Node(m.registration_id, m.youth, m.professional_id, ""), m.parents)
            for m in members
        }
        keep = {
            r
            for r, (node, parents) in nodes.items()
            if any(
                o != r and parents & other_parents and linked(node, other)
                for o, (other, other_parents) in nodes.items()
            )
        }
        family = await session.get(FamilyMatch, family_id)
        assert family is not None
        gone = [p for r, p in current.items() if r not in keep]
        stay = [p for r, p in current.items() if r in keep]
        for p in gone:
            p.left_at = now
        if len(stay) < 2:
            family.status = FamilyMatchStatus.CLOSED
            family.closed_at = now
            family.close_reason = FamilyCloseReason.NO_PAIR_LEFT
            for p in stay:
                p.left_at = now
            events.extend(
                Event(
                    event_type=EventType.FAMILY_MATCH_CLOSED,
                    organisation_id=p.organisation_id,
                    data={
                        "family_match_id": family_id,
                        "registration_id": p.registration_id,
                        "reason": str(FamilyCloseReason.NO_PAIR_LEFT),
                    },
                    occurred_at=now,
                    match_id=family_id,
                )
                for p in [*gone, *stay]
            )
            return
        events.extend(
            _event(
                EventType.FAMILY_MATCH_PARTICIPANT_LEFT,
                family_id,
                p.organisation_id,
                p.registration_id,
                now,
            )
            for p in [*gone, *stay]
        )
