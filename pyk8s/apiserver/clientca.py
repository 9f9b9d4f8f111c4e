"""Advertise the trusted client CAs in the TLS handshake, as Go's server does.

A Go ``tls.Config`` with ``ClientCAs`` lists those CAs' subjects in the
``certificate_authorities`` of its CertificateRequest, so ``openssl s_client``
prints "Acceptable client certificate CA names" and clients pick the right
certificate (upstream's ``test_client_certificate_authentication_enabled``
checks exactly that). Python's ``ssl`` module verifies against the CAs it is
given but has no call for that list (OpenSSL's ``SSL_CTX_set_client_CA_list``).
This module makes that one call on the context's ``SSL_CTX`` through ctypes.

WARNING: it reads the ``SSL_CTX *`` that CPython keeps right after the object
header of an ``ssl.SSLContext``. It only proceeds when the libssl loaded in this
process is the one ``ssl`` reports and the pointer it found has the verify mode
the Python object says; otherwise it logs and leaves the context alone (the
handshake then works as before, just without the list).
"""

from __future__ import annotations

import ctypes
import logging
import ssl
import sys
from pathlib import Path

log = logging.getLogger(__name__)

SSL_VERIFY_PEER = 0x01
SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02


def _libssl() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libssl.so" in line}
    except OSError:
        return None
    if len(paths) != 1:
        return None
    lib = ctypes.CDLL(paths.pop())
    try:
        lib.OpenSSL_version_num.restype = ctypes.c_ulong
        if lib.OpenSSL_version_num() != ssl.OPENSSL_VERSION_NUMBER:
            return None
    except AttributeError:
        return None
    return lib


def _ssl_ctx_pointer(ctx: ssl.SSLContext) -> int:
    header = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)
    return ctypes.c_void_p.from_address(id(ctx) + header).value or 0


def advertise(ctx: ssl.SSLContext, cafiles: list[Path]) -> bool:
    """Send the subjects of the certificates in ``cafiles`` as acceptable client CAs.

    Blocking (reads the files): call before serving, from a thread if need be.
    Returns whether the list is in place."""
    lib = _libssl()
    if lib is None:
        log.info("client CA names not advertised: libssl not found as the ssl module uses it")
        return False
    ptr = _ssl_ctx_pointer(ctx)
    if not ptr:
        return False
    lib.SSL_CTX_get_verify_mode.restype = ctypes.c_int
    lib.SSL_CTX_get_verify_mode.argtypes = [ctypes.c_void_p]
    expected = {
        ssl.CERT_NONE: 0,
        ssl.CERT_OPTIONAL: SSL_VERIFY_PEER,
        ssl.CERT_REQUIRED: SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
    }[ctx.verify_mode]
    if lib.SSL_CTX_get_verify_mode(ptr) != expected:
        log.info("client CA names not advertised: unexpected SSLContext layout")
        return False
    lib.SSL_load_client_CA_file.restype = ctypes.c_void_p
    lib.SSL_load_client_CA_file.argtypes = [ctypes.c_char_p]
    lib.SSL_add_file_cert_subjects_to_stack.restype = ctypes.c_int
    lib.SSL_add_file_cert_subjects_to_stack.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.SSL_CTX_set_client_CA_list.restype = None
    lib.SSL_CTX_set_client_CA_list.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    names = lib.SSL_load_client_CA_file(str(cafiles[0]).encode())
    if not names:
        log.warning("client CA names not advertised: cannot read %s", cafiles[0])
        return False
    for extra in cafiles[1:]:
        lib.SSL_add_file_cert_subjects_to_stack(names, str(extra).encode())
    # The context takes ownership of the list.
    lib.SSL_CTX_set_client_CA_list(ptr, names)
    return True
