from __future__ import annotations

import pytest

from config.loader import example_path
from tugi.cli import main

EXAMPLE = str(example_path())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(["route", "explain", "--config", EXAMPLE, *args])
    except SystemExit as exc:  # argparse refuses bad arguments this way
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_christmas_eve_evening(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--at", "2026-12-24T18:30", "--kind", "web")
    assert code == 0
    assert out.startswith("Web call at Thursday 2026-12-24 18:30 Europe/Tallinn")
    assert "public holiday: Christmas Eve" in out
    assert "Fallback: Partner call centre" in out


def test_presence_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--at", "2026-12-22T11:00", "--kind", "web", "--person", "mari", "--busy", "mari", "--offline", "jaan"
    )
    assert code == 0
    assert "  - mari (Mari Maasikas): already on 1 call (takes at most 1)" in out
    assert "  - jaan (Jaan Tamm): phone not registered (offline)" in out
    assert "[showroom] liis (Liis Kask)" in out


def test_skills_can_repeat_or_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--at", "2026-12-22T11:00", "--kind", "web", "--skill", "returns", "--skill", "delivery")
    assert code == 0
    assert "team narrowed to people with skill returns, delivery" in out


def test_offset_in_at_is_respected(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--at", "2026-12-22T07:30+00:00", "--kind", "inbound")
    assert code == 0
    assert "Tuesday 2026-12-22 09:30 Europe/Tallinn" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "tomorrow", "--kind", "web"], "is not a date and time"),
        (["--at", "2026-12-24T18:30", "--kind", "fax"], "is not a kind of call"),
        (["--at", "2026-12-24T18:30", "--kind", "masked"], "masking"),
        (["--at", "2026-12-24T18:30", "--kind", "web", "--busy", "nobody"], "no staff member with id 'nobody'"),
        (["--at", "2026-12-24T18:30", "--kind", "outbound", "--dialled", "12"], "E.164"),
    ],
)
def test_bad_input_exits_2_with_a_clear_error(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert message in err
    assert out == ""
