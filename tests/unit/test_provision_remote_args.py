"""Which engine ``eventops plan/apply`` go through, and the token reference it needs."""

from __future__ import annotations

import argparse

import pytest

from eventops.cli.provision_remote import remote_of
from eventops.errors import ApiError, SecretError


def ns(**kw: str | None) -> argparse.Namespace:
    return argparse.Namespace(server=kw.get("server"), token=kw.get("token"))


def test_in_process_without_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENTOPS_SERVER", raising=False)
    assert remote_of(ns()) is None


def test_server_and_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTOPS_SERVER", "http://127.0.0.1:8470/")
    monkeypatch.setenv("EVENTOPS_TOKEN", "tok-1")
    r = remote_of(ns())
    assert r is not None and r.url == "http://127.0.0.1:8470" and r.token == "tok-1"
    monkeypatch.setenv("OTHER_TOKEN", "tok-2")
    r = remote_of(ns(server="https://engine:1", token="env:OTHER_TOKEN"))
    assert r is not None and r.url == "https://engine:1" and r.token == "tok-2"


def test_bad_server_and_token_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENTOPS_SERVER", raising=False)
    with pytest.raises(ApiError, match="expected http"):
        remote_of(ns(server="engine:8470"))
    with pytest.raises(SecretError, match="--token"):
        remote_of(ns(server="http://127.0.0.1:1", token="the-token-itself"))
    monkeypatch.delenv("EVENTOPS_TOKEN", raising=False)
    with pytest.raises(SecretError, match="EVENTOPS_TOKEN"):
        remote_of(ns(server="http://127.0.0.1:1"))


@pytest.mark.parametrize("value", ["0", "0.5", "3601", "nan"])
def test_a_bad_confirm_timeout_is_one_line_before_anything_is_sent(
    value: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventops.cli import main

    monkeypatch.setenv("EVENTOPS_TOKEN", "tok")
    # no engine listens on port 1: the flag is refused before any connection
    argv = ["apply", "p.toml", "--yes", "--server", "http://127.0.0.1:1", "--confirm-timeout"]
    assert main([*argv, value]) == 6
    err = capsys.readouterr().err
    assert "--confirm-timeout must be between 1 and 3600 seconds" in err
    assert "Traceback" not in err and "cannot reach" not in err
