"""The client library: what every component but the API server uses to reach the cluster.

client-go's equivalents, on asyncio: :mod:`workqueue` (controller work queues),
:mod:`clock` (injectable time). Import the modules and call them qualified:
``from pyk8s.client import workqueue`` then ``workqueue.RateLimitingQueue()``.
"""

from pyk8s.client import clock, workqueue

__all__ = ["clock", "workqueue"]
