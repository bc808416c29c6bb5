"""safer.kernel.config: loading, validation messages, secrets, path resolution and wanted months."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from safer.kernel.config import (
    PASSWORD_ENV,
    PoliceUkStreetConfig,
    Recipient,
    load_config,
    smtp_password,
)
from safer.kernel.errors import ConfigError

FORCE = """
[force]
id = "cheshire"
pfa_code = "E23000006"
name = "Cheshire Constabulary"
"""


def write(tmp_path: Path, text: str, name: str = "safer.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


# --- loading a good file ---------------------------------------------------------------------


def test_minimal_file_loads_with_defaults_resolved_against_config_dir(tmp_path: Path) -> None:
    path = write(tmp_path, FORCE)

    settings = load_config(path)

    base = tmp_path.resolve()
    assert settings.force.id == "cheshire"
    assert settings.force.pfa_code == "E23000006"
    assert settings.force.name == "Cheshire Constabulary"
    assert settings.database.path == base / "var" / "safer.duckdb"
    assert settings.paths.data_dir == base / "var"
    assert settings.paths.outbox_dir == base / "outbox"
    assert settings.sources.police_uk_street.base_url == "https://data.police.uk/data"
    assert settings.sources.police_uk_street.months == ("2025-01:",)
    assert settings.indicators.plans_dir is None
    assert settings.indicators.catalogue_dir is None
    assert settings.recipients == ()
    assert settings.smtp is None


def test_full_file_loads_every_section(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        FORCE
        + """
[database]
path = "db/safer.duckdb"

[paths]
data_dir = "/srv/safer/data"
outbox_dir = "mail/outbox"

[sources.police_uk_street]
base_url = "https://mirror.example.org/police"
months = ["2024-11:2025-01", "2025-06"]
revisit_months = 2
retries = 5
max_bytes = 1000000

[indicators]
plans_dir = "plans"
catalogue_dir = "catalogue"

[[recipients]]
name = "Analyst"
email = "analyst@example.org"

[[recipients]]
name = "Warrington CSP"
email = "csp@example.org"
areas = ["E22000001"]

[smtp]
host = "smtp.example.org"
port = 465
security = "ssl"
user = "safer"
sender = "safer@example.org"
""",
    )

    settings = load_config(path)

    base = tmp_path.resolve()
    assert settings.database.path == base / "db" / "safer.duckdb"
    assert settings.paths.data_dir == Path("/srv/safer/data")  # absolute: untouched
    assert settings.paths.outbox_dir == base / "mail" / "outbox"
    street = settings.sources.police_uk_street
    assert street.base_url == "https://mirror.example.org/police"
    assert street.months == ("2024-11:2025-01", "2025-06")
    assert street.revisit_months == 2
    assert street.retries == 5
    assert street.max_bytes == 1_000_000
    assert street.min_rows == 100  # unset fields keep their defaults
    assert settings.indicators.plans_dir == base / "plans"
    assert settings.indicators.catalogue_dir == base / "catalogue"
    assert [r.email for r in settings.recipients] == ["analyst@example.org", "csp@example.org"]
    assert settings.recipients[0].areas == ("all",)
    assert settings.recipients[1].areas == ("E22000001",)
    assert settings.smtp is not None
    assert settings.smtp.host == "smtp.example.org"
    assert settings.smtp.port == 465
    assert settings.smtp.security == "ssl"
    assert settings.smtp.user == "safer"
    assert settings.smtp.sender == "safer@example.org"


def test_relative_paths_follow_the_config_dir_not_the_working_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "etc" / "safer"
    config_dir.mkdir(parents=True)
    write(config_dir, FORCE + '\n[indicators]\nplans_dir = "plans"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    settings = load_config(Path("..") / "etc" / "safer" / "safer.toml")

    base = config_dir.resolve()
    assert settings.database.path == base / "var" / "safer.duckdb"
    assert settings.database.path.is_absolute()
    assert settings.indicators.plans_dir == base / "plans"
    assert settings.paths.outbox_dir == base / "outbox"


def test_local_folder_base_url_is_resolved(tmp_path: Path) -> None:
    path = write(tmp_path, FORCE + '\n[sources.police_uk_street]\nbase_url = "fixtures/police"\n')

    settings = load_config(path)

    expected = tmp_path.resolve() / "fixtures" / "police"
    assert settings.sources.police_uk_street.base_url == str(expected)


def test_absolute_local_base_url_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, FORCE + '\n[sources.police_uk_street]\nbase_url = "/srv/police"\n')

    assert load_config(path).sources.police_uk_street.base_url == "/srv/police"


@pytest.mark.parametrize(
    "url", ["http://localhost:8000/data", "https://data.police.uk/data", "file:///srv/police"]
)
def test_url_base_url_is_untouched(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, FORCE + f'\n[sources.police_uk_street]\nbase_url = "{url}"\n')

    assert load_config(path).sources.police_uk_street.base_url == url


def test_resolve_keeps_other_source_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        FORCE + '\n[sources.police_uk_street]\nbase_url = "local"\nmin_rows = 7\nretries = 0\n',
    )

    street = load_config(path).sources.police_uk_street

    assert street.min_rows == 7
    assert street.retries == 0


# --- errors ----------------------------------------------------------------------------------


def test_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"

    message = config_error(path)

    assert str(path) in message
    assert "not found" in message


def test_bad_toml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[force]\nid = "cheshire\n')

    message = config_error(path)

    assert message.startswith(f"{path}: ")
    assert "not valid TOML" in message


@pytest.mark.parametrize("kind", ["not utf-8", "a directory"])
def test_unreadable_config_is_a_config_error_naming_it(tmp_path: Path, kind: str) -> None:
    # Every failure to load the config should surface as ConfigError naming the file, not a raw
    # UnicodeDecodeError / IsADirectoryError from deep inside the loader.
    path = tmp_path / "safer.toml"
    if kind == "not utf-8":  # e.g. saved as Latin-1 by a Windows editor
        path.write_bytes(FORCE.replace("Cheshire Constabulary", "Caf\xe9").encode("latin-1"))
    else:
        path.mkdir()

    message = config_error(path)

    assert str(path) in message


def test_every_bad_key_is_reported_at_once_with_file_and_key_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[force]
id = "Cheshire Police"
pfa_code = "X99"
name = "Cheshire Constabulary"

[database]
path = "var/safer.duckdb"
colour = "blue"

[sources.police_uk_street]
months = ["2025-13:"]
retries = 99

[[recipients]]
name = "Analyst"
email = "not-an-address"

[smtp]
host = "smtp.example.org"
port = 70000
sender = "safer@example.org"
""",
    )

    message = config_error(path)

    lines = message.splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines), lines
    keys = {line.removeprefix(f"{path}: ").split(": ", 1)[0] for line in lines}
    assert keys == {
        "force.id",
        "force.pfa_code",
        "database.colour",
        "sources.police_uk_street.months",
        "sources.police_uk_street.retries",
        "recipients.0.email",
        "smtp.port",
    }
    assert any("2025-13" in line for line in lines)


