"""The client library: what every component but the API server uses to reach the cluster.

client-go's equivalents, on asyncio. Import the modules and call them qualified,
as Go code does: ``from pyk8s.client import workqueue`` then
``workqueue.RateLimitingQueue()``.

- :mod:`workqueue` controller work queues (one worker per key, ``add_after``, rate limits)
- :mod:`cache` the informer cache: ``cache.store``, ``cache.index``, ``cache.listers``,
  ``cache.frozen`` (read-only cached objects)
- :mod:`rest` the REST client: ``rest.Client``, ``rest.ResourceRef``, ``rest.PatchType``
- :mod:`kubeconfig` kubeconfig files and in-cluster service accounts
- :mod:`clock` injectable time
"""

# Load the cache modules so ``pyk8s.client.cache.store`` etc. resolve after ``import pyk8s.client``.
import pyk8s.client.cache.frozen
import pyk8s.client.cache.index
import pyk8s.client.cache.listers
import pyk8s.client.cache.store  # noqa: F401
from pyk8s.client import cache, clock, kubeconfig, rest, workqueue

__all__ = ["cache", "clock", "kubeconfig", "rest", "workqueue"]
