"""A local stand-in for the Dataverse Web API v9.2 and the Business Central API v2.0: real HTTP on
127.0.0.1 in a thread, the subset contactsync's connectors use, with fault injection.

Shapes follow Microsoft's documented examples:

- collections, paging (``Prefer: odata.maxpagesize``, ``@odata.nextLink``, no ``$skip``): "Page results
  using OData" https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results
- change tracking (``Prefer: odata.track-changes``, ``@odata.deltaLink`` with ``$deltatoken``, deletions as
  ``{"@odata.context": ".../$metadata#contacts/$deletedEntity", "id": ..., "reason": "deleted"}``):
  https://learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems
- ``@odata.etag`` per row, ``If-Match`` → 412 "The version of the existing record doesn't match the RowVersion
  property provided.", ``If-None-Match: *`` (create only), ``If-Match: *`` (update only):
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api
- ``$batch`` multipart, ``Prefer: odata.continue-on-error``:
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api
- 429 + ``Retry-After`` and error 0x80072322: https://learn.microsoft.com/power-apps/developer/data-platform/api-limits
- BC contacts (``/api/v2.0/companies({id})/contacts``, camelCase properties, ``lastModifiedDateTime``, PATCH
  needs ``If-Match``): https://learn.microsoft.com/dynamics365/business-central/dev-itpro/api-reference/v2.0/resources/dynamics_contact
- BC JSON ``$batch`` (``{"requests": [{"id", "method", "url", "headers", "body"}]}`` → ``{"responses": [...]}``):
  https://learn.microsoft.com/dynamics365/business-central/dev-itpro/webservices/use-odata-batch

Business Central's API v2.0 contact has no first/middle/surname; the server also publishes a custom API page
(``/api/contoso/contactsync/v1.0/...``) with them, as a company would to sync names.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .odata import Part, boundary_of, build_multipart, error_body, parse_multipart

__all__ = ["BC_CUSTOM_FIELDS", "BC_V2_FIELDS", "CRM_FIELDS", "Fault", "LiveTestServer"]

CRM_FIELDS = ("contactid", "firstname", "middlename", "lastname", "fullname", "jobtitle", "address1_line1",
              "address1_line2", "address1_postalcode", "address1_city", "address1_stateorprovince",
              "address1_country", "emailaddress1", "telephone1", "mobilephone", "fax", "websiteurl",
              "_parentcustomerid_value", "modifiedon", "statecode")
#: https://learn.microsoft.com/dynamics365/business-central/dev-itpro/api-reference/v2.0/resources/dynamics_contact
BC_V2_FIELDS = ("id", "number", "type", "displayName", "jobTitle", "companyNumber", "companyName",
                "addressLine1", "addressLine2", "city", "state", "country", "postalCode", "phoneNumber",
                "mobilePhoneNumber", "email", "website", "lastModifiedDateTime")
BC_CUSTOM_FIELDS = BC_V2_FIELDS + ("firstName", "middleName", "surname", "faxNo")
#: Dataverse string lengths (contact entity reference) the server enforces, to answer a 400 as Dataverse does
_CRM_MAXLEN = {"firstname": 50, "middlename": 50, "lastname": 50, "jobtitle": 100, "emailaddress1": 100}

_ROUTE = re.compile(r"^/(?P<svc>crm|bc)/(?P<api>api/data/v9\.2|api/v2\.0|api/contoso/contactsync/v1\.0)"
                    r"(?:/companies\((?P<company>[^)]+)\))?/(?P<rest>.*)$")
_ENTITY = re.compile(r"^(?P<set>contacts|accounts)(?:\((?P<id>[^)]+)\))?$")
_FILTER_CMP = re.compile(r"^(\w+) (eq|gt|ge|lt|le) (.+)$")


class Fault:
    """Fault kinds for :meth:`LiveTestServer.inject`."""

    STATUS = "status"          # answer the next matching requests with ``status`` (429 with Retry-After, 5xx, 403)
    DROP = "drop"              # close the connection mid-$batch after ``after`` operations were applied
    SLOW = "slow"              # sleep ``seconds`` before answering each page
    EXPIRE_DELTA = "expire"    # delta tokens issued before now are expired
    MISSING_FIELD = "missing"  # the endpoint lacks ``field``


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().strip("'").replace("Z", "+00:00"))


class _Table:
    """Rows of one entity set with a row version (the ETag), a change journal for delta links, and a count
    of effective writes per row (the kill test reads it: nothing applied twice)."""

    def __init__(self, key: str, modified: str):
        self.key, self.modified = key, modified
        self.rows: dict[str, dict] = {}
        self.version: dict[str, int] = {}
        self.journal: list[tuple[int, str, bool]] = []   # (version, id, deleted)
        self.writes: dict[str, int] = {}
        # the serialized JSON of a row per column selection, kept while its version stands: a test server
        # answers pages fast (its cost is not the connector's, which the pull bench measures)
        self._json: dict[tuple[str, tuple[str, ...]], tuple[int, bytes]] = {}
        self._sorted: tuple[int, list[str]] | None = None

    def row_json(self, rid: str, cols: tuple[str, ...]) -> bytes:
        ver = self.version[rid]
        hit = self._json.get((rid, cols))
        if hit is not None and hit[0] == ver:
            return hit[1]
        row = self.rows[rid]
        out: dict = {"@odata.etag": f'W/"{ver}"'}
        for c in cols:
            out[c] = row.get(c)
        out[self.key] = rid
        text = json.dumps(out).encode()
        self._json[(rid, cols)] = (ver, text)
        return text

    def sorted_ids(self, clock: int) -> list[str]:
        """Every row id in key order (the paging order), computed once per state of the server."""
        if self._sorted is None or self._sorted[0] != clock:
            self._sorted = (clock, sorted(self.rows))
        return self._sorted[1]

    def put(self, clock: list[int], row: dict, *, count: bool = True) -> int:
        clock[0] += 1
        rid = row[self.key]
        self.rows[rid] = row
        row[self.modified] = _iso(_now())
        self.version[rid] = clock[0]
        self.journal.append((clock[0], rid, False))
        if count:
            self.writes[rid] = self.writes.get(rid, 0) + 1
        return clock[0]

    def delete(self, clock: list[int], rid: str) -> None:
        clock[0] += 1
        self.rows.pop(rid, None)
        self.version.pop(rid, None)
        self.journal.append((clock[0], rid, True))
        self.writes[rid] = self.writes.get(rid, 0) + 1

    def etag(self, rid: str) -> str:
        return f'W/"{self.version[rid]}"'


class LiveTestServer:
    """Both services on one port: Dataverse at ``crm_url`` (the organization URI), Business Central at
    ``nav_url`` (API v2.0, company-scoped) and ``nav_custom_url`` (a custom API page with the name fields).

    ``token``: the bearer token the server accepts (a test passes the same one in a static credential).
    Use as a context manager, or :meth:`start` / :meth:`stop`.
    """

    def __init__(self, *, token: str = "contactsync-test-token", company_id: str | None = None,
                 port: int = 0):
        self.token = token
        self.company_id = company_id or "5b1c6f2e-0000-4000-8000-000000000001"
        self.lock = threading.RLock()
        self.clock = [1000]
        self.crm = _Table("contactid", "modifiedon")
        self.accounts = _Table("accountid", "modifiedon")
        self.nav = _Table("id", "lastModifiedDateTime")
        self.faults: list[dict] = []
        self.expired_before = 0
        self.missing: dict[str, set[str]] = {"crm": set(), "nav": set()}
        self.maxlen = dict(_CRM_MAXLEN)                  # Dataverse attribute lengths it enforces (400 beyond)
        self.latency = 0.0                               # seconds added to every request (kill tests, demos)
        self.requests: list[tuple[str, str, str]] = []   # (service, method, path) of every request
        self.request_times: list[float] = []             # when each arrived (time.monotonic)
        self.operations = 0                              # requests + operations inside batches
        self.last_batch: tuple[str, bytes] = ("", b"")   # the content type and body of the last $batch
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> LiveTestServer:
        server = self

        class Handler(_Handler):
            srv = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="contactsync-live-testserver",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LiveTestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start the server first"
        return self._httpd.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def crm_url(self) -> str:
        return f"{self.base}/crm"

    @property
    def nav_url(self) -> str:
        return f"{self.base}/bc/api/v2.0/companies({self.company_id})"

    @property
    def nav_custom_url(self) -> str:
        return f"{self.base}/bc/api/contoso/contactsync/v1.0/companies({self.company_id})"

    # -- data -----------------------------------------------------------------------------------
    def load_crm(self, rows, *, accounts=()) -> None:
        with self.lock:
            for a in accounts:
                self.accounts.put(self.clock, dict(a), count=False)
            for r in rows:
                r = {k: v for k, v in dict(r).items() if k in CRM_FIELDS or k == "parentcustomerid"}
                if "parentcustomerid" in r:
                    r["_parentcustomerid_value"] = r.pop("parentcustomerid")
                r.setdefault("statecode", 0)
                self.crm.put(self.clock, r, count=False)

    def load_nav(self, rows) -> None:
        """Rows in BC field names (``number``, ``firstName``, ...); ``id`` (SystemId) is made if absent."""
        with self.lock:
            for r in rows:
                r = dict(r)
                r.setdefault("id", str(uuid.uuid4()))
                self.nav.put(self.clock, r, count=False)

    def seed(self, *, nav=None, crm=None, accounts=None) -> None:
        """Fill both services from frames in the workspace's column names (as the sample data has them)."""
        from .connections import CUSTOM_NAV_FIELDS

        def records(frame):
            return [] if frame is None else [{k: (None if v != v else v) for k, v in r.items()}
                                             for r in frame.astype(object).to_dict("records")]

        self.load_crm([{k: (str(v) if k in ("modifiedon",) and v is not None else v) for k, v in r.items()}
                       for r in records(crm)], accounts=records(accounts))
        rows = []
        for r in records(nav):
            row = {remote: ("" if r.get(ws) is None else str(r.get(ws))) for ws, remote in CUSTOM_NAV_FIELDS.items()
                   if ws != "SystemModifiedAt"}
            rows.append(row)
        self.load_nav(rows)

    def edit(self, side: str, rid: str, **values) -> str:
        """Change a record as a user of that system would (new ETag). Returns the new ETag."""
        t = self._table(side)
        with self.lock:
            row = dict(t.rows[rid])
            row.update(values)
            t.put(self.clock, row, count=False)
            return t.etag(rid)

    def remove(self, side: str, rid: str) -> None:
        with self.lock:
            self._table(side).delete(self.clock, rid)

    def record(self, side: str, rid: str) -> dict | None:
        with self.lock:
            row = self._table(side).rows.get(rid)
            return dict(row) if row else None

    def find_nav(self, number: str) -> dict | None:
        with self.lock:
            return next((dict(r) for r in self.nav.rows.values() if r.get("number") == number), None)

    def _table(self, side: str) -> _Table:
        return {"crm": self.crm, "nav": self.nav, "account": self.accounts}[side]

    # -- faults ---------------------------------------------------------------------------------
    def inject(self, kind: str, *, service: str | None = None, times: int = 1, status: int = 503,
               retry_after: float | None = None, after: int = 0, seconds: float = 0.0, field: str = "",
               path: str = "", method: str = "", code: str = "", message: str = "") -> None:
        """Arm a fault. ``service``: ``crm`` | ``nav`` | None (both); ``path``/``method``: only requests whose
        path contains it / with that method; ``times``: how many requests it hits (-1: all)."""
        service = {"nav": "bc"}.get(service or "", service)
        with self.lock:
            if kind == Fault.EXPIRE_DELTA:
                self.expired_before = self.clock[0] + 1
                return
            if kind == Fault.MISSING_FIELD:
                self.missing["nav" if service == "bc" else "crm"].add(field)
                return
            self.faults.append(dict(kind=kind, service=service, times=times, status=status,
                                    retry_after=retry_after, after=after, seconds=seconds, path=path,
                                    method=method, code=code, message=message))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.missing = {"crm": set(), "nav": set()}

    def _take_fault(self, svc: str, method: str, path: str, kinds: tuple[str, ...]) -> dict | None:
        with self.lock:
            for f in self.faults:
                if (f["kind"] in kinds and f["times"] != 0 and f["service"] in (None, svc)
                        and f["path"] in path and f["method"] in ("", method)):
                    if f["times"] > 0:
                        f["times"] -= 1
                    return f
        return None

    def requests_per(self, service: str) -> int:
        service = {"nav": "bc"}.get(service, service)
        return sum(1 for s, _, _ in self.requests if s == service)


