"""``eventops tui`` errors are one line; its server URL and token sources."""

from __future__ import annotations

import pytest

from eventops.cli import main


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["tui", "--token", "plain-token"], "literal secret"),
        (["tui", "--token", "env:EVENTOPS_TEST_UNSET_X"], "EVENTOPS_TEST_UNSET_X"),
        (["tui", "--server", "ftp://x", "--token", "env:HOME"], "http(s)://"),
        (["tui", "--config", "/nonexistent/tui.toml"], "cannot read"),
    ],
)
def test_tui_command_errors(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_server_url_and_token_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse
    from pathlib import Path

    from eventops.cli.tui_cmd import server_url, token_of

    repo = Path(__file__).resolve().parents[3]
    ns = argparse.Namespace(profile=str(repo / "profiles" / "demo.toml"), server=None, token=None)
    assert server_url(ns, None) == "http://127.0.0.1:8470"
    assert server_url(ns, "https://engine.example:8443") == "https://engine.example:8443"
    ns.server = "http://127.0.0.1:9999"
    assert server_url(ns, "https://ignored:1") == "http://127.0.0.1:9999"
    monkeypatch.setenv("EVENTOPS_TOKEN", "t-default")
    monkeypatch.setenv("OTHER_TOKEN", "t-other")
    assert token_of(ns, None) == "t-default"
    assert token_of(ns, "env:OTHER_TOKEN") == "t-other"
    ns.token = "env:EVENTOPS_TOKEN"
    assert token_of(ns, "env:OTHER_TOKEN") == "t-default"
