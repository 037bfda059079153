"""The redaction processor masks BSN-, date-, e-mail- and phone-like values in every field."""

from __future__ import annotations

import io
import json
import logging
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from verwijsindex.logging import (
    _apply_patterns,
    configure_logging,
    get_logger,
    redact_processor,
    redact_text,
)

bsns = st.integers(0, 999_999_999).map(lambda n: f"{n:09d}")
dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))
date_texts = st.one_of(
    dates.map(date.isoformat),
    dates.map(lambda d: d.strftime("%d-%m-%Y")),
    dates.map(lambda d: d.strftime("%d/%m/%Y")),
)
emails = st.from_regex(r"[a-z][a-z0-9.]{0,10}@[a-z]{2,10}\.(nl|com|example)", fullmatch=True)
phones = st.one_of(
    st.integers(10_000_000, 99_999_999).map(lambda n: f"06{n}"),
    st.integers(10_000_000, 99_999_999).map(lambda n: f"06-{n}"),
    st.integers(100_000_000, 999_999_999).map(lambda n: f"+31{n}"),
    st.integers(1_000_000, 9_999_999).map(lambda n: f"+31 20 {n}"),
)
personal = st.one_of(bsns, date_texts, emails, phones)
field_names = st.sampled_from(["event", "detail", "path", "user", "x", "error", "bsn"])


class TestRedaction:
    @given(personal, st.text(alphabet="abc ", max_size=10), st.text(alphabet="xyz ", max_size=10))
    def test_personal_values_are_masked_inside_text(
        self, value: str, before: str, after: str
    ) -> None:
        assert value not in redact_text(f"{before} {value} {after}")

    @settings(max_examples=200)
    @given(field_names, personal)
    def test_every_field_and_depth(self, field: str, value: str) -> None:
        event = {field: value, "nested": {"list": [value, {"k": value}]}, value: 1}
        out = json.dumps(redact_processor(None, "info", event))
        assert value not in out

    @settings(max_examples=500)
    @given(
        st.lists(
            st.one_of(
                personal,
                st.text(alphabet="0123456789 -/.+()@ax", max_size=14),
                st.sampled_from(["/v1/registrations", "00", "+", "@", "0", "-", " ", "(", ")"]),
                st.lists(st.integers(1, 99).map(str), min_size=4, max_size=8).map(
                    lambda groups: "+3 " + " ".join(groups)  # a phone number in short groups
                ),
            ),
            max_size=6,
        )
    )
    def test_the_quick_check_never_skips_what_a_pattern_would_mask(self, parts: list[str]) -> None:
        text = "".join(parts)
        assert redact_text(text) == _apply_patterns(text)

    def test_ids_and_plain_words_survive(self) -> None:
        text = "registration 2d55e548-f7cf-439e-a5a9-473fcda05155 status 201 took 3.5 ms"
        assert redact_text(text) == text

    def test_standard_library_records_are_redacted(self) -> None:
        configure_logging(level="info", json=True)
        stream = io.StringIO()
        root = logging.getLogger()
        root.handlers[0].stream = stream  # type: ignore[attr-defined]
        logging.getLogger("some.library").warning("failed for 123456782 born 2012-05-01")
        get_logger("x").info("event", detail="mail jan@example.nl or call 0612345678")
        out = stream.getvalue()
        for value in ("123456782", "2012-05-01", "jan@example.nl", "0612345678"):
            assert value not in out
        assert "[number]" in out and "[email]" in out

    def test_the_services_own_identifiers_are_kept_whole(self) -> None:
        # Random UUIDs often hold a run of eight or more digits; masking it broke finding a
        # request by its X-Request-Id.
        request_id = "1fa32a8406874d01b123456782fdb8a8"
        organisation_id = "a38d79a2-8be2-414f-bab5-123456789012"
        event = {"request_id": request_id, "organisation_id": organisation_id, "x": request_id}
        out = redact_processor(None, "info", event)
        assert out["request_id"] == request_id
        assert out["organisation_id"] == organisation_id
        assert out["x"] != request_id  # the same text under any other key is still masked

    @given(personal)
    def test_an_identifier_field_that_is_not_an_identifier_is_masked(self, value: str) -> None:
        out = json.dumps(
            redact_processor(None, "info", {"request_id": value, "organisation_id": value})
        )
        assert value not in out
