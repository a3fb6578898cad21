"""Typed Kaleyra payloads: requests serialise themselves to the wire; responses normalise quirks."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# --------------------------------------------------------------------------- the account's dialect


class KeyStyle(StrEnum):
    """Where the legacy API's key travels. The documents name all three; an account takes some."""

    X_API_KEY_HEADER = "x-api-key header"  # the collection, 14 requests
    API_KEY_HEADER = "api_key header"  # the collection's dial.c2cstatus
    API_KEY_PARAMETER = "api_key parameter"  # the parameter tables


# The tables' spelling first (the default); the collection's second.
GROUP_STATUS_METHODS = ("voice.groupstatus", "voice.groupStatus")


# --------------------------------------------------------------------------- shared helpers

# Answers: unknown keys kept, text stripped, numbers where text is documented read as text
# (Kaleyra sends ids and numbers both ways: "id": "2354" and "id": 2354).
_Stripped = ConfigDict(
    extra="allow", str_strip_whitespace=True, populate_by_name=True, coerce_numbers_to_str=True
)


def _none_to(default: str) -> Any:
    """A before-validator: null (or blank) becomes `default`, anything else is left to the field."""

    def fill(cls: Any, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        return value

    return classmethod(fill)


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


_CLOCK = re.compile(r"^(?:(\d{1,3}):)?([0-5]?\d):([0-5]\d)$")


def _seconds_or_none(value: Any) -> Any:
    """A count of seconds as Kaleyra writes it in log rows: 65, "65", "65.0" or "00:01:05".

    Anything else ("N/A", "-", a word) is None: the row is kept with what could be read,
    instead of one odd field failing the whole answer.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value >= 0 and value == value else None
    text = str(value).strip()
    if text.isascii() and text.isdigit():
        return int(text)
    if re.fullmatch(r"\d{1,9}\.\d*", text):
        return int(float(text))
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, seconds = (int(part or 0) for part in clock.groups())
        return hours * 3600 + minutes * 60 + seconds
    return None


def legacy_date(value: date | str | None) -> str | None:
    """fromdate/todate: the documented YYYY/MM/DD form."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.strftime("%Y/%m/%d")


def _form(fields: dict[str, Any]) -> dict[str, str]:
    """Drop unset fields; render bools as 1/0 and dicts as JSON, the way the API expects them."""
    out: dict[str, str] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value, separators=(",", ":"))
        else:
            out[key] = str(value)
    return out


