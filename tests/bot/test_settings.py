import pytest

from bot.settings import Settings, SettingsError, load_settings


def test_defaults_match_design(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    s = load_settings()
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.port == 3000
    assert s.kaleyra_voice_url == "https://api-voice.kaleyra.com/v1/"
    assert s.kaleyra_io_url == "https://api.kaleyra.io/v1/"
    assert s.database_path == "./data/voicebot.db"
    assert s.timezone == "Asia/Kolkata" and s.default_region == "IN"
    assert s.health_digest_time == "09:00" and s.health_poll_minutes == 5
    assert s.followup_reminder_minutes == 10
    assert s.obd_calling_hours == "09:00-21:00"
    assert s.scheduler_enabled is True
    assert s.log_level == "INFO" and s.log_format == "console"
    assert s.uses_sandbox and not s.slack_configured and not s.socket_mode


def test_reads_environment_and_keeps_secrets_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-123")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "shh")
    monkeypatch.setenv("KALEYRA_API_KEY", "A1234")
    monkeypatch.setenv("ADMIN_USER_IDS", "U01ADMIN, U02BOSS")
    monkeypatch.setenv("OBD_CALLING_HOURS", "")
    s = load_settings()
    assert s.slack_configured and not s.uses_sandbox
    assert s.admins == {"U01ADMIN", "U02BOSS"}
    assert s.calling_hours is None
    assert "xoxb-123" not in repr(s) and "A1234" not in repr(s) and "shh" not in repr(s)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HEALTH_DIGEST_TIME", "9am", 'HEALTH_DIGEST_TIME must be HH:MM, got "9am"'),
        ("TIMEZONE", "Mars/Base", "TIMEZONE must be an IANA time zone"),
        ("DEFAULT_REGION", "XX", "DEFAULT_REGION must be a two-letter region"),
        ("OBD_CALLING_HOURS", "21:00-09:00", "OBD_CALLING_HOURS must be HH:MM-HH:MM"),
        ("SLACK_BOT_TOKEN", "xapp-wrong", "SLACK_BOT_TOKEN must start with xoxb-"),
        ("ADMIN_USER_IDS", "bob", "ADMIN_USER_IDS must be comma-separated Slack user IDs"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be console or json"),
        ("PORT", "99999", "PORT"),
        ("KALEYRA_VOICE_URL", "ftp://x", "KALEYRA_VOICE_URL must start with http"),
    ],
)
def test_errors_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert message in str(err.value)


def test_secret_never_in_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "not-a-token-secret123")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "secret123" not in str(err.value)


def test_urls_get_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    assert load_settings().slack_api_url == "http://127.0.0.1:9/api/"


def test_every_variable_is_in_the_readme() -> None:
    """The README's table is the one list of variables an operator reads."""
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [n.upper() for n in Settings.model_fields if f"`{n.upper()}`" not in readme]
    assert missing == []
