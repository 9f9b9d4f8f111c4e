"""The kubelet: the node agent that runs pods (``pkg/kubelet``)."""
