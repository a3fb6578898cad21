"""The doctor's report as a plain-text table: one row a check, its fix under a failing row."""

from __future__ import annotations

import textwrap

from bot.doctor.checks import Check, Status

DETAIL_WIDTH = 72


def render(checks: list[Check]) -> str:
    area_w = max([len("AREA"), *(len(c.area) for c in checks)])
    name_w = max([len("CHECK"), *(len(c.name) for c in checks)])
    indent = " " * (area_w + name_w + 12)  # under DETAIL
    lines = [f"{'AREA':<{area_w}}  {'CHECK':<{name_w}}  STATUS  DETAIL"]
    for check in checks:
        detail = textwrap.wrap(check.detail, DETAIL_WIDTH) or [""]
        lines.append(
            f"{check.area:<{area_w}}  {check.name:<{name_w}}  {check.status.value:<6}  {detail[0]}"
        )
        lines.extend(indent + more for more in detail[1:])
        if check.fix:
            fix = textwrap.wrap("fix: " + check.fix, DETAIL_WIDTH)
            lines.extend(indent + part for part in fix)
    lines.append("")
    lines.append(summary(checks))
    return "\n".join(lines)


def summary(checks: list[Check]) -> str:
    failed = sum(c.status is Status.FAIL for c in checks)
    warned = sum(c.status is Status.WARN for c in checks)
    if failed:
        head = f"{failed} problem{'s' if failed != 1 else ''} a call would hit"
    else:
        head = "Nothing a call needs is broken"
    tail = f"; {warned} warning{'s' if warned != 1 else ''}." if warned else "."
    return head + tail
