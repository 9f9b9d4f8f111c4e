"""The pod network: a bridge per node, a veth per pod, host-local IPAM (the CNI's place)."""
