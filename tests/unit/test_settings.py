"""Settings are read once from the environment; a bad value is refused with its variable named."""

import pytest

from service.settings import Settings, SettingsError, parse_database_url


def test_defaults_need_no_environment_at_all():
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert str(settings.data_dir) == ".cqi"
    assert settings.timezone == "UTC"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.secure_cookies is True
    assert 1 <= settings.workers <= 4  # one per core, at most 4 (each opens its connections)


def test_every_variable_is_read():
    settings = Settings.from_env({
        "DATABASE_URL": "postgresql://cqi:s%40cret@db.internal:6543/agency",
        "CQI_DATA_DIR": "/var/lib/cqi", "CQI_SECRET_KEY": "k", "CQI_TIMEZONE": "America/Chicago",
        "CQI_HOST": "0.0.0.0", "CQI_PORT": "9000", "CQI_SECURE_COOKIES": "false",
        "CQI_SESSION_HOURS": "8", "CQI_IDLE_MINUTES": "15", "CQI_DB_POOL_SIZE": "20",
        "CQI_WORKERS": "6",
    })
    assert settings.workers == 6
    assert settings.zone.key == "America/Chicago"
    assert (settings.port, settings.secure_cookies, settings.pool_size) == (9000, False, 20)
    assert (settings.session_hours, settings.idle_minutes) == (8.0, 15.0)
    parts = parse_database_url(settings.database_url)
    assert (parts.host, parts.port, parts.user, parts.password, parts.dbname) == (
        "db.internal", 6543, "cqi", "s@cret", "agency")


@pytest.mark.parametrize(("name", "value", "says"), [
    ("CQI_TIMEZONE", "Mars/Olympus", "CQI_TIMEZONE"),
    ("CQI_PORT", "eighty", "CQI_PORT"),
    ("CQI_PORT", "70000", "between 1 and 65535"),
    ("CQI_SECURE_COOKIES", "maybe", "CQI_SECURE_COOKIES"),
    ("CQI_IDLE_MINUTES", "0", "CQI_IDLE_MINUTES"),
    ("DATABASE_URL", "mysql://x@y/z", "postgresql://"),
    ("DATABASE_URL", "postgresql://user@host:5432/", "names no database"),
    ("DATABASE_URL", "postgresql://user@host:port/db", "port"),
    ("CQI_PASSWORD_HASH_COST", "cheap", "CQI_PASSWORD_HASH_COST"),
    ("CQI_WORKERS", "0", "CQI_WORKERS"),
])
def test_a_bad_value_is_refused_with_a_message_naming_it(name, value, says):
    with pytest.raises(SettingsError, match=says):
        Settings.from_env({name: value})


def test_a_secret_key_is_generated_once_and_kept(tmp_path):
    first = Settings.from_env({"CQI_DATA_DIR": str(tmp_path)}).with_secret_key()
    second = Settings.from_env({"CQI_DATA_DIR": str(tmp_path)}).with_secret_key()
    assert len(first.secret_key) >= 40
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_a_configured_secret_key_is_used_as_it_is(tmp_path):
    settings = Settings.from_env({"CQI_DATA_DIR": str(tmp_path), "CQI_SECRET_KEY": "given"})
    assert settings.with_secret_key().secret_key == "given"
    assert not (tmp_path / "secret_key").exists()


def test_a_database_url_with_parameters_is_refused_with_what_to_do_instead():
    with pytest.raises(SettingsError, match="PGSSLMODE"):
        Settings.from_env({"DATABASE_URL": "postgresql://u@db:5432/cqi?sslmode=verify-full"})
