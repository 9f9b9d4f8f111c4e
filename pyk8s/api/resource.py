"""Resource quantities: ``"100m"``, ``"1Gi"``, ``"2.5"``, ``"1e3"`` as exact numbers.

Mirrors apimachinery ``pkg/api/resource/quantity.go``: a quantity is a signed
decimal number with an optional binary suffix (``Ki Mi Gi Ti Pi Ei``), decimal
suffix (``n u m k M G T P E``) or decimal exponent (``e3``, ``E-2``). Values are
held exactly as :class:`fractions.Fraction`; :func:`value` and :func:`milli_value`
round up, as ``Quantity.Value()`` and ``Quantity.MilliValue()`` do.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction

__all__ = ["QuantityError", "canonical", "milli_value", "parse_quantity", "value"]


class QuantityError(ValueError):
    """A string that is not a quantity (the API rejects it as invalid)."""


_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?"
    r"(?:(?P<bin>Ki|Mi|Gi|Ti|Pi|Ei)|[eE](?P<exp>[+-]?[0-9]+)|(?P<dec>[numkMGTPE]?))"
)


@functools.lru_cache(maxsize=4096)
def _parse_str(s: str) -> Fraction:
    m = _QUANTITY.fullmatch(s)
    if m is None or (not m["int"] and not m["frac"]):
        raise QuantityError(
            f"quantities must match the regular expression "
            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {s!r}"
        )
    digits = (m["int"] or "") + (m["frac"] or "")
    number = Fraction(int(digits or "0"), 10 ** len(m["frac"] or ""))
    if m["bin"]:
        number *= _BINARY[m["bin"]]
    elif m["exp"] is not None:
        number *= Fraction(10) ** int(m["exp"])
    else:
        number *= _DECIMAL[m["dec"] or ""]
    return -number if m["sign"] == "-" else number


def parse_quantity(q: str | int | float) -> Fraction:
    """The exact value of a quantity; numbers are accepted as JSON may carry them."""
    if isinstance(q, bool):
        raise QuantityError(f"a quantity cannot be a boolean: {q!r}")
    if isinstance(q, int):
        return Fraction(q)
    if isinstance(q, float):
        return Fraction(str(q))
    if not isinstance(q, str):
        raise QuantityError(f"a quantity must be a string or a number, not {type(q).__name__}")
    return _parse_str(q.strip())


def _ceil(x: Fraction) -> int:
    return -((-x.numerator) // x.denominator)


def value(q: str | int | float) -> int:
    """The value rounded up to an integer (``Quantity.Value()``): bytes, pods, devices."""
    return _ceil(parse_quantity(q))


def milli_value(q: str | int | float) -> int:
    """The value in thousandths, rounded up (``Quantity.MilliValue()``): millicores."""
    return _ceil(parse_quantity(q) * 1000)


_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P",
                     18: "E"}  # fmt: skip
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+$")


def canonical(q: str | int | float) -> str:
    """The quantity as upstream serialises it (``Quantity.String()``, ``CanonicalizeBytes``):
    ``0.5`` -> ``500m``, ``1024Mi`` -> ``1Gi``, ``1500`` -> ``1500``, ``2000`` -> ``2k``.

    The format follows the input's suffix (binary, decimal SI or exponent); a binary value
    below 1024 or with a fraction is written in decimal SI; the value is rounded up to
    nano units; the decimal mantissa is the integer at the largest exponent that is a
    multiple of 3."""
    number = parse_quantity(q)
    if number == 0:
        return "0"
    text = q.strip() if isinstance(q, str) else ""
    if text.endswith(_BINARY_SUFFIXES[1:]):
        fmt = "binary"
    elif _EXPONENT.search(text):
        fmt = "exponent"
    else:
        fmt = "decimal"
    sign = "-" if number < 0 else ""
    nanos = _ceil(abs(number) * 10**9)
    if fmt == "binary" and (nanos < 1024 * 10**9 or nanos % 10**9):
        fmt = "decimal"
    if fmt == "binary":
        mantissa, power = nanos // 10**9, 0
        while mantissa % 1024 == 0 and power < len(_BINARY_SUFFIXES) - 1:
            mantissa, power = mantissa // 1024, power + 1
        return f"{sign}{mantissa}{_BINARY_SUFFIXES[power]}"
    mantissa, exponent = nanos, -9
    while mantissa % 10 == 0:
        mantissa, exponent = mantissa // 10, exponent + 1
    shift = exponent % 3
    mantissa, exponent = mantissa * 10**shift, exponent - shift
    if fmt == "decimal" and exponent in _DECIMAL_SUFFIXES:
        suffix = _DECIMAL_SUFFIXES[exponent]
    else:
        suffix = f"e{exponent}" if exponent else ""
    return f"{sign}{mantissa}{suffix}"
