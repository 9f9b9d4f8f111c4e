"""The client library: what every component but the API server uses to reach the cluster.

client-go's equivalents, on asyncio. Import the modules and call them qualified,
as Go code does: ``from pyk8s.client import workqueue`` then
``workqueue.RateLimitingQueue()``.

- :mod:`rest` the REST client: ``rest.Client``, ``rest.ResourceRef``, ``rest.PatchType``
- :mod:`kubeconfig` kubeconfig files and in-cluster service accounts
- :mod:`fake` an in-memory client recording actions, for components' unit tests
- :mod:`informers` ``informers.factory.SharedInformerFactory``,
  ``informers.shared_informer``, ``informers.reflector``, ``informers.listwatch``
- :mod:`cache` the informer cache: ``cache.store``, ``cache.index``, ``cache.listers``,
  ``cache.frozen`` (read-only cached objects)
- :mod:`workqueue` controller work queues (one worker per key, ``add_after``, rate limits)
- :mod:`leaderelection` leader election on a coordination.k8s.io Lease
- :mod:`events` the event recorder (events.k8s.io/v1, series for repeats)
- :mod:`httpstream` SPDY/3.1 streams and non-WebSocket HTTP upgrades (port-forward)
- :mod:`tokenrequest` service-account tokens from the API (TokenRequest), for the kubelet
- :mod:`backoff` exponential backoff with jitter; :mod:`clock` injectable time
"""

# Load the subpackages' modules so ``pyk8s.client.cache.store`` and the like resolve
# after a plain ``import pyk8s.client``.
import pyk8s.client.cache.frozen
import pyk8s.client.cache.index
import pyk8s.client.cache.listers
import pyk8s.client.cache.store
import pyk8s.client.httpstream.spdy
import pyk8s.client.httpstream.upgrade
import pyk8s.client.informers.factory
import pyk8s.client.informers.listwatch
import pyk8s.client.informers.reflector
import pyk8s.client.informers.shared_informer  # noqa: F401
from pyk8s.client import (
    backoff,
    cache,
    clock,
    events,
    fake,
    httpstream,
    informers,
    kubeconfig,
    leaderelection,
    rest,
    tokenrequest,
    workqueue,
)

__all__ = [
    "backoff",
    "cache",
    "clock",
    "events",
    "fake",
    "httpstream",
    "informers",
    "kubeconfig",
    "leaderelection",
    "rest",
    "tokenrequest",
    "workqueue",
]
