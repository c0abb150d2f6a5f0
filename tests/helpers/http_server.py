"""A real HTTP server on 127.0.0.1 for tests: serves bytes, honours (or ignores) Range, injects faults.

Tests that download need a server that behaves like the real ones, including the ways real ones fail, without
touching the network. This one binds an ephemeral port on the loopback interface, serves each request in a daemon
thread, and stops by itself: when the `with` block ends, when it has answered `max_requests` requests (a runaway
retry loop then fails fast instead of hanging), or after `lifetime_s` seconds.

    files = {"/ckpt/tiny-1a2b3c4d_20240101.pth": data}
    with LocalHTTPServer(files) as server:
        server.truncate("/ckpt/tiny-1a2b3c4d_20240101.pth", after=100)  # first GET sends 100 bytes, then closes
        url = server.url("/ckpt/tiny-1a2b3c4d_20240101.pth")
        ...
        assert server.requests_for("/ckpt/tiny-1a2b3c4d_20240101.pth")[1].headers["Range"] == "bytes=100-"

Faults (`fail`, `truncate`) are queued per path and each answers one request (`times=None`: every request), so a
test states exactly which attempt misbehaves. `add_hub_file` serves a file the way the Hugging Face Hub does
(`/{repo_id}/resolve/{revision}/{filename}` with X-Repo-Commit and ETag), for `HF_ENDPOINT=server.base_url`.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it. Header names are lower-cased (`rec.headers["range"]`)."""

    method: str
    path: str
    headers: Mapping[str, str]
    #: What the server answered: the status code, and how many body bytes it actually sent.
    status: int
    body_bytes: int


@dataclass
class _Fault:
    kind: str  # "status" | "truncate"
    value: int
    remaining: int | None  # None: forever


@dataclass
class _Resource:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    honor_range: bool = True
    send_length: bool = True
    faults: deque[_Fault] = field(default_factory=deque)