def test_missing_required_section_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[smtp]\nhost = "smtp.example.org"\n')

    message = config_error(path)

    lines = message.splitlines()
    assert f"{path}: force: Field required" in lines
    assert f"{path}: smtp.sender: Field required" in lines


def test_month_range_that_ends_before_it_starts_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, FORCE + '\n[sources.police_uk_street]\nmonths = ["2025-05:2025-01"]\n')

    message = config_error(path)

    assert f"{path}: sources.police_uk_street.months:" in message
    assert "ends before it starts" in message


def test_wrong_types_are_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        FORCE + '\n[smtp]\nhost = "h"\nport = "submission"\nsender = "a@b"\nsecurity = "tls"\n',
    )

    message = config_error(path)

    keys = {line.removeprefix(f"{path}: ").split(": ", 1)[0] for line in message.splitlines()}
    assert keys == {"smtp.port", "smtp.security"}


@pytest.mark.parametrize("code", ["E23000006", "W15000004", "W23000001"])
def test_valid_pfa_codes_are_accepted(tmp_path: Path, code: str) -> None:
    path = write(tmp_path, FORCE.replace("E23000006", code))

    assert load_config(path).force.pfa_code == code


# --- SMTP password ---------------------------------------------------------------------------


def test_password_in_file_is_refused_and_not_echoed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        FORCE
        + '\n[smtp]\nhost = "smtp.example.org"\nsender = "a@example.org"\n'
        + 'password = "hunter2-secret"\n',
    )

    message = config_error(path)

    assert message.startswith(f"{path}: smtp.password: ")
    assert PASSWORD_ENV == "SAFER_SMTP_PASSWORD"
    assert "SAFER_SMTP_PASSWORD" in message
    assert "SAFER_SMTP_PASSWORD_FILE" in message
    assert "hunter2-secret" not in message


def test_smtp_password_from_env() -> None:
    assert smtp_password({"SAFER_SMTP_PASSWORD": "s3cret"}) == "s3cret"


def test_smtp_password_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret from file\n", encoding="utf-8")

    assert smtp_password({"SAFER_SMTP_PASSWORD_FILE": str(secret)}) == "s3cret from file"


