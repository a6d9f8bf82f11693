"""A check's verdict (ok / warn / fail, the object, the finding, the fix) and how verdicts
combine: the worst level, the ones at a ``fail_on`` level, the structured result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

Level = Literal["ok", "warn", "fail"]
LEVELS: tuple[Level, ...] = ("ok", "warn", "fail")


@dataclass(frozen=True)
class Verdict:
    """What one check found: its level, the object it is about, the finding and the fix."""

    check: str
    level: Level
    object: str
    message: str
    remedy: str = ""

    def to_dict(self) -> dict[str, str]:
        """Plain JSON values (for ``--json`` and XCom)."""
        return asdict(self)

    def line(self) -> str:
        """One line: ``fail  webhook  Databricks job 7: ... Fix: ...``."""
        fix = f" Fix: {self.remedy}" if self.remedy and self.level != "ok" else ""
        return f"{self.level:<4}  {self.check:<14}  {self.object}: {self.message}{fix}"


def worst(verdicts: Sequence[Verdict]) -> Level:
    """The most severe level among ``verdicts`` (``ok`` when there are none)."""
    return max((v.level for v in verdicts), key=LEVELS.index, default="ok")


def fails_at(verdicts: Sequence[Verdict], fail_on: Level) -> list[Verdict]:
    """The verdicts at ``fail_on`` or worse (``fail_on`` is ``"warn"`` or ``"fail"``)."""
    if fail_on not in ("warn", "fail"):
        raise ValueError(f"fail_on must be 'warn' or 'fail', got {fail_on!r}")
    return [v for v in verdicts if LEVELS.index(v.level) >= LEVELS.index(fail_on)]


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was, for messages (``12 min ago``, ``3.5 days ago``)."""
    if moment is None:
        return "at an unknown time"
    seconds = max((now - moment).total_seconds(), 0.0)
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def summary(verdicts: Sequence[Verdict], *, job_id: int, project_id: str | None) -> dict[str, Any]:
    """The structured result (``--json``, XCom): overall level and every verdict."""
    return {
        "job_id": job_id,
        "project_id": project_id,
        "status": worst(verdicts),
        "checks": [v.to_dict() for v in verdicts],
    }
