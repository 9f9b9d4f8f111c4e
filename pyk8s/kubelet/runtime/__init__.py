"""The container runtime seam and its runc implementation (``pkg/kubelet/kuberuntime``)."""
