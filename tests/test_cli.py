"""The `evbill` command line starts and answers."""

from typer.testing import CliRunner

from evbill import __version__
from evbill.cli import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__
