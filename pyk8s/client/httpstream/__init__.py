"""Upgraded HTTP connections: SPDY/3.1 streams and raw upgrades (apimachinery's
``util/httpstream``), shared by the API server and the kubelet."""
