"""Standard cron schedules as CronJobs use them (``robfig/cron/v3`` ``ParseStandard``).

Five fields (minute, hour, day of month, month, day of week), each ``*``, ``?``,
a number or name, a range ``a-b`` and a step ``/n``, comma-separated; or a
descriptor (``@hourly``, ``@daily``, ``@every 5m``...). :func:`parse` returns the
allowed values of each field, or raises :class:`CronError` with robfig's message,
which upstream's CronJob validation reports as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
BOUNDS = ((0, 59, None), (0, 23, None), (1, 31, None), (1, 12, MONTHS), (0, 6, DAYS))
DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


class CronError(ValueError):
    """A schedule robfig/cron refuses; ``str()`` is its message."""


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    every_seconds: float | None = None


def _number(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    if not re.fullmatch(r"[+-]?[0-9]+", expr):
        raise CronError(
            f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax'
        )
    n = int(expr)
    if n < 0:
        raise CronError(f"negative number ({n}) not allowed: {expr}")
    return n


def _range(expr: str, low: int, high: int, names: dict[str, int] | None) -> set[int]:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    star = low_and_high[0] in ("*", "?")
    if star:
        start, end = low, high
    else:
        start = _number(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _number(low_and_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _number(range_and_step[1], None)
        if not star and len(low_and_high) == 1:
            end = high  # "N/step" means N-max/step
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < low:
        raise CronError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise CronError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step))


def parse(spec: str) -> Schedule:
    text = spec.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        _, _, text = text.partition(" ")
        text = text.strip()
    if text.startswith("@"):
        if text.startswith("@every "):
            dur = text[len("@every ") :].strip()
            if not _DURATION.match(dur):
                raise CronError(f"failed to parse duration {text}: time: invalid duration " + f'"{dur}"')  # noqa: E501  # fmt: skip
            none: frozenset[int] = frozenset()
            return Schedule(none, none, none, none, none, every_seconds=0.0)
        if text not in DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {text}")
        text = DESCRIPTORS[text]
    fields = text.split()
    if len(fields) != 5:
        shown = "[" + " ".join(fields) + "]"
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {shown}")
    sets = []
    for field, (low, high, names) in zip(fields, BOUNDS, strict=True):
        values: set[int] = set()
        for part in field.split(","):
            values |= _range(part, low, high, names)
        sets.append(frozenset(values))
    return Schedule(sets[0], sets[1], sets[2], sets[3], sets[4])
