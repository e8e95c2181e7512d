"""Live connections kept in the workspace — without secrets — and their credentials (azure-identity only).

A connection names a service URL, how to sign in (an :class:`Auth` kind, a tenant and client id) and the
endpoint's field names. Secrets never enter the workspace: an option that looks like one is refused, and
a client secret is read from the environment by azure-identity when a token is needed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from ..errors import ContactSyncError, shorten

__all__ = ["BC_SCOPE", "DEFAULT_NAV_FIELDS", "Auth", "Connection", "LiveConnectionError", "Side", "StaticTokenCredential",
           "credential_for", "load", "load_all", "save"]

BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
_SECRET_WORDS = ("secret", "password", "token", "key", "credential")


class LiveConnectionError(ContactSyncError):
    """A live connection is misconfigured or the service refused it (auth, URL, permission, missing field)."""


class Side(str, Enum):
    CRM = "crm"
    NAV = "nav"


class Auth(str, Enum):
    """How to get a token, each through azure-identity (nothing is stored but the kind and the ids)."""

    ENVIRONMENT = "environment"            # EnvironmentCredential: AZURE_TENANT_ID/CLIENT_ID/CLIENT_SECRET
    DEFAULT = "default"                    # DefaultAzureCredential (environment, managed identity, az login...)
    DEVICE_CODE = "device_code"            # DeviceCodeCredential
    INTERACTIVE = "interactive"            # InteractiveBrowserCredential
    MANAGED_IDENTITY = "managed_identity"  # ManagedIdentityCredential
    CLIENT_SECRET_ENV = "client_secret_env"  # ClientSecretCredential, the secret read from ``secret_env``
    STATIC_TOKEN_ENV = "static_token_env"  # a bearer token from an environment variable (the local test server)


#: BC API v2.0 contact property per workspace NAV field (the API has no First/Middle Name, Surname, Fax No.)
DEFAULT_NAV_FIELDS: dict[str, str] = {
    "No.": "number", "Type": "type", "Name": "displayName", "Job Title": "jobTitle",
    "Company No.": "companyNumber", "Company Name": "companyName", "Address": "addressLine1",
    "Address 2": "addressLine2", "City": "city", "County": "state", "Country/Region Code": "country",
    "Post Code": "postalCode", "Phone No.": "phoneNumber", "Mobile Phone No.": "mobilePhoneNumber",
    "E-Mail": "email", "Home Page": "website", "SystemModifiedAt": "lastModifiedDateTime",
}
#: A custom API page with the name fields (as the local test server publishes it)
CUSTOM_NAV_FIELDS: dict[str, str] = {**DEFAULT_NAV_FIELDS, "First Name": "firstName", "Middle Name": "middleName",
                                     "Surname": "surname", "Fax No.": "faxNo"}


@dataclass
class Connection:
    side: Side
    url: str
    auth: Auth = Auth.DEFAULT
    tenant_id: str | None = None
    client_id: str | None = None
    secret_env: str | None = None          # the NAME of the environment variable holding a secret / token
    entity_set: str = "contacts"
    fields: dict[str, str] = field(default_factory=dict)   # workspace field -> endpoint field (NAV side)
    page_size: int | None = None
    batch_size: int | None = None
    margin_seconds: float = 1.0            # the watermark's safety margin (BC: 999 ms)
    change_tracking: bool = True           # Dataverse: use delta links (else the modified-on watermark)
    # client-side pacing: at most ``rate_limit`` requests in any ``rate_window_seconds`` (a sliding window, as
    # both services count: Dataverse 6,000 / 5 min per user, Business Central 6,000 / 5 min per user); None: no
    # pacing. ``rate_counts_operations``: each operation inside a $batch counts as one request (stricter)
    rate_limit: int | None = 6000
    rate_window_seconds: int = 300
    rate_counts_operations: bool = False

    def __post_init__(self):
        self.side = Side(self.side)
        self.auth = Auth(self.auth)
        self.url = self.url.rstrip("/")
        if not self.url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise LiveConnectionError(f"connection URL {shorten(self.url)} must start with https:// (plain http only "
                                   "for a local test server on 127.0.0.1)")
        if self.side is Side.NAV and not self.fields:
            self.fields = dict(DEFAULT_NAV_FIELDS)
        if self.auth is Auth.CLIENT_SECRET_ENV and not (self.tenant_id and self.client_id and self.secret_env):
            raise LiveConnectionError("auth 'client_secret_env' needs tenant_id, client_id and secret_env (the name of "
                                   "the environment variable holding the secret, never the secret itself)")
        if self.auth is Auth.STATIC_TOKEN_ENV and not self.secret_env:
            raise LiveConnectionError("auth 'static_token_env' needs secret_env: the name of the environment variable "
                                   "holding the token")
        if self.rate_limit is not None and (int(self.rate_limit) < 1 or int(self.rate_window_seconds) < 1):
            raise LiveConnectionError(f"rate_limit ({self.rate_limit}) and rate_window_seconds "
                                      f"({self.rate_window_seconds}) must be at least 1; rate_limit=None turns the "
                                      "pacing off")
        if self.secret_env is not None and not _looks_like_env_name(self.secret_env):
            raise LiveConnectionError("secret_env must be the NAME of an environment variable (like "
                                   "CONTACTSYNC_CRM_SECRET), not a secret; the value given was not stored")

    @property
    def scope(self) -> str:
        if self.side is Side.NAV:
            return BC_SCOPE
        from urllib.parse import urlsplit

        u = urlsplit(self.url)
        return f"{u.scheme}://{u.netloc}/.default"

    def to_json(self) -> str:
        d = asdict(self)
        d["side"], d["auth"] = self.side.value, self.auth.value
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Connection:
        return cls(**json.loads(text))


def _looks_like_env_name(text: str) -> bool:
    return text.replace("_", "").isalnum() and text.upper() == text and len(text) <= 64


def check_no_secrets(options: dict) -> None:
    for k in options:
        if k != "secret_env" and any(w in k.lower() for w in _SECRET_WORDS):
            raise LiveConnectionError(
                f"option {k!r} looks like a secret; contactsync keeps no secrets in the workspace. Sign in through "
                "azure-identity instead: auth='environment' (AZURE_CLIENT_SECRET in the environment), "
                "auth='client_secret_env' with secret_env='NAME_OF_THE_VARIABLE', 'device_code', 'interactive' or "
                "'managed_identity'. The value was not stored.")


def save(con, conn: Connection) -> None:
    con.execute("INSERT OR REPLACE INTO live_connection (side, config, created_at) VALUES (?, ?, now())",
                [conn.side.value, conn.to_json()])


def load(con, side: str) -> Connection:
    row = con.execute("SELECT config FROM live_connection WHERE side = ?", [str(Side(side).value)]).fetchone()
    if row is None:
        raise LiveConnectionError(f"no live connection for side {side!r}; connect first: ws.connect({side!r}, url, ...) "
                               f"or contactsync connect {side} URL")
    return Connection.from_json(row[0])


def load_all(con) -> list[Connection]:
    return [Connection.from_json(r[0]) for r in con.execute("SELECT config FROM live_connection ORDER BY side")
            .fetchall()]


class StaticTokenCredential:
    """A ``TokenCredential`` handing out one fixed bearer token (a local test server's; never stored)."""

    def __init__(self, token: str):
        self._token = token

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + 3600)

    def __repr__(self) -> str:  # never show the token
        return "StaticTokenCredential(<hidden>)"


def credential_for(conn: Connection):
    """The azure-identity credential the connection's ``auth`` names."""
    import azure.identity as ai

    a = conn.auth
    if a is Auth.ENVIRONMENT:
        return ai.EnvironmentCredential()
    if a is Auth.DEFAULT:
        return ai.DefaultAzureCredential()
    ids: dict[str, Any] = {k: v for k, v in (("tenant_id", conn.tenant_id), ("client_id", conn.client_id)) if v}
    if a is Auth.DEVICE_CODE:
        return ai.DeviceCodeCredential(**ids)
    if a is Auth.INTERACTIVE:
        return ai.InteractiveBrowserCredential(**ids)
    if a is Auth.MANAGED_IDENTITY:
        return ai.ManagedIdentityCredential(client_id=conn.client_id)
    value = os.environ.get(conn.secret_env or "")
    if not value:
        raise LiveConnectionError(f"environment variable {conn.secret_env} is not set; set it to the "
                               f"{'client secret' if a is Auth.CLIENT_SECRET_ENV else 'token'} before connecting")
    if a is Auth.CLIENT_SECRET_ENV:
        return ai.ClientSecretCredential(str(conn.tenant_id), str(conn.client_id), value)
    return StaticTokenCredential(value)
