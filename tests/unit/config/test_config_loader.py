"""The configuration loader: the example is valid, and every broken file says where and what."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.loader import ConfigError, example_path, load_settings, parse_settings

MINIMAL = """\
[shop]
name = "Test"

[[staff]]
id = "mari"
name = "Mari"
extension = "101"
secret = "s3cret"

[asterisk]
ami_secret = "ami"
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "shop.toml")
    return [str(p) for p in caught.value.problems]


def test_the_shipped_example_is_valid() -> None:
    settings = load_settings(example_path())
    assert settings.shop.timezone == "Europe/Tallinn"
    assert [p.id for p in settings.staff] == ["mari", "jaan", "liis"]
    assert settings.masking.pool[0] == "+3726001001"
    assert settings.staff[0].secret.get_secret_value().startswith("change-me")


def test_defaults_fill_what_a_minimal_file_leaves_out() -> None:
    settings = parse_settings(MINIMAL)
    assert settings.shop.default_region == "EE"
    assert str(settings.shop.hours.monday[0]) == "09:00-17:00"
    assert settings.shop.hours.saturday == ()
    assert settings.shop.hours.public_holidays == "EE"
    assert settings.database.url.startswith("sqlite:///")


def test_a_phone_number_that_does_not_parse_names_line_and_key() -> None:
    text = MINIMAL + '\n[masking]\npool = [\n  "+3726001001",\n  "+372 12",\n]\n'
    (problem,) = problems_of(text)
    assert problem.startswith("shop.toml:16: masking.pool[1]:")
    assert "'+372 12'" in problem


def test_numbers_are_normalised_to_e164() -> None:
    settings = parse_settings(MINIMAL + '\n[carrier]\nmain_number = "+372 600 5000"\n')
    assert settings.carrier.main_number == "+3726005000"


def test_an_unknown_weekday_is_named_with_the_expected_keys() -> None:
    text = MINIMAL.replace('name = "Test"\n', 'name = "Test"\n\n[shop.hours]\nfunday = "09:00-17:00"\n', 1)
    (problem,) = problems_of(text)
    assert problem.startswith("shop.toml:5: shop.hours.funday: unknown key 'funday'")
    assert "monday … sunday" in problem


def test_a_bad_time_range_says_what_is_expected() -> None:
    text = MINIMAL.replace('name = "Test"\n', 'name = "Test"\n[shop.hours]\nmonday = "9-17"\n', 1)
    (problem,) = problems_of(text)
    assert "shop.toml:4: shop.hours.monday" in problem and "HH:MM-HH:MM" in problem


def test_closing_before_opening_is_refused() -> None:
    text = MINIMAL.replace('name = "Test"\n', 'name = "Test"\n[shop.hours]\nmonday = "17:00-09:00"\n', 1)
    (problem,) = problems_of(text)
    assert "not after opening time" in problem


def test_a_staff_id_used_twice() -> None:
    text = MINIMAL + '\n[[staff]]\nid = "mari"\nname = "Other Mari"\nextension = "102"\nsecret = "x"\n'
    (problem,) = problems_of(text)
    assert "staff id 'mari' is used twice" in problem
    assert problem.startswith("shop.toml:4: staff:")


def test_a_missing_secret_says_how_to_give_one() -> None:
    text = MINIMAL.replace('secret = "s3cret"\n', "")
    (problem,) = problems_of(text)
    assert problem.startswith("shop.toml:4: staff[0].secret: required key is missing")
    assert "{ env =" in problem


def test_a_time_zone_that_does_not_exist() -> None:
    text = MINIMAL.replace('name = "Test"\n', 'name = "Test"\ntimezone = "Europe/Atlantis"\n', 1)
    (problem,) = problems_of(text)
    assert problem.startswith("shop.toml:3: shop.timezone:")
    assert "'Europe/Atlantis' does not exist" in problem


def test_secrets_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    text = MINIMAL.replace('ami_secret = "ami"', 'ami_secret = { env = "TUGI_TEST_AMI" }')
    monkeypatch.setenv("TUGI_TEST_AMI", "from-env")
    assert parse_settings(text).asterisk.ami_secret.get_secret_value() == "from-env"
    monkeypatch.delenv("TUGI_TEST_AMI")
    (problem,) = problems_of(text)
    assert "asterisk.ami_secret: environment variable TUGI_TEST_AMI is not set" in problem


def test_a_secret_with_a_line_break_is_refused() -> None:
    (problem,) = problems_of(MINIMAL.replace('"ami"', '"ami\\r\\nAction: Originate"'))
    assert "line break" in problem


def test_unsafe_ids_never_reach_asterisk() -> None:
    (problem,) = problems_of(MINIMAL.replace('id = "mari"', 'id = "mari&PJSIP/x"'))
    assert "staff[0].id" in problem and "not a valid id" in problem


def test_toml_syntax_errors_give_the_line() -> None:
    (problem,) = problems_of(MINIMAL + "\n[routing\n")
    assert problem.startswith("shop.toml:13: not valid TOML")


def test_all_problems_are_reported_at_once() -> None:
    text = MINIMAL.replace('timezone', 'x').replace('name = "Test"', 'name = "Test"\ntimezone = "Nowhere/Zone"')
    text = text.replace('extension = "101"', 'extension = "1a"')
    assert len(problems_of(text)) == 2


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tugi.cli", *args], capture_output=True, text=True)


def test_cli_check_exits_zero_on_the_example() -> None:
    result = run_cli("config", "check", str(example_path()))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_cli_check_exits_non_zero_and_names_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace('extension = "101"', 'extension = "abc"'))
    result = run_cli("config", "check", str(bad))
    assert result.returncode == 2
    assert f"{bad}:7: staff[0].extension: extension 'abc' must be 2 to 8 digits" in result.stderr


def test_cli_check_on_a_missing_file(tmp_path: Path) -> None:
    result = run_cli("config", "check", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "cannot read the file" in result.stderr
