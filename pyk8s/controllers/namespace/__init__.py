"""The namespace controller: empties a deleted namespace, then lets it go."""

from __future__ import annotations

from pyk8s.controllers.namespace.controller import NamespaceController, new

__all__ = ["NamespaceController", "new"]
