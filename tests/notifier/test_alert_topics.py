"""Which events alert and what they say: every event that names a registration alerts (event
types added later too, with the generic text), the quiet ones do not, and every text is the
same for every alert of its topic (nothing variable but the portal's address)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiosmtplib
import pytest
from sqlalchemy import select

from notifier import (
    ALERTS,
    QUIET_EVENT_TYPES,
    AlertMessage,
    AlertTopic,
    Event,
    EventType,
    alert_texts,
    alert_topic,
    classify_smtp_error,
    enqueue_many,
    render_alert,
)
from verwijsindex.settings import Settings
from verwijsindex.storage import create_database

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event_type", "data", "topic"),
    [
        ("match.created", {"match_id": "m", "registration_id": "r"}, AlertTopic.NEW_MATCH),
        (
            "match.participant_joined",
            {"match_id": "m", "registration_id": "r", "participant_registration_id": "r"},
            AlertTopic.NEW_MATCH,
        ),
        (
            "match.participant_joined",
            {"match_id": "m", "registration_id": "r", "participant_registration_id": "s"},
            AlertTopic.PARTICIPANT_JOINED,
        ),
        ("family_match.created", {"registration_id": "r"}, AlertTopic.NEW_FAMILY_MATCH),
        ("family_match.participant_joined", {"registration_id": "r"}, AlertTopic.NEW_FAMILY_MATCH),
        ("family_match.participant_left", {"registration_id": "r"}, None),
        ("family_match.closed", {"registration_id": "r"}, None),
        ("coordination.proposed", {"registration_id": "r"}, AlertTopic.COORDINATION),
        ("coordination.handed_over", {"registration_id": "r"}, AlertTopic.COORDINATION),
        ("coordination.escalated", {"registration_id": "r"}, AlertTopic.COORDINATION),
        ("coordination.reminder", {"registration_id": "r"}, AlertTopic.COORDINATION),
        ("coordination.escalated", {"match_id": "m"}, None),  # the municipality's copy
        ("coordination.accepted", {"registration_id": "r"}, None),
        ("coordination.declined", {"registration_id": "r"}, None),
        ("coordination.de_escalated", {"registration_id": "r"}, None),
        ("coordination.closed", {"registration_id": "r"}, None),
        ("coordination.confirmed", {"registration_id": "r"}, None),
        ("registration.inform_due", {"registration_id": "r"}, AlertTopic.INFORM_DUE),
        ("registration.expiring", {"registration_id": "r"}, AlertTopic.EXPIRING),
        ("registration.earlier_involvement", {"registration_id": "r"}, None),
        ("something.new", {"registration_id": "r"}, AlertTopic.OTHER),
        ("match.closed", {"match_id": "m", "registration_id": "r"}, None),
        ("match.participant_left", {"registration_id": "r"}, None),
        ("registration.ended", {"registration_id": "r", "reason": "expired"}, None),
        ("match.created", {"match_id": "m"}, None),  # addressed to no registration
    ],
)
def test_topic_of_each_event(
    event_type: str, data: dict[str, Any], topic: AlertTopic | None
) -> None:
    assert alert_topic(event_type, data) == topic


def test_every_known_event_type_is_decided() -> None:
    alerting = {str(t) for t in EventType} - QUIET_EVENT_TYPES
    assert alerting == {
        "match.created",
        "match.participant_joined",
        "family_match.created",
        "family_match.participant_joined",
        "coordination.proposed",
        "coordination.handed_over",
        "coordination.escalated",
        "coordination.reminder",
        "registration.inform_due",
        "registration.expiring",
    }
    # Every alerting type has a text of its own, not the generic one.
    for event_type in alerting:
        topic = alert_topic(event_type, {"registration_id": "r"})
        assert topic is not None and topic is not AlertTopic.OTHER, event_type


@pytest.mark.parametrize("topic", [*(str(t) for t in AlertTopic), "unknown-topic"])
def test_each_text_is_fixed_dutch_first_and_carries_only_the_portal_link(topic: str) -> None:
    message = render_alert(
        topic,
        message_id="alr_1",
        sender="vi@gemeente.test",
        recipient="p@org.test",
        portal_url="https://portal.test/portal/",
        now=NOW,
    )
    subject, dutch, english = alert_texts(topic)
    assert message["Subject"] == subject and subject.startswith("Verwijsindex: ")
    assert message["Message-ID"] == "<alr_1@gemeente.test>"
    body = message.get_content()
    assert body.index(dutch) < body.index(english)
    # The text is the topic's, whatever the alert: the only variable part is the link.
    other = render_alert(
        topic,
        message_id="alr_2",
        sender="vi@gemeente.test",
        recipient="q@org.test",
        portal_url="https://portal.test/portal/",
        now=NOW,
    )
    assert other.get_content() == body
    assert body.count("https://portal.test/portal/") == 2
    if topic == "unknown-topic":
        assert alert_texts(topic) == alert_texts(str(AlertTopic.OTHER))


@pytest.mark.parametrize(
    ("exc", "code", "error"),
    [
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no", "x")]),
            550,
            "rejected",
        ),
        (aiosmtplib.SMTPDataError(451, "later"), 451, "deferred"),
        (aiosmtplib.SMTPSenderRefused(553, "no", "x"), 553, "rejected"),
        (aiosmtplib.SMTPAuthenticationError(535, "bad"), 535, "auth"),
        (aiosmtplib.SMTPConnectError("refused"), None, "connection"),
        (aiosmtplib.SMTPServerDisconnected("gone"), None, "connection"),
        (aiosmtplib.SMTPReadTimeoutError("slow"), None, "timeout"),
        (aiosmtplib.SMTPNotSupported("no STARTTLS"), None, "tls"),
        (ConnectionRefusedError(), None, "connection"),
        (RuntimeError("?"), None, "protocol"),
    ],
)
def test_smtp_failures_are_classified(exc: Exception, code: int | None, error: str) -> None:
    result = classify_smtp_error(exc)
    assert (result.reply_code, result.error) == (code, error)
    assert result.permanent == (error == "rejected")


async def test_an_event_type_added_later_alerts_through_enqueue_many(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, smtp_host="127.0.0.1")
    database = create_database(settings)
    from verwijsindex.storage.migrate import upgrade

    await upgrade(database)
    try:
        async with database.transaction() as session:
            assert session.info.get(ALERTS) is True
            later = cast(EventType, "something.new")  # a type not in EventType yet
            await enqueue_many(
                session,
                [
                    Event(later, "org-1", {"registration_id": "reg-1"}, NOW),
                    Event(EventType.MATCH_CLOSED, "org-1", {"registration_id": "reg-1"}, NOW),
                    # A copy for the organisation's systems only (not addressed to its
                    # professional): no alert, whatever the type.
                    Event(
                        EventType.COORDINATION_PROPOSED,
                        "org-2",
                        {"registration_id": "reg-2"},
                        NOW,
                        alerts=False,
                    ),
                    Event(
                        EventType.COORDINATION_PROPOSED, "org-1", {"registration_id": "reg-1"}, NOW
                    ),
                ],
            )
        async with database.transaction() as session:
            rows = list(
                (await session.scalars(select(AlertMessage).order_by(AlertMessage.seq))).all()
            )
        assert [(r.event_type, r.topic, r.registration_id, r.status) for r in rows] == [
            ("something.new", "other", "reg-1", "pending"),
            ("coordination.proposed", "coordination", "reg-1", "pending"),
        ]
    finally:
        await database.dispose()
