"""Fixtures shared with the image and kubelet tests."""

from tests.e2e.images.conftest import image_tarball  # noqa: F401
