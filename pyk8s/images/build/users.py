"""USER and --chown names looked up in the image's /etc/passwd and /etc/group (moby
``builder/dockerfile/internals_linux.go`` ``parseChownFlag``)."""

from __future__ import annotations

from pathlib import Path

from pyk8s.images import layers


def read_in(lowers: list[Path], rel: str) -> str:
    p = layers.lookup(lowers, rel)
    if p is None or not p.is_file():
        return ""
    return p.read_text(errors="replace")


def user(spec: str, lowers: list[Path]) -> tuple[int, int, list[int]]:
    """``USER`` as uid, gid and supplementary gids, names looked up in the image."""
    if not spec:
        return 0, 0, []
    user, _, group = spec.partition(":")
    passwd = [line.split(":") for line in read_in(lowers, "etc/passwd").splitlines()]
    groups = [line.split(":") for line in read_in(lowers, "etc/group").splitlines()]
    name = user
    if user.isdigit():
        uid = int(user)
        gid = uid
        for e in passwd:
            if len(e) > 3 and e[2] == user:
                gid, name = int(e[3]), e[0]
                break
    else:
        for e in passwd:
            if len(e) > 3 and e[0] == user:
                uid, gid = int(e[2]), int(e[3])
                break
        else:
            raise ValueError(f"unable to find user {user}: no matching entries in passwd file")
    if group:
        gid = group_id(group, groups)
    extra = [int(e[2]) for e in groups if len(e) > 3 and name in e[3].split(",") and e[2].isdigit()]
    return uid, gid, [g for g in extra if g != gid]


def group_id(group: str, groups: list[list[str]]) -> int:
    if group.isdigit():
        return int(group)
    for e in groups:
        if len(e) > 2 and e[0] == group:
            return int(e[2])
    raise ValueError(f"unable to find group {group}: no matching entries in group file")


def chown(spec: str, lowers: list[Path]) -> tuple[int, int]:
    name, _, group = spec.partition(":")
    if name.isdigit() and (not group or group.isdigit()):
        return int(name), int(group or name)
    uid, gid, _ = user(name, lowers)
    if group:
        groups = [line.split(":") for line in read_in(lowers, "etc/group").splitlines()]
        gid = group_id(group, groups)
    return uid, gid
