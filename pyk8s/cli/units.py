"""Human-readable sizes and durations as docker prints them (docker/go-units ``size.go``
``HumanSizeWithPrecision`` and ``duration.go`` ``HumanDuration``)."""

from __future__ import annotations

import datetime as dt

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float) -> str:
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.3g}{_DECIMAL[i]}"


def human_duration(seconds: float) -> str:
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def parse_time(value: str) -> dt.datetime | None:
    """An RFC 3339 timestamp as image configs carry it (nanoseconds allowed)."""
    if not value:
        return None
    v = value.strip().replace("Z", "+00:00")
    if "." in v:
        head, _, frac = v.partition(".")
        digits = "".join(c for c in frac if c.isdigit())
        tz = frac[len(digits) :]
        v = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def ago(value: str, now: dt.datetime | None = None) -> str:
    t = parse_time(value)
    if t is None:
        return "N/A"
    now = now or dt.datetime.now(dt.UTC)
    return human_duration((now - t).total_seconds()) + " ago"
