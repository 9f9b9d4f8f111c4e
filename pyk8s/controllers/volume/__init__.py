"""Volume controllers of the controller-manager (upstream ``pkg/controller/volume``)."""
