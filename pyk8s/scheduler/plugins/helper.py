"""Score helpers shared by plugins (``plugins/helper/normalize_score.go``, ``shape_score.go``).

Go divides integers truncating toward zero; :func:`div` does the same, since
Python's ``//`` floors and the two differ for negative numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyk8s.scheduler.framework.interface import NodeScore


def div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as Go's ``/``."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def default_normalize_score(max_priority: int, reverse: bool, scores: list[NodeScore]) -> None:
    """Scale scores to [0, max_priority] by the highest; ``reverse`` flips them."""
    max_count = max((s.score for s in scores), default=0)
    if max_count == 0:
        if reverse:
            for s in scores:
                s.score = max_priority
        return
    for s in scores:
        v = div(max_priority * s.score, max_count)
        s.score = max_priority - v if reverse else v


def default_normalize_scores(max_priority: int, reverse: bool, scores: list[int]) -> list[int]:
    """:func:`default_normalize_score` over plain scores (no NodeScore per node)."""
    max_count = max(scores, default=0)
    if max_count == 0:
        return [max_priority] * len(scores) if reverse else scores
    if min(scores) >= 0 and max_priority >= 0:  # non-negative: Go's / is Python's //
        if reverse:
            return [max_priority - max_priority * v // max_count for v in scores]
        return [max_priority * v // max_count for v in scores]
    if reverse:
        return [max_priority - div(max_priority * v, max_count) for v in scores]
    return [div(max_priority * v, max_count) for v in scores]


def broken_linear_function(shape: Sequence[tuple[int, int]]) -> Callable[[int], int]:
    """A piecewise-linear function through (utilization, score) points, flat outside them."""

    def f(p: int) -> int:
        for i, (util, score) in enumerate(shape):
            if p <= util:
                if i == 0:
                    return shape[0][1]
                pu, ps = shape[i - 1]
                return ps + div((score - ps) * (p - pu), util - pu)
        return shape[-1][1]

    return f
