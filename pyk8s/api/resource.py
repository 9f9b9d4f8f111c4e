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

__all__ = ["QuantityError", "milli_value", "parse_quantity", "value"]


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
