"""Salesforce login flows, sessions and the daily API request allowance.

Login flows (the ones simple-salesforce 1.12 uses):

* ``POST /services/Soap/u/{version}`` — SOAP ``login`` with username and
  password + security token (``Salesforce(username=, password=,
  security_token=)``); answers ``sessionId`` and ``serverUrl``.
* ``POST /services/oauth2/token`` — ``grant_type=password`` (client id and
  secret, username, password + security token) and
  ``grant_type=client_credentials``; answers ``access_token``,
  ``instance_url``, ``token_type``.

simple-salesforce sends logins to ``https://{domain}.salesforce.com/...``.
The sandbox therefore also accepts any path of the form
``/{name}.salesforce.com/services/...``: passing
``domain="127.0.0.1:PORT/login"`` makes the client reach
``https://127.0.0.1:PORT/login.salesforce.com/services/Soap/u/60.0`` here.

Sessions expire ``session_ttl`` after issue (injectable clock) or at once
with :meth:`SalesforceAuth.expire_all`; REST calls then get 401
``INVALID_SESSION_ID`` and the client logs in again.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import secrets
import threading
from typing import Callable
from urllib.parse import urlsplit
from xml.dom import minidom
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

from connectors.sandbox.http import Request, Response
from connectors.sandbox.sf_schema import salesforce_id

ORG_ID = salesforce_id("Organization", 1)
USER_ID = salesforce_id("User", 1)
PARTNER_NS = "urn:partner.soap.sforce.com"

DEFAULT_LOGIN = {
    "username": "revops@nrr-sandbox.example",
    "password": "sandbox-password-1",
    "security_token": "SbxSecurityToken42",
    "consumer_key": "3MVG9sandbox.nrr.engine.connected.app",
    "consumer_secret": "SANDBOXCONSUMERSECRET0001",
}


class SalesforceAuth:
    """Issues and checks session ids; knows the one sandbox user and app."""

    def __init__(self, clock: Callable[[], dt.datetime], session_ttl: dt.timedelta,
                 login: dict[str, str] | None = None) -> None:
        self.clock = clock
        self.session_ttl = session_ttl
        self.login = {**DEFAULT_LOGIN, **(login or {})}
        self._sessions: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def credentials(self, base_url: str) -> dict[str, str]:
        """Working credentials for clients of the sandbox at ``base_url``.

        ``client_id``/``client_secret`` repeat ``consumer_key``/``consumer_secret``
        under the OAuth names; ``domain`` makes simple-salesforce's login URL
        reach this server (see the module docstring); ``session_id`` is a fresh
        session for the direct ``session_id`` + ``instance_url`` use.
        """
        host = urlsplit(base_url).netloc
        return {**self.login, "client_id": self.login["consumer_key"],
                "client_secret": self.login["consumer_secret"], "instance_url": base_url,
                "domain": f"{host}/login", "api_version": "60.0", "session_id": self.issue()}

    # -- sessions ---------------------------------------------------------
    def issue(self) -> str:
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._sessions[token] = self.clock()
        return token

    def valid(self, header: str | None) -> bool:
        """``Authorization: Bearer <sid>`` (or ``OAuth <sid>``) names a live session."""
        if not header or " " not in header:
            return False
        scheme, token = header.split(" ", 1)
        if scheme.lower() not in ("bearer", "oauth"):
            return False
        with self._lock:
            issued = self._sessions.get(token.strip())
        return issued is not None and self.clock() - issued < self.session_ttl

    def expire_all(self) -> None:
        with self._lock:
            self._sessions.clear()

    # -- login endpoints --------------------------------------------------
    def _password_ok(self, username: str | None, password: str | None) -> bool:
        expected = self.login["password"] + self.login["security_token"]
        return (username or "") == self.login["username"] and hmac.compare_digest(
            (password or "").encode(), expected.encode())

    def _client_ok(self, client_id: str | None, client_secret: str | None) -> bool:
        return (client_id or "") == self.login["consumer_key"] and hmac.compare_digest(
            (client_secret or "").encode(), self.login["consumer_secret"].encode())

    def oauth_token(self, req: Request, base_url: str) -> Response:
        form = {k: v[0] for k, v in req.form().items()}
        form.update(_basic_client(req.header("authorization")))
        grant = form.get("grant_type")
        if grant not in ("password", "client_credentials"):
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        if not self._client_ok(form.get("client_id"), form.get("client_secret")):
            return _oauth_error("invalid_client", "invalid client credentials")
        if grant == "password" and not self._password_ok(form.get("username"), form.get("password")):
            return _oauth_error("invalid_grant", "authentication failure")
        issued_ms = int(self.clock().timestamp() * 1000)
        return Response(200, {
            "access_token": self.issue(), "instance_url": base_url, "token_type": "Bearer",
            "id": f"{base_url}/id/{ORG_ID}/{USER_ID}", "issued_at": str(issued_ms),
            "signature": secrets.token_urlsafe(32),
        })

    def soap_login(self, req: Request, base_url: str, version: str) -> Response:
        try:
            doc = minidom.parseString(req.body)
        except ExpatError:
            return _soap_fault("INVALID_LOGIN", "INVALID_LOGIN: malformed SOAP login request", 500)
        username = _element_text(doc, "username")
        password = _element_text(doc, "password")
        if not self._password_ok(username, password):
            return _soap_fault("INVALID_LOGIN", "INVALID_LOGIN: Invalid username, password, security "
                               "token; or user locked out.", 500)
        return Response(200, _login_xml(self.issue(), base_url, version, username or ""),
                        {"Content-Type": "text/xml;charset=UTF-8"})


def _basic_client(header: str | None) -> dict[str, str]:
    """``Authorization: Basic base64(client_id:client_secret)`` (client-credentials flow)."""
    if not header or not header.lower().startswith("basic "):
        return {}
    try:
        client_id, _, secret = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return {}
    return {"client_id": client_id, "client_secret": secret}


def _element_text(doc: minidom.Document, name: str) -> str | None:
    nodes = doc.getElementsByTagNameNS(PARTNER_NS, name) or doc.getElementsByTagName(name)
    if not nodes or not nodes[0].firstChild:
        return None
    return "".join(n.data for n in nodes[0].childNodes if n.nodeType == n.TEXT_NODE)


def _oauth_error(error: str, description: str) -> Response:
    return Response(400, {"error": error, "error_description": description})


def _soap_fault(code: str, message: str, status: int) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{code}</faultcode><faultstring>{escape(message)}</faultstring>"
        f"<detail><sf:LoginFault><sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(status, body, {"Content-Type": "text/xml;charset=UTF-8"})


def _login_xml(session_id: str, base_url: str, version: str, username: str) -> str:
    server_url = f"{base_url}/services/Soap/u/{version}/{ORG_ID[:15]}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns="{PARTNER_NS}"><soapenv:Body><loginResponse><result>'
        f"<metadataServerUrl>{base_url}/services/Soap/m/{version}/{ORG_ID[:15]}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{server_url}</serverUrl><sessionId>{escape(session_id)}</sessionId>"
        f"<userId>{USER_ID}</userId><userInfo><organizationId>{ORG_ID}</organizationId>"
        f"<userName>{escape(username)}</userName><sessionSecondsValid>7200</sessionSecondsValid>"
        "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