class _Handler(BaseHTTPRequestHandler):
    srv: LiveTestServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name; quiet in tests
        pass

    # -- plumbing -------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict | None = None,
              ctype: str = "application/json; odata.metadata=minimal") -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("OData-Version", "4.0")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):  # noqa: N802
        self._dispatch("GET")

    def do_PATCH(self):  # noqa: N802
        self._dispatch("PATCH")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self):  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        srv = self.srv
        body = self._body()
        url = urlsplit(self.path)
        m = _ROUTE.match(url.path)
        svc = m.group("svc") if m else "?"
        with srv.lock:
            srv.requests.append((svc, method, url.path))
            srv.request_times.append(time.monotonic())
            srv.operations += 1
        if srv.latency:
            time.sleep(srv.latency)
        if m is None:
            return self._send(404, error_body("0x80060888", f"Resource not found for the segment '{url.path}'."))
        if self.headers.get("Authorization") != f"Bearer {srv.token}":
            if svc == "bc":
                return self._send(401, error_body("Authentication_InvalidCredentials",
                                                  "The server has rejected the client credentials."))
            # Dataverse answers 401 with an empty body and a WWW-Authenticate challenge
            return self._send(401, headers={"WWW-Authenticate": 'Bearer authorization_uri="https://login.'
                                            'microsoftonline.com/common/oauth2/authorize"'})
        if svc == "bc" and m.group("company") != srv.company_id and m.group("rest") != "$batch":
            return self._send(404, error_body("Internal_CompanyNotFound",
                                              f"Cannot process the request because the company {m.group('company')} "
                                              "does not exist."))
        f = srv._take_fault(svc, method, url.path, (Fault.STATUS,))
        if f is not None:
            return self._fault(svc, f)
        api = m.group("api")
        status, payload, headers = self._route(svc, api, method, m.group("rest"), url.query, dict(self.headers),
                                               body)
        if status < 0:      # a dropped connection
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        ctype = headers.pop("Content-Type", "application/json; odata.metadata=minimal")
        self._send(status, payload, headers, ctype)

    def _fault(self, svc: str, f: dict) -> None:
        status = f["status"]
        headers = {}
        if status == 429:
            headers["Retry-After"] = str(f["retry_after"] if f["retry_after"] is not None else 1)
            if svc == "crm":
                body = error_body("0x80072322", f["message"] or "Number of requests exceeded the limit of 6000 "
                                  "over time window of 300 seconds.")
            else:
                body = error_body("Application_TooManyRequests", f["message"] or "The request was throttled "
                                  "(6000 requests per 5 minutes).")
        elif status == 403:
            body = error_body(f["code"] or ("0x80040220" if svc == "crm" else "Authorization_InsufficientPermissions"),
                              f["message"] or ("Principal user is missing prvReadContact privilege." if svc == "crm"
                                               else "You do not have the following permissions on TableData "
                                               "Contact: Read"))
        else:
            body = error_body(f["code"] or "0x80040216", f["message"] or "An unexpected error occurred.")
        self._send(status, body, headers)

    # -- routing --------------------------------------------------------------------------------
    def _route(self, svc, api, method, rest, query, headers, body):
        srv = self.srv
        fields = CRM_FIELDS if svc == "crm" else (BC_CUSTOM_FIELDS if "contoso" in api else BC_V2_FIELDS)
        fields = tuple(f for f in fields if f not in srv.missing["crm" if svc == "crm" else "nav"])
        if rest == "$batch" and method == "POST":
            return self._batch(svc, api, fields, headers, body)
        if svc == "crm" and rest == "WhoAmI" and method == "GET":
            return 200, json.dumps({"@odata.context": f"{srv.crm_url}/api/data/v9.2/$metadata#Microsoft.Dynamics."
                                    "CRM.WhoAmIResponse", "BusinessUnitId": str(uuid.uuid5(uuid.NAMESPACE_DNS, "bu")),
                                    "UserId": str(uuid.uuid5(uuid.NAMESPACE_DNS, "user")),
                                    "OrganizationId": str(uuid.uuid5(uuid.NAMESPACE_DNS, "org"))}).encode(), {}
        em = _ENTITY.match(rest)
        if em is None:
            return 404, error_body("0x80060888", f"Resource not found for the segment '{rest}'."), {}
        table = srv.crm if svc == "crm" else srv.nav
        if em.group("set") == "accounts" and svc == "crm":
            table = srv.accounts
        rid = em.group("id")
        if rid:
            rid = unquote(rid).strip("'")
        return self._entity(svc, api, table, fields, method, rid, query, headers, body)

    def _select(self, svc, fields, query):
        q = parse_qs(query)
        sel = q.get("$select", [""])[0]
        cols = [c for c in sel.split(",") if c] if sel else list(fields)
        bad = [c for c in cols if c not in fields and c != ("contactid" if svc == "crm" else "id")]
        if bad:
            if svc == "crm":
                return None, error_body("0x80060888", f"Could not find a property named '{bad[0]}' on type "
                                        "'Microsoft.Dynamics.CRM.contact'.")
            return None, error_body("BadRequest_PropertyNotFound",
                                    f"Could not find a property named '{bad[0]}' on type "
                                    "'Microsoft.NAV.contact'.")
        return cols, None

    def _shape(self, svc, table: _Table, rid: str, cols) -> dict:
        row = table.rows[rid]
        out: dict = {"@odata.etag": table.etag(rid)}
        for c in cols:
            out[c] = row.get(c)
        out[table.key] = rid
        return out

    def _matches(self, row: dict, flt: str) -> bool:
        for clause in re.split(r"\s+or\s+", flt.strip().strip("()")):
            m = _FILTER_CMP.match(clause.strip())
            if m is None:
                raise ValueError(clause)
            col, op, val = m.groups()
            v = row.get(col)
            if op == "eq":
                if str(v) == val.strip("'"):
                    return True
                continue
            if v is None:
                continue
            a, b = _parse_ts(str(v)), _parse_ts(val)
            if {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]:
                return True
        return False

    def _entity(self, svc, api, table: _Table, fields, method, rid, query, headers, body):
        srv = self.srv
        prefix = srv.crm_url + "/api/data/v9.2" if svc == "crm" else f"{srv.base}/bc/{api}/companies({srv.company_id})"
        set_name = "accounts" if table is srv.accounts else "contacts"
        if method == "GET" and rid is None:
            return self._collection(svc, table, fields, query, headers, prefix, set_name)
        if method == "GET":
            cols, err = self._select(svc, fields, query)
            if err:
                return 400, err, {}
            with srv.lock:
                if rid not in table.rows:
                    return 404, self._not_found(svc, rid), {}
                return 200, json.dumps(self._shape(svc, table, rid, cols)).encode(), {"ETag": table.etag(rid)}
        if method in ("PATCH", "POST", "DELETE"):
            return self._write(svc, table, fields, method, rid, headers, body, prefix, set_name)
        return 405, error_body("0x8006088a", f"The HTTP method {method} is not allowed here."), {}

    def _not_found(self, svc, rid):
        if svc == "crm":
            return error_body("0x80040217", f"contact With Id = {rid} Does Not Exist")
        return error_body("Internal_RecordNotFound", f"The Contact does not exist. Identification fields and "
                          f"values: Id='{rid}'")

    def _collection(self, svc, table: _Table, fields, query, headers, prefix, set_name):
        srv = self.srv
        q = parse_qs(query)
        cols, err = self._select(svc, fields, query)
        if err:
            return 400, err, {}
        prefer = headers.get("Prefer", "")
        pm = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        page = min(int(pm.group(1)) if pm else (5000 if svc == "crm" else 20000), 5000 if svc == "crm" else 20000)
        slow = srv._take_fault(svc, "GET", "contacts", (Fault.SLOW,))
        if slow:
            time.sleep(slow["seconds"])
        delta = q.get("$deltatoken", [None])[0]
        skip = q.get("$skiptoken", [None])[0]
        flt = q.get("$filter", [None])[0]
        track = "odata.track-changes" in prefer or delta is not None
        with srv.lock:
            if svc == "crm" and track and flt:
                return 400, error_body("0x80060888", "The $filter query option is not supported with change "
                                       "tracking."), {}
            if delta is not None:
                since = int(delta.split("!")[0])
                if since < srv.expired_before:
                    # Dataverse's answer to an expired token (older than the table's retention, 7 days by default)
                    return 400, error_body("0x80044352", "Version stamp associated with the client has expired. "
                                           "Please perform a full sync."), {}
                changed: dict[str, bool] = {}
                deleted: list[str] = []
                for ver, rid, gone in table.journal:
                    if ver > since:
                        if gone:
                            changed.pop(rid, None)
                            deleted.append(rid)
                        else:
                            changed[rid] = True
                            if rid in deleted:
                                deleted.remove(rid)
                ids = sorted(r for r in changed if r in table.rows)
            else:
                deleted = []
                try:
                    ids = (table.sorted_ids(srv.clock[0]) if not flt else
                           sorted(r for r, row in table.rows.items() if self._matches(row, flt)))
                except ValueError as e:
                    return 400, error_body("0x80060888", f"Invalid $filter clause: {e}"), {}
            start = bisect.bisect_right(ids, unquote(skip)) if skip else 0
            chunk = ids[start:start + page]
            key_cols = tuple(cols)
            value = [table.row_json(rid, key_cols) for rid in chunk]
            out: dict = {"@odata.context": f"{prefix}/$metadata#{set_name}"}
            more = start + page < len(ids)
            if not more:
                for rid in deleted:
                    value.append(json.dumps({"@odata.context": f"{prefix}/$metadata#{set_name}/$deletedEntity",
                                             "id": rid, "reason": "deleted"}).encode())
            base = f"{prefix}/{set_name}?" + "&".join(f"{k}={quote(v[0], safe=',')}" for k, v in q.items()
                                                      if k not in ("$skiptoken",))
            if more:
                out["@odata.nextLink"] = base + ("&" if q else "") + f"$skiptoken={quote(chunk[-1])}"
            elif track and svc == "crm":
                stamp = _now().strftime("%m/%d/%Y %H:%M:%S")
                keep = "&".join(f"{k}={quote(v[0], safe=',')}" for k, v in q.items()
                                if k not in ("$skiptoken", "$deltatoken"))
                out["@odata.deltaLink"] = (f"{prefix}/{set_name}?{keep}{'&' if keep else ''}"
                                           f"$deltatoken={srv.clock[0]}!{quote(stamp, safe='')}")
        # the page as Dataverse writes it: the context, the rows (each serialized once per version), the links
        body = (b'{"@odata.context": ' + json.dumps(out.pop("@odata.context")).encode() + b', "value": ['
                + b", ".join(value) + b"]" + b"".join(f", {json.dumps(k)}: {json.dumps(v)}".encode()
                                                      for k, v in out.items()) + b"}")
        return 200, body, {"Preference-Applied": f"odata.maxpagesize={page}"}

    def _validate(self, svc, fields, data: dict) -> bytes | None:
        for k, v in data.items():
            name = k.split("@")[0]
            if svc == "crm":
                if name == "parentcustomerid_account":
                    continue
                if name not in fields:
                    return error_body("0x80060888", f"Invalid property '{name}' was found in entity "
                                      "'Microsoft.Dynamics.CRM.contact'.")
                lim = self.srv.maxlen.get(name)
                if lim and isinstance(v, str) and len(v) > lim:
                    return error_body("0x80044331", f"A validation error occurred. The length of the '{name}' "
                                      f"attribute of the 'contact' entity exceeded the maximum allowed length "
                                      f"of '{lim}'.")
            elif name not in fields:
                return error_body("BadRequest_PropertyNotFound", f"The property '{name}' does not exist on type "
                                  "'Microsoft.NAV.contact'.")
        return None

    def _write(self, svc, table: _Table, fields, method, rid, headers, body, prefix, set_name):
        srv = self.srv
        data = json.loads(body) if body.strip() else {}
        if "parentcustomerid_account@odata.bind" in data:
            ref = data.pop("parentcustomerid_account@odata.bind")
            data["_parentcustomerid_value"] = re.sub(r"^/?accounts\((.*)\)$", r"\1", ref) if ref else None
        err = self._validate(svc, fields, data)
        if err:
            return 400, err, {}
        parent = data.get("_parentcustomerid_value") if svc == "crm" and table is srv.crm else None
        if parent and parent not in srv.accounts.rows:
            # a bind to an account that does not exist: Dataverse's "Does Not Exist" error of that record
            return 404, error_body("0x80040217", f"account With Id = {parent} Does Not Exist"), {}
        if_match = headers.get("If-Match")
        if_none = headers.get("If-None-Match")
        with srv.lock:
            if method == "POST":
                if svc == "bc":
                    number = data.get("number")
                    if number and any(r.get("number") == number for r in table.rows.values()):
                        return 400, error_body("Internal_EntityWithSameKeyExists", f"The record already exists. "
                                               f"Identification fields and values: No.='{number}'"), {}
                rid = data.get(table.key) or str(uuid.uuid4())
                if rid in table.rows:
                    return 412, error_body("0x80040237", "A record with matching key values already exists."), {}
                row = {table.key: rid, **data}
                table.put(srv.clock, row)
                return 201, json.dumps(self._shape(svc, table, rid, fields)).encode(), {
                    "ETag": table.etag(rid), "OData-EntityId": f"{prefix}/{set_name}({rid})"}
            exists = rid in table.rows
            if method == "DELETE":
                if not exists:
                    return 404, self._not_found(svc, rid), {}
                if if_match and if_match != "*" and if_match != table.etag(rid):
                    return 412, self._changed(svc), {}
                table.delete(srv.clock, rid)
                return 204, b"", {}
            # PATCH: an upsert unless If-Match (update only) / If-None-Match: * (create only)
            if svc == "bc" and not if_match:
                return 400, error_body("Internal_RequestFailed", "Could not save the changes: the request needs "
                                       "an If-Match header (the record's @odata.etag, or *)."), {}
            if exists and if_none == "*":
                return 412, error_body("0x80040237", "A record with matching key values already exists."), {}
            if not exists and if_match:
                return 404, self._not_found(svc, rid), {}
            if exists and if_match and if_match != "*" and if_match != table.etag(rid):
                return 412, self._changed(svc), {}
            row = dict(table.rows.get(rid, {table.key: rid}))
            row.update(data)
            table.put(srv.clock, row)
            if "return=representation" in headers.get("Prefer", ""):
                return 200, json.dumps(self._shape(svc, table, rid, fields)).encode(), {"ETag": table.etag(rid)}
            return 204, b"", {"ETag": table.etag(rid), "OData-EntityId": f"{prefix}/{set_name}({rid})"}

    def _changed(self, svc):
        if svc == "crm":
            return error_body("0x80060882", "The version of the existing record doesn't match the RowVersion "
                              "property provided.")
        return error_body("Request_EntityChanged", "Another user has already changed the record.")

    def _batch(self, svc, api, fields, headers, body):
        srv = self.srv
        drop = srv._take_fault(svc, "POST", "$batch", (Fault.DROP,))
        srv.last_batch = (headers.get("Content-Type", ""), body)
        if svc == "crm":
            try:
                parts = parse_multipart(body, boundary_of(headers.get("Content-Type", "")))
            except ValueError as e:
                return 400, error_body("0x80048d19", f"Invalid batch body: {e}"), {}
            if len(parts) > 1000:
                return 400, error_body("0x8006088a", "The number of requests in a batch exceeds 1000."), {}
            cont = "odata.continue-on-error" in headers.get("Prefer", "")
            out: list[Part] = []
            for i, p in enumerate(parts):
                if drop and i == drop["after"]:
                    return -1, b"", {}
                path = urlsplit(p.url).path
                m = _ROUTE.match(path)
                em = _ENTITY.match(m.group("rest")) if m else None
                if em is None:
                    st, pl, hd = 404, error_body("0x80060888", f"Resource not found for the segment '{p.url}'."), {}
                else:
                    with srv.lock:
                        srv.operations += 1
                    rid = unquote(em.group("id") or "").strip("'") or None
                    hdrs = {**p.headers, "Prefer": p.headers.get("Prefer", "")}
                    st, pl, hd = self._entity(svc, api, srv.crm, fields, p.method, rid, urlsplit(p.url).query,
                                              hdrs, p.body)
                out.append(Part(status=st, headers={"Content-Type": "application/json; odata.metadata=minimal",
                                                    "OData-Version": "4.0", **hd}, body=pl))
                if st >= 400 and not cont:
                    break
            boundary = f"batchresponse_{uuid.uuid4()}"
            return 200, build_multipart(boundary, out), {"Content-Type": f"multipart/mixed; boundary={boundary}"}
        # Business Central: JSON batch, at most 100 operations
        reqs = json.loads(body).get("requests", [])
        if len(reqs) > 100:
            return 400, error_body("BadRequest", "The batch request exceeds the maximum of 100 operations."), {}
        responses = []
        for i, r in enumerate(reqs):
            if drop and i == drop["after"]:
                return -1, b"", {}
            with srv.lock:
                srv.operations += 1
            path = urlsplit(r["url"]).path
            sub = path.split(f"companies({srv.company_id})/", 1)[-1]
            em = _ENTITY.match(sub)
            if em is None:
                st, pl, hd = 404, error_body("BadRequest_NotFound", f"No HTTP resource matches '{r['url']}'."), {}
            else:
                rid = unquote(em.group("id") or "").strip("'") or None
                st, pl, hd = self._entity("bc", api, srv.nav, fields, r["method"], rid, urlsplit(r["url"]).query,
                                          r.get("headers", {}), json.dumps(r.get("body") or {}).encode())
            responses.append({"id": r.get("id"), "status": st, "headers": hd,
                              "body": json.loads(pl) if pl else None})
        return 200, json.dumps({"responses": responses}).encode(), {}
