"""Image references, parsed and normalised as docker does.

``nginx`` is ``docker.io/library/nginx:latest``; ``localhost:5000/team/app:v1@sha256:...``
keeps its registry, path, tag and digest. Mirrors distribution/reference
(``normalize.go`` ``ParseNormalizedNamed``, ``regexp.go``, ``reference.go``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = re.compile(rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*\Z")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?\Z"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}\Z")
_SHA256 = re.compile(r"sha256:[a-f0-9]{64}\Z")
_MAX_NAME = 255


class InvalidReference(ValueError):
    """A string that is not an image reference; the message says why, as docker's does."""


@dataclass(frozen=True)
class Reference:
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """Full repository name: ``docker.io/library/nginx``."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s

    def familiar_name(self) -> str:
        """The short name docker prints: ``nginx``, ``user/app``, ``host:5000/app``."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_REPO_PREFIX) and self.path.count("/") == 1:
                return self.path[len(OFFICIAL_REPO_PREFIX) :]
            return self.path
        return self.name

    def familiar(self) -> str:
        s = self.familiar_name()
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, "")

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, "", digest)


def is_digest(s: str) -> bool:
    return bool(_SHA256.match(s))


def validate_digest(s: str) -> str:
    if not _SHA256.match(s):
        raise InvalidReference(f"invalid digest {s!r}: want sha256:<64 hex digits>")
    return s


def parse(s: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise ``s``. Without tag or digest the tag is ``latest``."""
    if not s:
        raise InvalidReference("invalid reference format: empty reference")
    if len(s) > 4096:
        raise InvalidReference("invalid reference format: too long")
    rest, digest = s, ""
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidReference(f"invalid reference format: bad digest in {s!r}")
        validate_digest(digest)
    tag = ""
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.match(tag):
            raise InvalidReference(f"invalid reference format: bad tag {tag!r} in {s!r}")
    domain, path = _split_domain(rest, s)
    for component in path.split("/"):
        if not _PATH_COMPONENT.match(component):
            if component.lower() != component and _PATH_COMPONENT.match(component.lower()):
                raise InvalidReference(
                    f"invalid reference format: repository name ({path}) must be lowercase"
                )
            raise InvalidReference(f"invalid reference format: {s!r}")
    if len(domain) + 1 + len(path) > _MAX_NAME:
        raise InvalidReference(f"invalid reference format: repository name too long: {s!r}")
    if not tag and not digest and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def _split_domain(name: str, whole: str) -> tuple[str, str]:
    first, sep, remainder = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        if not _DOMAIN.match(first):
            raise InvalidReference(f"invalid reference format: bad registry {first!r} in {whole!r}")
        domain, path = first, remainder
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    if not path:
        raise InvalidReference(f"invalid reference format: {whole!r}")
    return domain, path
