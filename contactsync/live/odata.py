"""OData wire formats both the connectors and the test server speak: the multipart ``$batch`` body of the
Dataverse Web API and the OData error body.

Multipart batch, as in "Execute batch operations using the Web API"
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api):
each part is ``Content-Type: application/http`` + ``Content-Transfer-Encoding: binary``, then an HTTP request
(or, in the answer, an HTTP status line) with its headers and body; the boundary comes from the
``multipart/mixed; boundary=...`` content type.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

__all__ = ["Part", "boundary_of", "build_multipart", "error_body", "error_message", "parse_multipart"]

_BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.I)


@dataclass
class Part:
    """One part of a batch: a request (``method`` + ``url``) or an answer (``status``)."""

    method: str = ""
    url: str = ""
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self):
        return json.loads(self.body) if self.body.strip() else None


def boundary_of(content_type: str) -> str:
    m = _BOUNDARY_RE.search(content_type or "")
    if not m:
        raise ValueError(f"no multipart boundary in content type {content_type!r}")
    return m.group(1)


def build_multipart(boundary: str, parts: list[Part]) -> bytes:
    out = []
    for p in parts:
        first = f"{p.method} {p.url} HTTP/1.1" if p.method else f"HTTP/1.1 {p.status} {_REASONS.get(p.status, '')}"
        head = "".join(f"{k}: {v}\r\n" for k, v in p.headers.items())
        out.append(f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                   f"{first}\r\n{head}\r\n".encode() + p.body + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def parse_multipart(body: bytes, boundary: str) -> list[Part]:
    delim = f"--{boundary}".encode()
    parts = []
    for chunk in body.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.lstrip(b"\r\n")
        _outer, _, inner = chunk.partition(b"\r\n\r\n")
        head, _, payload = inner.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        first, headers = lines[0], {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip()] = v.strip()
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        if first.startswith("HTTP/"):
            parts.append(Part(status=int(first.split()[1]), headers=headers, body=payload))
        else:
            method, url, _ = first.split(" ", 2)
            parts.append(Part(method=method, url=url, headers=headers, body=payload))
    return parts


def error_body(code: str, message: str) -> bytes:
    """The OData error body both services answer with: ``{"error": {"code": ..., "message": ...}}``."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def error_message(body: bytes | str | None) -> str:
    """The service's message from an OData error body (or the start of a body that is not one)."""
    if not body:
        return ""
    try:
        data = json.loads(body)
        err = data.get("error", {}) if isinstance(data, dict) else {}
        if err:
            return f"{err.get('message', '')} ({err.get('code', '')})".strip()
    except ValueError:
        pass
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    return text[:200]


_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 412: "Precondition Failed", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}
