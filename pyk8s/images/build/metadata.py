"""Values of EXPOSE and HEALTHCHECK as the image config records them (moby
``builder/dockerfile/dispatchers.go``)."""

from __future__ import annotations

import json
import re
from typing import Any

from pyk8s.images.build import dockerfile


def ports(p: str) -> list[str]:
    port, _, proto = p.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise ValueError(f"invalid proto: {proto}")
    if "-" in port:
        a, b = port.split("-", 1)
        if not (a.isdigit() and b.isdigit()) or int(a) > int(b):
            raise ValueError(f"invalid port range: {port}")
        return [f"{n}/{proto}" for n in range(int(a), int(b) + 1)]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"invalid containerPort: {port}")
    return [f"{int(port)}/{proto}"]


def duration(text: str) -> int:
    """Go duration (``30s``, ``1m30s``, ``500ms``) in nanoseconds."""
    units = {"ns": 1, "us": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError(f"invalid duration {text!r}")
    return int(sum(float(a) * units[b] for a, b in parts))


def healthcheck(ins: dockerfile.Instruction) -> dict[str, Any]:
    word, _, rest = ins.args.partition(" ")
    if word.upper() == "NONE":
        return {"Test": ["NONE"]}
    if word.upper() != "CMD":
        raise ValueError("HEALTHCHECK: want CMD or NONE")
    rest = rest.strip()
    test: list[str]
    if rest.startswith("["):
        try:
            test = ["CMD", *json.loads(rest)]
        except json.JSONDecodeError:
            test = ["CMD-SHELL", rest]
    else:
        test = ["CMD-SHELL", rest]
    hc: dict[str, Any] = {"Test": test}
    durations = (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    )
    for flag, key in durations:
        if flag in ins.flags:
            hc[key] = duration(ins.flags[flag])
    if "retries" in ins.flags:
        hc["Retries"] = int(ins.flags["retries"])
    return hc
