"""CronJob schedules parsed as robfig/cron's ParseStandard parses them."""

from __future__ import annotations

import pytest

from pyk8s.api import cron


def test_fields() -> None:
    s = cron.parse("*/15 9-17 * JAN,jul mon-fri")
    assert s.minutes == {0, 15, 30, 45}
    assert s.hours == set(range(9, 18))
    assert s.months == {1, 7}
    assert s.weekdays == {1, 2, 3, 4, 5}
    assert cron.parse("@daily") == cron.parse("0 0 * * *")
    assert cron.parse("5/20 * * * *").minutes == {5, 25, 45}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ],
)
def test_errors(spec: str, message: str) -> None:
    with pytest.raises(cron.CronError) as e:
        cron.parse(spec)
    assert str(e.value) == message
