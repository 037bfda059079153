"""``verwijsindex serve`` options that are refused before anything starts."""

from __future__ import annotations

from click.testing import CliRunner

from verwijsindex.cli import main


class TestServeWorkers:
    def test_zero_workers_is_refused(self) -> None:
        result = CliRunner().invoke(main, ["serve", "--workers", "0"])
        assert result.exit_code == 2
        assert "Invalid value for '--workers'" in result.output
        assert "0 is not in the range 1<=x<=64" in result.output

    def test_zero_workers_from_the_environment_is_refused(self) -> None:
        result = CliRunner().invoke(main, ["serve"], env={"VERWIJSINDEX_WORKERS": "0"})
        assert result.exit_code == 1
        assert "invalid configuration" in result.output
        assert "workers" in result.output