class LocalHTTPServer:
    """HTTP/1.0 server on 127.0.0.1:<ephemeral port>; see the module docstring."""

    def __init__(
        self,
        files: Mapping[str, bytes] | None = None,
        *,
        root: str | Path | None = None,
        max_requests: int = 50,
        lifetime_s: float = 60.0,
    ) -> None:
        self._lock = threading.Lock()
        self._resources: dict[str, _Resource] = {}
        self._root = Path(root).resolve() if root is not None else None
        self._log: list[RequestRecord] = []
        self.max_requests = max_requests
        self.lifetime_s = lifetime_s
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        for path, body in (files or {}).items():
            self.add(path, body)

    # -- content ----------------------------------------------------------------------------------------------

    def add(self, path: str, body: bytes, *, headers: Mapping[str, str] | None = None) -> str:
        """Serve `body` at `path` (replacing what was there, faults included); returns the normalised path."""
        with self._lock:
            self._resources[_norm(path)] = _Resource(body=bytes(body), headers=dict(headers or {}))
        return _norm(path)

    def add_hub_file(
        self,
        repo_id: str,
        filename: str,
        body: bytes,
        *,
        revision: str = "main",
        commit: str = "0123456789abcdef0123456789abcdef01234567",
    ) -> str:
        """Serve `body` like the Hub's resolve endpoint: huggingface_hub's HEAD needs X-Repo-Commit and an ETag
        (it names the blob in the hub cache); Content-Length gives the expected size. Returns the path."""
        path = f"/{repo_id}/resolve/{revision}/{filename}"
        etag = hashlib.sha256(body).hexdigest()
        self.add(path, body, headers={"X-Repo-Commit": commit, "ETag": f'"{etag}"'})
        return path

    def fail(self, path: str, status: int, *, times: int | None = 1) -> None:
        """The next `times` requests for `path` get `status` (with a short text body) instead of the file."""
        self._fault(path, _Fault("status", status, times))

    def truncate(self, path: str, *, after: int, times: int | None = 1) -> None:
        """The next `times` GETs of `path` announce the full Content-Length but send only `after` body bytes,
        then close the connection (a dropped transfer)."""
        self._fault(path, _Fault("truncate", after, times))

    def ignore_range(self, path: str, ignore: bool = True) -> None:
        """Answer Range requests for `path` with 200 and the whole body, as some servers and proxies do."""
        with self._lock:
            self._resource(path).honor_range = not ignore

    def omit_length(self, path: str, omit: bool = True) -> None:
        """Answer GETs of `path` without Content-Length (the body ends when the connection closes), as streaming
        servers and some proxies do: a `truncate`d answer then looks complete to the client."""
        with self._lock:
            self._resource(path).send_length = not omit

    def _fault(self, path: str, fault: _Fault) -> None:
        with self._lock:
            self._resource(path).faults.append(fault)

    def _resource(self, path: str) -> _Resource:
        key = _norm(path)
        if key not in self._resources:
            body = self._dir_file(key)
            if body is None:
                raise KeyError(f"{path!r} is not served; add() it first")
            self._resources[key] = _Resource(body=body)
        return self._resources[key]

    def _dir_file(self, key: str) -> bytes | None:
        """The bytes of `root/key`, never outside `root`."""
        if self._root is None:
            return None
        file = (self._root / key.lstrip("/")).resolve()
        return file.read_bytes() if file.is_file() and file.is_relative_to(self._root) else None

    def _lookup(self, path: str) -> tuple[_Resource | None, _Fault | None]:
        """The resource at `path` and the fault this request consumes (if any)."""
        with self._lock:
            res = self._resources.get(path)
            if res is None and (body := self._dir_file(path)) is not None:
                res = _Resource(body=body)
            if res is None or not res.faults:
                return res, None
            fault = res.faults[0]
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    res.faults.popleft()
            return res, fault

    # -- request log ------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def requests_for(self, path: str, method: str | None = "GET") -> list[RequestRecord]:
        """Requests for `path` (any method when `method` is None), oldest first."""
        key = _norm(path)
        return [r for r in self.requests if r.path == key and (method is None or r.method == method)]

    def _record(self, rec: RequestRecord) -> int:
        with self._lock:
            self._log.append(rec)
            return len(self._log)

    # -- lifecycle --------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running; use it as a context manager or call start()")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + _norm(path)

    def start(self) -> LocalHTTPServer:
        handler = type("_Handler", (_Handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="LocalHTTPServer", daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.lifetime_s, self._shutdown_async)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _shutdown_async(self) -> None:
        # shutdown() blocks until serve_forever returns, so it must not run on a handler thread.
        httpd = self._httpd
        if httpd is not None:
            threading.Thread(target=httpd.shutdown, daemon=True).start()

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _norm(path: str) -> str:
    path = unquote(urlsplit(path).path)
    return path if path.startswith("/") else "/" + path


class _Handler(BaseHTTPRequestHandler):
    owner: LocalHTTPServer
    protocol_version = "HTTP/1.0"  # one request per connection: no keep-alive state to reason about

    def log_message(self, format: str, *args: object) -> None:  # quiet: the request log is the record
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, *, head: bool) -> None:
        path = _norm(self.path)
        owner = self.owner
        if len(owner.requests) >= owner.max_requests:
            self._send_text(HTTPStatus.SERVICE_UNAVAILABLE, "request budget of the test server spent", head)
            owner._shutdown_async()
            return
        res, fault = owner._lookup(path)
        if res is None:
            self._send_text(HTTPStatus.NOT_FOUND, f"{path} not found", head)
            return
        if fault is not None and fault.kind == "status":
            self._send_text(HTTPStatus(fault.value), f"injected {fault.value}", head, extra=res.headers)
            return
        body, status = res.body, HTTPStatus.OK
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes", **res.headers}
        match = _RANGE.match(self.headers.get("Range", "")) if res.honor_range else None
        if match:
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else len(body) - 1
            if start >= len(body):
                self._send_text(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "range", head,
                                extra={"Content-Range": f"bytes */{len(body)}"})  # fmt: skip
                return
            end = min(end, len(body) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
            body, status = body[start : end + 1], HTTPStatus.PARTIAL_CONTENT
        if res.send_length:
            headers["Content-Length"] = str(len(body))
        if head:
            body = b""
        elif fault is not None and fault.kind == "truncate":
            body = body[: fault.value]
            self.close_connection = True
        # Record before answering: a client that has read the answer must find its request in the log.
        self._record(status, len(body))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _record(self, status: int, sent: int) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.owner._record(RequestRecord(self.command, _norm(self.path), headers, int(status), sent))

    def _send_text(self, status: HTTPStatus, text: str, head: bool, *, extra: Mapping[str, str] | None = None) -> None:
        data = text.encode()
        self._record(status, 0 if head else len(data))
        self.send_response(status)
        for name, value in (extra or {}).items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)