def test_smtp_password_env_wins_over_file(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("from file", encoding="utf-8")
    env = {"SAFER_SMTP_PASSWORD": "from env", "SAFER_SMTP_PASSWORD_FILE": str(secret)}

    assert smtp_password(env) == "from env"


def test_empty_smtp_password_env_falls_through_to_file(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("from file", encoding="utf-8")
    env = {"SAFER_SMTP_PASSWORD": "", "SAFER_SMTP_PASSWORD_FILE": str(secret)}

    assert smtp_password(env) == "from file"


def test_smtp_password_absent_is_none() -> None:
    assert smtp_password({}) is None
    assert smtp_password({"SAFER_SMTP_PASSWORD_FILE": ""}) is None


def test_smtp_password_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-secret"

    with pytest.raises(ConfigError) as caught:
        smtp_password({"SAFER_SMTP_PASSWORD_FILE": str(missing)})

    assert "SAFER_SMTP_PASSWORD_FILE" in str(caught.value)
    assert str(missing) in str(caught.value)


def test_smtp_password_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAFER_SMTP_PASSWORD", raising=False)
    secret = tmp_path / "smtp-password"
    secret.write_text("via environ file\n", encoding="utf-8")
    monkeypatch.setenv("SAFER_SMTP_PASSWORD_FILE", str(secret))
    assert smtp_password() == "via environ file"

    monkeypatch.setenv("SAFER_SMTP_PASSWORD", "via environ")
    assert smtp_password() == "via environ"


# --- wanted months ---------------------------------------------------------------------------


def months(*labels: str) -> list[dt.date]:
    return [dt.date(int(label[:4]), int(label[5:]), 1) for label in labels]


def test_open_range_runs_to_the_month_before_as_of() -> None:
    street = PoliceUkStreetConfig(months=("2025-01:",))

    wanted = street.wanted_months(dt.date(2025, 7, 15))

    assert wanted == months("2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06")


def test_as_of_first_of_month_still_excludes_that_month() -> None:
    street = PoliceUkStreetConfig(months=("2025-05:",))

    assert street.wanted_months(dt.date(2025, 7, 1)) == months("2025-05", "2025-06")


def test_closed_range_crosses_year_end() -> None:
    street = PoliceUkStreetConfig(months=("2024-11:2025-02",))

    wanted = street.wanted_months(dt.date(2025, 9, 1))

    assert wanted == months("2024-11", "2024-12", "2025-01", "2025-02")


def test_closed_range_is_clipped_at_the_month_before_as_of() -> None:
    street = PoliceUkStreetConfig(months=("2025-03:2025-12",))

    assert street.wanted_months(dt.date(2025, 6, 20)) == months("2025-03", "2025-04", "2025-05")


def test_single_month_and_overlaps_are_merged_sorted_and_unique() -> None:
    street = PoliceUkStreetConfig(months=("2025-04", "2025-02:2025-03", "2025-03:", "2024-06"))

    wanted = street.wanted_months(dt.date(2025, 6, 2))

    assert wanted == months("2024-06", "2025-02", "2025-03", "2025-04", "2025-05")


def test_months_not_yet_published_are_excluded() -> None:
    street = PoliceUkStreetConfig(months=("2025-06", "2025-07:"))

    assert street.wanted_months(dt.date(2025, 6, 30)) == []


def test_as_of_in_january_ends_in_december() -> None:
    street = PoliceUkStreetConfig(months=("2024-10:",))

    assert street.wanted_months(dt.date(2025, 1, 3)) == months("2024-10", "2024-11", "2024-12")


@pytest.mark.parametrize(
    "bad", ["2025-13", "2025-00", "2025-1", "25-01", "2025/01", ":2025-01", "2025-05:2025-04"]
)
def test_bad_month_ranges_are_rejected(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PoliceUkStreetConfig(months=(bad,))

    assert caught.value.errors()[0]["loc"] == ("months",)


def test_recipient_wants_listed_areas_or_all() -> None:
    everyone = Recipient(name="Analyst", email="a@example.org")
    one_csp = Recipient(name="CSP", email="c@example.org", areas=("E22000001",))

    assert everyone.wants("E22000001")
    assert everyone.wants("E23000006")
    assert one_csp.wants("E22000001")
    assert not one_csp.wants("E22000002")


def test_the_database_memory_limit_reaches_duckdb(tmp_path: Path) -> None:
    from safer.store.db import connect

    settings = load_config(write(tmp_path, FORCE))
    assert settings.database.memory_limit == "1GB"
    limited = load_config(write(tmp_path, '[database]\nmemory_limit = "512MB"\n' + FORCE))
    with connect(tmp_path / "x.duckdb", limited.database.memory_limit) as db:
        # DuckDB reports it in MiB-based units: 512 MB is 488.2 MiB.
        assert db.scalar("SELECT current_setting('memory_limit')") == "488.2 MiB"
    with pytest.raises(ConfigError, match="memory_limit"):
        load_config(write(tmp_path, '[database]\nmemory_limit = "lots"\n' + FORCE))
