"""The one settings object: every environment variable in DESIGN.md, read once at start-up."""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class SettingsError(ValueError):
    """Configuration is wrong; the message names the variable and what it got."""


def parse_hhmm(name: str, value: str) -> time:
    match = _HHMM.match(value.strip())
    if not match:
        raise ValueError(f'{name} must be HH:MM, got "{value}"')
    return time(int(match.group(1)), int(match.group(2)))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    port: int = Field(3000, ge=1, le=65535)

    kaleyra_api_key: SecretStr | None = None
    kaleyra_voice_url: str = "https://api-voice.kaleyra.com/v1/"
    kaleyra_sid: str | None = None
    kaleyra_io_url: str = "https://api.kaleyra.io/v1/"
    kaleyra_bridge: str | None = None
    kaleyra_timeout_seconds: float = Field(10.0, gt=0)
    # The built-in sandbox (no KALEYRA_API_KEY): how long each stage of a make-believe call takes.
    sandbox_step_seconds: float = Field(2.0, ge=0, le=60)

    database_path: str = "./data/voicebot.db"
    # sqlite:///path or postgresql://user:password@host:port/db; unset = sqlite:/// + DATABASE_PATH
    database_url: SecretStr | None = None
    timezone: str = "Asia/Kolkata"
    default_region: str = "IN"
    admin_user_ids: str = ""
    public_url: str | None = None

    health_digest_channel: str | None = None
    health_digest_time: str = "09:00"
    health_poll_minutes: float = Field(5, gt=0, le=1440)
    followup_reminder_minutes: int = Field(10, ge=0, le=1440)
    reminders_poll_seconds: int = Field(60, ge=1, le=3600)  # how often due reminders are sent
    obd_calling_hours: str = "09:00-21:00"
    obd_calls_per_minute: int | None = Field(None, ge=1, le=100_000)  # unset = no limit
    scheduler_enabled: bool = True

    # The team phone line: incoming and missed calls posted to a channel.
    calls_channel: str | None = None
    calls_poll_seconds: int = Field(60, ge=10, le=3600)
    activity_digest_time: str | None = None  # unset = with the health digest

    # Scale: how many dials may wait on Kaleyra at once, and how long history is kept.
    dial_concurrency: int = Field(200, ge=1, le=2000)
    # Replicas: how long a replica's hold on a broadcast it sends lasts unrenewed (it renews before
    # each request); once it runs out, another replica reports the broadcast to its owner. Longer
    # than KALEYRA_TIMEOUT_SECONDS, so a slow request never looks like a dead replica.
    campaign_lease_seconds: int = Field(30, ge=2, le=600)
    audit_retention_days: int = Field(400, ge=1)
    call_retention_days: int = Field(400, ge=1)

    log_level: str = "INFO"
    log_format: str = "console"

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "kaleyra_api_key",
        "kaleyra_sid",
        "kaleyra_bridge",
        "database_url",
        "public_url",
        "health_digest_channel",
        "calls_channel",
        "activity_digest_time",
        "obd_calls_per_minute",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("slack_api_url", "kaleyra_voice_url", "kaleyra_io_url", "public_url")
    @classmethod
    def _url(cls, value: str | None, info) -> str | None:
        if value is None:
            return value
        name = info.field_name.upper()
        if not value.startswith(("http://", "https://")):
            raise ValueError(f'{name} must start with http:// or https://, got "{value}"')
        if info.field_name == "public_url":
            return value.rstrip("/")
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("SLACK_BOT_TOKEN must start with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("SLACK_APP_TOKEN must start with xapp-")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        text = value.get_secret_value() if value is not None else ""
        schemes = ("sqlite://", "postgresql://", "postgres://", "postgresql+psycopg://")
        if value is not None and "://" in text and not text.startswith(schemes):
            raise ValueError(
                f"must start with sqlite:/// or postgresql://, not {text.split('://')[0]}://"
            )
        return value

    @property
    def database(self) -> str:
        """The database to use: DATABASE_URL, else the SQLite file at DATABASE_PATH."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return "sqlite:///" + self.database_path

    @model_validator(mode="after")
    def _lease_outlasts_a_request(self) -> Settings:
        if self.campaign_lease_seconds <= self.kaleyra_timeout_seconds:
            raise ValueError(
                "CAMPAIGN_LEASE_SECONDS must be longer than KALEYRA_TIMEOUT_SECONDS"
                f" ({self.campaign_lease_seconds} <= {self.kaleyra_timeout_seconds:g}): a slow"
                " Kaleyra request would look like a dead replica"
            )
        return self

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f'TIMEZONE must be an IANA time zone such as Asia/Kolkata, got "{value}"'
            ) from None
        return value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f'DEFAULT_REGION must be a two-letter region such as IN, got "{value}"'
            )
        return region

    @field_validator("admin_user_ids")
    @classmethod
    def _admins(cls, value: str) -> str:
        for user_id in filter(None, (part.strip() for part in value.split(","))):
            if not _SLACK_ID.match(user_id):
                raise ValueError(
                    f'ADMIN_USER_IDS must be comma-separated Slack user IDs such as U012ABCDEF, got "{user_id}"'
                )
        return value

    @field_validator("health_digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        parse_hhmm("HEALTH_DIGEST_TIME", value)
        return value.strip()

    @field_validator("activity_digest_time")
    @classmethod
    def _activity_digest_time(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parse_hhmm("ACTIVITY_DIGEST_TIME", value)
        return value.strip()

    @field_validator("obd_calling_hours")
    @classmethod
    def _calling_hours(cls, value: str) -> str:
        if not value.strip():
            return ""
        start, sep, end = value.partition("-")
        if not sep:
            raise ValueError(f'OBD_CALLING_HOURS must be HH:MM-HH:MM or empty, got "{value}"')
        try:
            if parse_hhmm("OBD_CALLING_HOURS", start) >= parse_hhmm("OBD_CALLING_HOURS", end):
                raise ValueError("start must be before end")
        except ValueError:
            raise ValueError(
                f'OBD_CALLING_HOURS must be HH:MM-HH:MM with start before end, got "{value}"'
            ) from None
        return value.strip()

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f'LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got "{value}"')
        return level

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        fmt = value.strip().lower()
        if fmt not in {"console", "json"}:
            raise ValueError(f'LOG_FORMAT must be console or json, got "{value}"')
        return fmt

    # Derived views, so nobody re-parses the raw strings.
    @property
    def admins(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.admin_user_ids.split(",") if p.strip())

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def calling_hours(self) -> tuple[time, time] | None:
        if not self.obd_calling_hours:
            return None
        start, _, end = self.obd_calling_hours.partition("-")
        return parse_hhmm("OBD_CALLING_HOURS", start), parse_hhmm("OBD_CALLING_HOURS", end)

    @property
    def uses_sandbox(self) -> bool:
        return self.kaleyra_api_key is None

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None and (
            self.slack_signing_secret is not None or self.slack_app_token is not None
        )


def describe_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """(variable, message naming it) for each invalid variable."""
    found = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]).upper() or "configuration"
        message = error["msg"].removeprefix("Value error, ")
        found.append((field, message if field in message else f"{field}: {message}"))
    return found


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and .env); errors name the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError("; ".join(m for _, m in describe_errors(exc))) from None


def serve_problem(settings: Settings) -> str | None:
    """Why `voicebot serve` cannot run with these settings, or None."""
    if settings.slack_bot_token is None:
        return "SLACK_BOT_TOKEN is not set (xoxb-…); `voicebot console` runs without Slack."
    if not settings.socket_mode and settings.slack_signing_secret is None:
        # Without it no request can be verified: every Slack request would be refused.
        return (
            "SLACK_SIGNING_SECRET is not set, and HTTP mode needs it to verify Slack's requests"
            " (or set SLACK_APP_TOKEN for Socket Mode)."
        )
    return None
