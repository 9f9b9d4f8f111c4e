"""DaemonSet registry (``pkg/registry/apps/daemonset``)."""
