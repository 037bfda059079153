from datetime import date

import pytest

from consent import AgeBand, InvalidBirthDate, InvalidConsent, LegalGround, age_band


class TestAgeBand:
    @pytest.mark.parametrize(
        ("birth", "on", "band"),
        [
            (date(2025, 3, 1), date(2025, 3, 1), AgeBand.UNDER_12),
            (date(2013, 3, 2), date(2025, 3, 1), AgeBand.UNDER_12),  # 12 tomorrow
            (date(2013, 3, 1), date(2025, 3, 1), AgeBand.FROM_12_TO_15),  # 12 today
            (date(2009, 3, 2), date(2025, 3, 1), AgeBand.FROM_12_TO_15),  # 16 tomorrow
            (date(2009, 3, 1), date(2025, 3, 1), AgeBand.FROM_16),
            (date(2002, 3, 2), date(2025, 3, 1), AgeBand.FROM_16),  # 23 tomorrow
            (date(2012, 2, 29), date(2024, 2, 28), AgeBand.UNDER_12),
            (date(2012, 2, 29), date(2024, 2, 29), AgeBand.FROM_12_TO_15),
            (date(2012, 2, 29), date(2025, 2, 28), AgeBand.FROM_12_TO_15),
        ],
    )
    def test_band(self, birth: date, on: date, band: AgeBand) -> None:
        assert age_band(birth, on) is band

    def test_leap_day_birthday_counts_on_1_march(self) -> None:
        assert age_band(date(2009, 2, 29 - 1), date(2025, 2, 28)) is AgeBand.FROM_16
        assert age_band(date(2008, 2, 29), date(2023, 2, 28)) is AgeBand.FROM_12_TO_15
        assert age_band(date(2008, 2, 29), date(2024, 2, 29)) is AgeBand.FROM_16
        assert age_band(date(2008, 2, 29), date(2025, 3, 1)) is AgeBand.FROM_16

    def test_rejects_23_and_older(self) -> None:
        with pytest.raises(InvalidBirthDate, match="23 or older"):
            age_band(date(2002, 3, 1), date(2025, 3, 1))

    def test_rejects_future_birth_date(self) -> None:
        with pytest.raises(InvalidBirthDate, match="future") as info:
            age_band(date(2025, 3, 2), date(2025, 3, 1))
        assert "2025" not in str(info.value)
        assert isinstance(info.value, InvalidConsent)


class TestLegalGround:
    def test_codes(self) -> None:
        assert {g.value for g in LegalGround} == {"meldrecht", "court-measure", "legal-duty"}
        assert "5.2.6" in LegalGround.MELDRECHT.statutory_reference
        assert "7.3.11" in LegalGround.COURT_MEASURE.statutory_reference
