"""RBAC objects: names only need to be valid URL path segments.

Mirrors ``pkg/apis/rbac/validation`` (``ValidateRBACName = path.IsValidPathSegmentName``).
"""

from __future__ import annotations

from pyk8s.api import meta
from pyk8s.apiserver.registry.generic.strategy import Strategy


class RBACStrategy(Strategy):
    name_validator = staticmethod(meta.path_segment_name)
