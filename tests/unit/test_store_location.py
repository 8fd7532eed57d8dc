"""`pixpress-server keys`' store choice: --store, else $PIXPRESS_STORE, each checked alike."""

from __future__ import annotations

import pytest
from pixpress_server.main import main


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["--store", "foo"], "argument --store: invalid store_url value: 'foo'"),
        ([], "PIXPRESS_STORE: invalid value 'foo': expected a URL such as postgresql://"),
    ],
    ids=["flag", "env"],
)
def test_a_bad_store_url_is_a_usage_error(
    given: list[str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PIXPRESS_STORE", "foo")
    with pytest.raises(SystemExit) as exited:
        main(["keys", "list", *given])
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err
