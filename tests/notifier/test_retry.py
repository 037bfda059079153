"""Retry schedule, response classification and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier import (
    STANDARD_WEBHOOKS_SCHEDULE,
    ErrorKind,
    Outcome,
    RetryPolicy,
    classify_response,
    parse_retry_after,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class TestRetryPolicy:
    def test_default_schedule_is_the_standard_webhooks_example(self) -> None:
        assert STANDARD_WEBHOOKS_SCHEDULE == (
            0,
            5,
            5 * 60,
            30 * 60,
            2 * 3600,
            5 * 3600,
            10 * 3600,
            14 * 3600,
            20 * 3600,
            24 * 3600,
        )
        # The spec's table ends at 75:35:05 after the first attempt.
        assert sum(STANDARD_WEBHOOKS_SCHEDULE) == 75 * 3600 + 35 * 60 + 5
        assert RetryPolicy().schedule == STANDARD_WEBHOOKS_SCHEDULE
        assert RetryPolicy().max_attempts == 10

    def test_without_jitter_delays_are_nominal(self) -> None:
        policy = RetryPolicy(jitter=0.0)
        delays = [policy.next_delay(n) for n in range(10)]
        assert delays == list(STANDARD_WEBHOOKS_SCHEDULE)

    def test_first_attempt_is_immediate_even_with_jitter(self) -> None:
        assert RetryPolicy(jitter=0.5).next_delay(0) == 0.0

    def test_dead_letter_after_the_last_attempt(self) -> None:
        policy = RetryPolicy()
        assert policy.next_delay(9) is not None
        assert policy.next_delay(10) is None
        assert policy.next_delay(11) is None

    def test_custom_schedule_for_tests(self) -> None:
        policy = RetryPolicy(schedule=(0.0, 0.01, 0.02), jitter=0.0)
        assert [policy.next_delay(n) for n in range(4)] == [0.0, 0.01, 0.02, None]

    @given(seed=st.integers(), attempt=st.integers(min_value=0, max_value=9))
    def test_jitter_stays_within_bounds(self, seed: int, attempt: int) -> None:
        policy = RetryPolicy(jitter=0.1, rng=random.Random(seed))
        delay = policy.next_delay(attempt)
        nominal = STANDARD_WEBHOOKS_SCHEDULE[attempt]
        assert delay is not None
        assert nominal * 0.9 <= delay <= nominal * 1.1

    def test_jitter_varies_the_delay(self) -> None:
        policy = RetryPolicy(jitter=0.1, rng=random.Random(7))
        assert len({policy.next_delay(3) for _ in range(20)}) > 1

    def test_injected_rng_makes_delays_deterministic(self) -> None:
        first = RetryPolicy(rng=random.Random(42))
        second = RetryPolicy(rng=random.Random(42))
        assert [first.next_delay(n) for n in range(10)] == [second.next_delay(n) for n in range(10)]

    def test_retry_after_can_only_lengthen(self) -> None:
        policy = RetryPolicy(jitter=0.0)
        assert policy.next_delay(1, retry_after=60.0) == 60.0  # 5 s -> 60 s
        assert policy.next_delay(2, retry_after=60.0) == 300.0  # 5 min stays
        assert policy.next_delay(10, retry_after=60.0) is None

    def test_retry_after_is_capped(self) -> None:
        policy = RetryPolicy(jitter=0.0)
        assert policy.next_delay(1, retry_after=10**9) == 24 * 3600.0

    def test_negative_attempts_rejected(self) -> None:
        with pytest.raises(ValueError):
            RetryPolicy().next_delay(-1)

    @pytest.mark.parametrize(
        "kwargs", [{"schedule": ()}, {"schedule": (0.0, -1.0)}, {"jitter": 1.0}, {"jitter": -0.1}]
    )
    def test_invalid_configuration_rejected(self, kwargs: dict[str, object]) -> None:
        with pytest.raises(ValueError):
            RetryPolicy(**kwargs)  # type: ignore[arg-type]

    def test_is_frozen(self) -> None:
        policy = RetryPolicy()
        with pytest.raises(AttributeError):
            policy.jitter = 0.5  # type: ignore[misc]


class TestClassifyResponse:
    @pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
    def test_2xx_is_delivered(self, status: int) -> None:
        assert classify_response(status, None) is Outcome.DELIVERED

    def test_410_disables_the_endpoint(self) -> None:
        assert classify_response(410, None) is Outcome.DISABLE_ENDPOINT

    @pytest.mark.parametrize(
        "status",
        [100, 301, 302, 303, 307, 308, 400, 401, 403, 404, 408, 413, 429, 500, 502, 503, 504],
    )
    def test_other_statuses_are_retried(self, status: int) -> None:
        assert classify_response(status, None) is Outcome.RETRY

    @pytest.mark.parametrize("kind", list(ErrorKind))
    def test_errors_without_response_are_retried(self, kind: ErrorKind) -> None:
        assert classify_response(None, kind) is Outcome.RETRY

    def test_needs_a_status_or_an_error(self) -> None:
        with pytest.raises(ValueError):
            classify_response(None, None)

    @pytest.mark.parametrize("status", [0, 99, 600, -200])
    def test_rejects_impossible_status(self, status: int) -> None:
        with pytest.raises(ValueError):
            classify_response(status, None)


class TestParseRetryAfter:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [("120", 120.0), ("0", 0.0), (" 30 ", 30.0), ("007", 7.0), ("86400", 86400.0)],
    )
    def test_delta_seconds(self, value: str, expected: float) -> None:
        assert parse_retry_after(value, NOW) == expected

    def test_imf_fixdate_in_the_future(self) -> None:
        value = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
        assert parse_retry_after(value, NOW) == 90.0

    def test_http_date_in_the_past_means_now(self) -> None:
        assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW) == 0.0

    def test_obsolete_date_formats(self) -> None:
        assert parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", NOW) == 0.0
        assert parse_retry_after("Sun Mar  1 12:02:00 2026", NOW) == 120.0

    @pytest.mark.parametrize(
        "value",
        [None, "", "   ", "-5", "1.5", "soon", "+10", "１０", "Mon, 32 Foo 2026 99:00:00 GMT"],
    )
    def test_unparseable_values_are_ignored(self, value: str | None) -> None:
        assert parse_retry_after(value, NOW) is None

    def test_capped_at_a_day_by_default(self) -> None:
        assert parse_retry_after("999999999", NOW) == 24 * 3600.0
        assert parse_retry_after("9" * 5000, NOW) == 24 * 3600.0
        far = format_datetime(NOW + timedelta(days=30), usegmt=True)
        assert parse_retry_after(far, NOW) == 24 * 3600.0

    def test_cap_is_configurable(self) -> None:
        assert parse_retry_after("600", NOW, max_seconds=60.0) == 60.0

    def test_naive_now_rejected(self) -> None:
        with pytest.raises(ValueError):
            parse_retry_after("10", datetime(2026, 3, 1, 12, 0, 0))
