"""pyk8s: Kubernetes, written in Python."""

__version__ = "0.1.0"

# The Kubernetes release whose API and behaviour pyk8s emulates.
KUBERNETES_VERSION = "v1.33.0"
