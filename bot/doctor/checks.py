"""What a doctor check says: an area, a name, a status, what was seen and, when wrong, what to do."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, or cannot be checked from here; worth a look
    FAIL = "FAIL"  # something a call needs is broken: the doctor exits non-zero
    SKIP = "skip"  # not configured, or not checked on purpose


class Check(BaseModel):
    area: str
    name: str
    status: Status
    detail: str
    fix: str | None = None

    @classmethod
    def ok(cls, area: str, name: str, detail: str) -> Check:
        return cls(area=area, name=name, status=Status.OK, detail=detail)

    @classmethod
    def warn(cls, area: str, name: str, detail: str, fix: str | None = None) -> Check:
        return cls(area=area, name=name, status=Status.WARN, detail=detail, fix=fix)

    @classmethod
    def fail(cls, area: str, name: str, detail: str, fix: str) -> Check:
        return cls(area=area, name=name, status=Status.FAIL, detail=detail, fix=fix)

    @classmethod
    def skip(cls, area: str, name: str, detail: str) -> Check:
        return cls(area=area, name=name, status=Status.SKIP, detail=detail)

    def redacted(self, secrets: list[str]) -> Check:
        """Nothing the doctor prints carries a token or key, whatever an answer echoed."""
        detail, fix = self.detail, self.fix
        for secret in secrets:
            detail = detail.replace(secret, "***")
            fix = fix.replace(secret, "***") if fix else fix
        return self.model_copy(update={"detail": detail, "fix": fix})
