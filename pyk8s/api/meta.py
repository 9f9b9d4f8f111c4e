"""ObjectMeta helpers: names, generated names, timestamps and metadata validation.

Objects are plain dicts. Mirrors apimachinery ``pkg/api/validation/objectmeta.go``
(``ValidateObjectMeta``), ``pkg/util/validation/validation.go`` (name formats),
``apiserver/pkg/storage/names/generate.go`` (``generateName`` suffixes) and the
``metav1.Time`` wire format (RFC 3339, seconds, UTC, ``Z``).
"""

from __future__ import annotations

import datetime
import re
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from pyk8s.api.errors import FieldError, forbidden, invalid_value, required

Obj = dict[str, Any]

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# Upstream's generator alphabet: consonants and digits without look-alikes.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
GENERATED_SUFFIX_LEN = 5
_MAX_GENERATED_PREFIX = DNS1123_SUBDOMAIN_MAX - GENERATED_SUFFIX_LEN


_NOW: list[tuple[int, str]] = [(-1, "")]


def now() -> str:
    """The current time as API objects carry it (whole seconds, UTC); formatted once a
    second: every write stamps it, some twice."""
    second = int(time.time())
    cached = _NOW[0]
    if cached[0] != second:
        at = datetime.datetime.fromtimestamp(second, datetime.UTC)
        cached = _NOW[0] = (second, format_time(at))
    return cached[1]


def format_time(t: datetime.datetime) -> str:
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(base: str) -> str:
    """``base`` (cut to leave room) plus five random characters, as upstream does."""
    if len(base) > _MAX_GENERATED_PREFIX:
        base = base[:_MAX_GENERATED_PREFIX]
    return base + "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(GENERATED_SUFFIX_LEN))


def metadata(obj: Obj) -> Obj:
    md = obj.get("metadata")
    if not isinstance(md, dict):
        md = {}
        obj["metadata"] = md
    return md


# -- name formats (pkg/util/validation/validation.go), messages as upstream words them


def dns1123_label(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _DNS1123_LABEL.match(value):
        errs.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
            "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )
    return errs


def dns1123_subdomain(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _DNS1123_SUBDOMAIN.match(value):
        errs.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?"
            "(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        )
    return errs


def dns1035_label(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _DNS1035_LABEL.match(value):
        errs.append(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
            "with an alphabetic character, and end with an alphanumeric character (e.g. "
            "'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')"
        )
    return errs


def path_segment_name(value: str) -> list[str]:
    """Names that only have to be usable in a URL path (RBAC roles, ...)."""
    for bad in (".", ".."):
        if value == bad:
            return [f"may not be '{bad}'"]
    for bad in ("/", "%"):
        if bad in value:
            return [f"may not contain '{bad}'"]
    return []


NameValidator = Callable[[str], list[str]]


def qualified_name(value: str) -> list[str]:
    """Label and annotation keys: ``[prefix/]name``."""
    errs: list[str] = []
    prefix, sep, name = value.rpartition("/")
    if sep and not prefix:
        errs.append("prefix part must be non-empty")
    elif sep:
        errs.extend("prefix part " + e for e in dns1123_subdomain(prefix))
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > DNS1123_LABEL_MAX:
        errs.append(f"name part must be no more than {DNS1123_LABEL_MAX} characters")
    elif not _QUALIFIED_NAME_PART.match(name):
        errs.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return errs


def label_value(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _LABEL_VALUE.match(value):
        errs.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', "
            "'_' or '.', and must start and end with an alphanumeric character (e.g. "
            "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )
    return errs


TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def validate_object_meta(
    obj: Obj, *, namespaced: bool, name_validator: NameValidator
) -> list[FieldError]:
    """``ValidateObjectMeta`` for a create: name, namespace, labels, annotations."""
    md = obj.get("metadata") or {}
    errs: list[FieldError] = []
    name = md.get("name", "")
    if not name:
        if md.get("generateName"):
            pass
        else:
            errs.append(required("metadata.name", "name or generateName is required"))
    else:
        for msg in name_validator(name):
            errs.append(invalid_value("metadata.name", name, msg))
    gen = md.get("generateName", "")
    if gen and not name:
        for msg in name_validator(generate_name(gen)):
            errs.append(invalid_value("metadata.generateName", gen, msg))
    ns = md.get("namespace", "")
    if namespaced:
        if not ns:
            errs.append(required("metadata.namespace"))
        else:
            for msg in dns1123_label(ns):
                errs.append(invalid_value("metadata.namespace", ns, msg))
    elif ns:
        errs.append(forbidden("metadata.namespace", "not allowed on this type"))
    errs.extend(validate_labels(md.get("labels"), "metadata.labels"))
    errs.extend(validate_annotations(md.get("annotations"), "metadata.annotations"))
    return errs


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if labels is None:
        return errs
    if not isinstance(labels, dict):
        return [invalid_value(path, labels, "must be a map of strings")]
    for k, v in labels.items():
        for msg in qualified_name(k):
            errs.append(invalid_value(path, k, msg))
        if not isinstance(v, str):
            errs.append(invalid_value(f"{path}", v, "label values must be strings"))
            continue
        for msg in label_value(v):
            errs.append(invalid_value(path, v, msg))
    return errs


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if annotations is None:
        return errs
    if not isinstance(annotations, dict):
        return [invalid_value(path, annotations, "must be a map of strings")]
    total = 0
    for k, v in annotations.items():
        for msg in qualified_name(k.lower()):
            errs.append(invalid_value(path, k, msg))
        total += len(k) + len(v if isinstance(v, str) else "")
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(
            FieldError(
                "FieldValueTooLong",
                path,
                f"may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes",
                show_value=False,
            )
        )
    return errs
