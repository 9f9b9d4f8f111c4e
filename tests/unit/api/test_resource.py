"""Quantity parsing, with the cases of apimachinery's quantity_test.go as a guide."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pyk8s.api import resource


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("0", Fraction(0), id="zero"),
        pytest.param("100m", Fraction(1, 10), id="milli"),
        pytest.param("1", Fraction(1), id="one"),
        pytest.param("2.5", Fraction(5, 2), id="decimal-point"),
        pytest.param(".5", Fraction(1, 2), id="leading-point"),
        pytest.param("1Ki", Fraction(1024), id="kibi"),
        pytest.param("1Gi", Fraction(2**30), id="gibi"),
        pytest.param("1.5Gi", Fraction(3 * 2**29), id="fractional-gibi"),
        pytest.param("128974848", Fraction(128974848), id="bytes"),
        pytest.param("129e6", Fraction(129 * 10**6), id="exponent"),
        pytest.param("1E3", Fraction(1000), id="upper-exponent"),
        pytest.param("1E", Fraction(10**18), id="exa"),
        pytest.param("123M", Fraction(123 * 10**6), id="mega"),
        pytest.param("5k", Fraction(5000), id="kilo"),
        pytest.param("10n", Fraction(1, 10**8), id="nano"),
        pytest.param("-1.5", Fraction(-3, 2), id="negative"),
        pytest.param("+7", Fraction(7), id="plus-sign"),
        pytest.param(3, Fraction(3), id="json-int"),
        pytest.param(0.25, Fraction(1, 4), id="json-float"),
    ],
)
def test_parse(text: str | int | float, expected: Fraction) -> None:
    assert resource.parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("m", id="suffix-only"),
        pytest.param("1.2.3", id="two-points"),
        pytest.param("1KB", id="unknown-suffix"),
        pytest.param("1ki", id="lower-kibi"),
        pytest.param("1e", id="bare-e"),
        pytest.param("abc", id="letters"),
        pytest.param(True, id="boolean"),
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(resource.QuantityError):
        resource.parse_quantity(text)


@pytest.mark.parametrize(
    ("text", "millis", "units"),
    [
        pytest.param("100m", 100, 1, id="value-rounds-up"),
        pytest.param("1", 1000, 1, id="one-core"),
        pytest.param("1.0001", 1001, 2, id="milli-rounds-up"),
        pytest.param("1Mi", 1048576000, 1048576, id="mebi"),
        pytest.param("-1.5", -1500, -1, id="negative-ceiling"),
    ],
)
def test_milli_value_and_value(text: str, millis: int, units: int) -> None:
    assert resource.milli_value(text) == millis
    assert resource.value(text) == units