def rows_from_keyed(data: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Status/OBD answers key rows "0", "1", … inside `data`, beside `group_id`; lists pass."""
    if data is None:
        return [], None
    if isinstance(data, list):
        return [row for row in data if isinstance(row, dict)], None
    if isinstance(data, dict):
        group_id = data.get("group_id")
        keyed = sorted(
            ((int(k), v) for k, v in data.items() if str(k).isdigit() and isinstance(v, dict)),
            key=lambda kv: kv[0],
        )
        rows = [row for _, row in keyed]
        if not rows and "id" in data:  # a single row not wrapped
            rows = [data]
        return rows, None if group_id is None else str(group_id)
    return [], None


# --------------------------------------------------------------------------- legacy requests

RetryCount = Field(default=None, ge=0, le=2)


class ClickToCallRequest(BaseModel):
    """dial.click2call. caller is the first leg (the agent), receiver the second (the customer)."""

    caller: str = Field(pattern=r"^\d{6,15}$")
    receiver: str = Field(pattern=r"^\d{6,15}$")
    retry: int | None = RetryCount
    delay: int | None = Field(default=None, ge=0, le=900)
    caller_id: str | None = Field(default=None, pattern=r"^\d{6,15}$")
    custom: str | None = Field(default=None, max_length=50)
    meta: dict[str, Any] | None = None
    callback: str | None = None

    def to_form(self) -> dict[str, str]:
        return _form({**self.model_dump(), "return": 1})


class LogQuery(BaseModel):
    """Filters shared by dial.c2cstatus (log) and dial (call details)."""

    fromdate: date | str | None = None
    todate: date | str | None = None
    call_to: str | None = None
    limit: int | None = Field(default=None, ge=1, le=500)
    page: int | None = Field(default=None, ge=1)
    id: str | None = None

    def to_form(self) -> dict[str, str]:
        return _form(
            {
                "fromdate": legacy_date(self.fromdate),
                "todate": legacy_date(self.todate),
                # The documents spell this parameter with a space.
                "call to": self.call_to,
                "limit": self.limit,
                "page": self.page,
                "id": self.id,
            }
        )


class FollowupRequest(BaseModel):
    phone: str = Field(pattern=r"^\d{6,15}$")
    name: str = Field(min_length=1, max_length=100)
    follower: str = Field(pattern=r"^\d{6,15}$")
    ontime: datetime  # naive local time in the account's time zone
    autocall: bool = False
    notes: str | None = Field(default=None, max_length=1000)

    def to_form(self) -> dict[str, str]:
        return _form(
            {
                "phone": self.phone,
                "name": self.name,
                "follower": self.follower,
                "ontime": self.ontime.strftime("%d-%m-%Y %H:%M"),
                "autocall": self.autocall,
                "notes": self.notes,
            }
        )


class FollowupQuery(BaseModel):
    follower: str | None = None
    number: str | None = None
    fromdate: date | str | None = None
    todate: date | str | None = None

    def to_form(self) -> dict[str, str]:
        return _form(
            {
                "follower": self.follower,
                "number": self.number,
                "fromdate": legacy_date(self.fromdate),
                "todate": legacy_date(self.todate),
            }
        )


_SOUND = re.compile(r"^(\d+\.sound|ivr:\w[\w-]*|\w[\w-]*\.ivr)$")


class ObdRequest(BaseModel):
    """voice.call: numbers (chunked by the client) or a contact group, play and/or message."""

    numbers: list[str] = Field(default_factory=list)
    group: str | None = None
    play: str | None = None
    message: str | None = Field(default=None, max_length=1000)
    retries: int | None = RetryCount
    campaign: str | None = Field(default=None, max_length=100)
    newgroup: bool | None = None
    scheduletime: datetime | str | None = None
    delay: int | None = Field(default=None, ge=0, le=900)
    meta: dict[str, Any] | None = None
    custom: str | None = None
    callback: str | None = None

    @field_validator("play")
    @classmethod
    def _play(cls, value: str | None) -> str | None:
        if value is not None and not _SOUND.match(value):
            raise ValueError("play must be 123.sound, ivr:1234 or 1234.ivr")
        return value

    @model_validator(mode="after")
    def _target(self) -> ObdRequest:
        if not self.numbers and not self.group:
            raise ValueError("give numbers or a group")
        if not self.play and not self.message:
            raise ValueError("give a sound or IVR to play, or a message to say")
        return self

    def to_form(self, numbers: list[str] | None = None) -> dict[str, str]:
        schedule = self.scheduletime
        if isinstance(schedule, datetime):
            schedule = schedule.strftime("%Y-%m-%d %H:%M:%S")
        return _form(
            {
                "numbers": None if self.group else ",".join(numbers or self.numbers),
                "group": self.group,
                "play": self.play,
                "message": self.message,
                "retries": self.retries,
                "campaign": self.campaign,
                "newgroup": self.newgroup,
                "scheduletime": schedule,
                "delay": self.delay,
                "meta": self.meta,
                "custom": self.custom,
                "callback": self.callback,
            }
        )


class ObdJsonCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str | None = None
    group: str | None = None
    play: str | None = None
    message: str | None = None
    custom: str | None = None
    meta: dict[str, Any] | None = None
    callback: str | None = None

    @model_validator(mode="after")
    def _target(self) -> ObdJsonCall:
        if not self.to and not self.group:
            raise ValueError("each call needs `to` or `group`")
        return self


class ObdJsonRequest(BaseModel):
    """voice.json: several call groups, each with its own numbers and message."""

    call: list[ObdJsonCall] = Field(min_length=1)
    play: str | None = None
    message: str | None = None
    campaign: str | None = None
    scheduletime: str | None = None
    retries: int | None = RetryCount
    delay: int | None = Field(default=None, ge=0, le=900)
    callback: str | None = None

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class DialerRow(BaseModel):
    """One progressive-dialer entry: the number plus any custom columns."""

    model_config = ConfigDict(extra="allow")
    number: str = Field(pattern=r"^\d{6,15}$")


# --------------------------------------------------------------------------- kaleyra.io request


class OutboundTarget(BaseModel):
    """One element of `target`: an IVR, sound ids, a spoken message, or sound plus message."""

    ivr: list[str] | None = None
    sound: list[int] | None = None
    message: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> OutboundTarget:
        if self.ivr and (self.sound or self.message):
            raise ValueError("an IVR target cannot be combined with sound or message")
        if not (self.ivr or self.sound or self.message):
            raise ValueError("a target needs ivr, sound or message")
        if self.message is not None and not str(self.message.get("text", "")).strip():
            raise ValueError("a message target needs text")
        return self

    @classmethod
    def for_ivr(cls, ivr_id: str) -> OutboundTarget:
        return cls(ivr=[ivr_id])

    @classmethod
    def for_sounds(cls, *sound_ids: int) -> OutboundTarget:
        return cls(sound=list(sound_ids))

    @classmethod
    def for_text(
        cls, text: str, *, speech_rate: float | None = None, language: str | None = None
    ) -> OutboundTarget:
        message: dict[str, Any] = {"text": text}
        if speech_rate is not None:
            message["speech_rate"] = speech_rate
        if language:
            message["language"] = language
        return cls(message=message)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class OutboundRequest(BaseModel):
    """kaleyra.io /voice/outbound. `to` carries + and country code; chunked at 100 by the client."""

    to: list[str] = Field(min_length=1)
    target: list[OutboundTarget] = Field(min_length=1)
    bridge: str | None = None
    prefix: str | None = Field(default=None, pattern=r"^\+?\d{1,4}$")
    retry: int | list[dict[str, Any]] | dict[str, Any] | None = None
    interval: int | None = Field(default=None, ge=15, le=60)
    dlrurl: str | None = None
    time: datetime | None = None
    timeout: int | list[int] | dict[str, Any] | None = None
    callback: dict[str, Any] | None = None
    delay: int | None = Field(default=None, ge=0, le=900)
    custom: str | None = Field(default=None, max_length=100)

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("time needs a UTC offset")
        return value

    @field_validator("retry")
    @classmethod
    def _retry(cls, value: Any) -> Any:
        if isinstance(value, int) and not 0 <= value <= 2:
            raise ValueError("retry must be 0 to 2")
        return value

    def to_form(self, to: list[str] | None = None) -> dict[str, str]:
        return _form(
            {
                "to": ",".join(to or self.to),
                "target": [t.wire() for t in self.target],
                "bridge": self.bridge,
                "prefix": self.prefix,
                "retry": self.retry,
                "interval": self.interval,
                "dlrurl": self.dlrurl,
                # Y-m-d\TH:i:sP, e.g. 2021-01-04T19:55:41+05:30
                "time": self.time.isoformat(timespec="seconds") if self.time else None,
                "timeout": self.timeout,
                "callback": self.callback,
                "delay": self.delay,
                "custom": self.custom,
            }
        )


# --------------------------------------------------------------------------- responses

FINAL_STATUSES = frozenset(
    {
        "ANSWER",
        "BUSY",
        "CANCEL",
        "FAILED",
        "CONGESTION",
        "NOANSWER",
        "CHANUNAVAIL",
        "DND",
        "BLOCKED",
        "MAX-USE",
        "OFF-HOUR",
        "NOTALLOWED",
        "COMPLETED",
    }
)


class LegacyEnvelope(BaseModel):
    model_config = _Stripped
    status: str
    message: str = ""
    data: Any = None

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> str:
        return str(value).strip()

    @property
    def ok(self) -> bool:
        # autodial.* answers "OK " with a trailing space; strip makes it "OK".
        return self.status in {"200", "OK"}


class ClickToCallResult(BaseModel):
    model_config = _Stripped
    id: str | None = None
    message: str = "OK"


class C2CCall(BaseModel):
    """A dial.c2cstatus row: first leg (status) and second leg (status2)."""

    model_config = _Stripped
    id: str
    callfrom: str | None = None
    callto: str | None = None
    agent: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    duration: int | None = None
    billsec: int | None = None
    credits: str | None = None
    status: str | None = None
    status2: str | None = None
    recording: str | None = None
    location: str | None = None
    provider: str | None = None

    _blank = field_validator("*", mode="before")(classmethod(lambda cls, v: _blank_to_none(v)))
    _secs = field_validator("duration", "billsec", mode="before")(
        classmethod(lambda cls, v: _seconds_or_none(v))
    )

    @property
    def is_final(self) -> bool:
        first = (self.status or "").upper()
        if first not in FINAL_STATUSES:
            return False
        # The second leg is only dialled once the first answered.
        return first != "ANSWER" or (self.status2 or "").upper() in FINAL_STATUSES

    @property
    def recording_url(self) -> str | None:
        if not self.recording:
            return None
        return "https:" + self.recording if self.recording.startswith("//") else self.recording


class CallDetail(BaseModel):
    """A `dial` row: an incoming call forwarded to an agent."""

    model_config = _Stripped
    id: str
    uniqid: str | None = None
    parent_id: str | None = None
    callfrom: str | None = None
    callto: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    duration: int | None = None
    billsec: int | None = None
    notes: str | None = None
    location: str | None = None
    provider: str | None = None
    credits: str | None = None
    status: str | None = None
    status2: str | None = None
    recording: str | None = None
    date: str | None = None
    caller_id: str | None = None

    _blank = field_validator("*", mode="before")(classmethod(lambda cls, v: _blank_to_none(v)))
    _secs = field_validator("duration", "billsec", mode="before")(
        classmethod(lambda cls, v: _seconds_or_none(v))
    )


class FollowupRecord(BaseModel):
    model_config = _Stripped
    id: str
    phone: str
    name: str = ""
    follower: str = ""
    note: str | None = None
    ontime: str = ""

    _text = field_validator("name", "follower", "ontime", mode="before")(_none_to(""))

    def ontime_local(self) -> datetime | None:
        """Parse the report's `14-10-2015 07:00:00 PM` (naive, account time zone)."""
        for fmt in ("%d-%m-%Y %I:%M:%S %p", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M"):
            try:
                return datetime.strptime(self.ontime, fmt)
            except ValueError:
                continue
        return None


HealthType = Literal["operational", "warning", "critical"]


class Incident(BaseModel):
    model_config = _Stripped
    region: str = "unknown"
    region_code: str = Field(default="", alias="region_code")
    type: str = "operational"
    service: str = "all"
    numbers: list[str] = Field(default_factory=list)

    _region = field_validator("region", mode="before")(_none_to("unknown"))
    _code = field_validator("region_code", mode="before")(_none_to(""))
    _service = field_validator("service", mode="before")(_none_to("all"))

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict) and "region-code" in data and "region_code" not in data:
            data = {**data, "region_code": data["region-code"]}
        return data

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> str:
        if value is not None and not isinstance(value, str):
            raise ValueError("type must be text")
        return (value or "operational").strip().lower()

    @field_validator("numbers", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str | int):
            return [str(value)]
        if not isinstance(value, list):
            raise ValueError("numbers must be a list")
        return [str(v) for v in value]

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        """Identity for change detection: region code, service and numbers."""
        return (self.region_code, self.service, tuple(sorted(self.numbers)))


class HealthReport(BaseModel):
    incidents: list[Incident] = Field(default_factory=list)
    message: str = "OK"

    @property
    def all_clear(self) -> bool:
        return all(i.type == "operational" for i in self.incidents)


class DialerResult(BaseModel):
    message: str
    total: int | None = None
    processed: int | None = None

    @classmethod
    def from_message(cls, message: str) -> DialerResult:
        total = re.search(r"Total Records?\(s\)\s*-\s*(\d+)", message)
        processed = re.search(r"Processed Records?\(s\)\s*-\s*(\d+)", message)
        return cls(
            message=message,
            total=int(total.group(1)) if total else None,
            processed=int(processed.group(1)) if processed else None,
        )


class ObdCall(BaseModel):
    model_config = _Stripped
    id: str
    mobile: str | None = None
    status: str | None = None
    senttime: str | None = None  # numbers become strings by _Stripped's coerce_numbers_to_str


class ObdResult(BaseModel):
    """voice.call / voice.json answer, normalised: rows keyed "0", "1"… become `calls`."""

    group_id: str | None = None
    calls: list[ObdCall] = Field(default_factory=list)
    message: str = "OK"

    @classmethod
    def from_data(cls, data: Any, message: str = "OK") -> ObdResult:
        rows, group_id = rows_from_keyed(data)
        # One validation call for all rows (200 a request): far cheaper than a model per row.
        return cls.model_validate({"group_id": group_id, "calls": rows, "message": message})


class OutboundResult(BaseModel):
    model_config = _Stripped
    code: str
    message: str = ""
    data: Any = None
    error: Any = None
