"""Self-signed certificate authority for the sandbox's HTTPS emulators.

A fresh CA and a server certificate for ``127.0.0.1`` / ``localhost`` are made
at start with ``trustme`` and written to a private temporary directory.
Clients trust the sandbox by pointing at :attr:`SandboxTLS.ca_path` (e.g.
``requests.Session().verify = ca_path``); verification is never switched off.
The private key never leaves the process: only the CA *certificate* is
written to disk.
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
from pathlib import Path

import requests
import trustme

HOSTS = ("127.0.0.1", "localhost")


class SandboxTLS:
    """A CA, one server certificate, and the server-side SSL context."""

    def __init__(self, directory: Path | None = None) -> None:
        self._owned = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="nrr-sandbox-tls-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self._ca = trustme.CA(organization_name="NRR Engine sandbox")
        self._cert = self._ca.issue_cert(*HOSTS)
        self.ca_path = self.directory / "sandbox-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_path))

    def server_context(self) -> ssl.SSLContext:
        """SSL context presenting the sandbox certificate (TLS 1.2+)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._cert.configure_cert(context)
        return context

    def cleanup(self) -> None:
        """Remove the CA file (only when this object made the directory)."""
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)


def trusting_session(ca_path: Path | str) -> requests.Session:
    """A ``requests.Session`` that verifies HTTPS against ``ca_path`` only.

    Why ``trust_env = False``: with it on, requests replaces a session-level
    ``verify`` by ``$REQUESTS_CA_BUNDLE`` / ``$CURL_CA_BUNDLE`` whenever they are
    set (requests issue #3829), so the sandbox CA would silently be ignored.
    Turning it off also bypasses proxy variables, which is right for 127.0.0.1.
    Verification stays on.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_path)
    return session
