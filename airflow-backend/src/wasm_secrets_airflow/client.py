"""A client of the wasm-secrets daemon over its Unix socket (standard library only).

One HTTP/1.1 request per connection. The whole exchange is bounded in time (``timeout``: a deadline for the
connection, the request and every byte of the answer, not per read) and in size (``MAX_ANSWER_BYTES``). The
daemon identifies this process by the socket's peer credentials; nothing else is sent.
"""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import quote

try:  # Airflow >= 3.2 (task-sdk >= 1.2.2): an authoritative deny stops Airflow's search through its backends.
    from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied as _AccessDenied
except ImportError:  # pragma: no cover - older Airflow, or no Airflow at all
    _AccessDenied = PermissionError

# The most bytes of one answer read (head and body).
MAX_ANSWER_BYTES = 128 * 1024 * 1024
# The most characters of a daemon's message kept in an exception.
MAX_MESSAGE_CHARS = 500


def _printable(text: str) -> str:
    """``text`` without control characters, cut to ``MAX_MESSAGE_CHARS`` (the daemon is not trusted to be tidy)."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"


class DaemonError(Exception):
    """The daemon failed a request, or could not be asked (its error kind and message name no secret value).

    Airflow logs it and asks its next backend, as it does when its own backends fail.
    """

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(f"the wasm-secrets daemon answered {status} {_printable(kind)}: {_printable(message)}")
        self.status = status
        self.kind = _printable(kind)


class DaemonAccessDenied(DaemonError, _AccessDenied):
    """The daemon refused this process the entry (403): Airflow must not fall through to another backend, which
    might hold an entry of the same id this process was not meant to read."""


def _segment(text: str) -> str:
    """A path segment: every byte but unreserved ones percent-encoded (``/`` too)."""
    return quote(text, safe="")


def _parse(answer: bytes) -> tuple[int, bytes]:
    """The status and body of an HTTP/1.1 answer with a ``Content-Length`` body."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        raise DaemonError(0, "malformed", "the answer has no end of head")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise DaemonError(0, "malformed", "the answer has no status line")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            length = int(value.strip())
    if length is None or len(body) != length:
        raise DaemonError(int(parts[1]), "malformed", "the answer's body does not have its Content-Length")
    return int(parts[1]), body


class DaemonClient:
    """Reads from the daemon at ``socket_path``, each answer within ``timeout`` seconds."""

    def __init__(self, socket_path: str, timeout: float = 10.0):
        self.socket_path = socket_path
        self.timeout = float(timeout)

    def _exchange(self, target: str) -> tuple[int, bytes]:
        deadline = time.monotonic() + self.timeout

        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DaemonError(0, "timeout", f"no answer within {self.timeout} s")
            return remaining

        request = f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode("ascii")
        with self._connect(left) as sock:
            try:
                sock.settimeout(left())
                sock.sendall(request)
                chunks, size = [], 0
                while True:
                    sock.settimeout(left())
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise DaemonError(0, "too_large", f"the answer is longer than {MAX_ANSWER_BYTES} bytes")
                    chunks.append(chunk)
            except socket.timeout:
                raise DaemonError(0, "timeout", f"no answer within {self.timeout} s") from None
            except OSError as e:
                raise DaemonError(0, "unreachable", f"cannot ask the daemon at {self.socket_path}: {e.strerror}") from None
        return _parse(b"".join(chunks))

    def _connect(self, left) -> socket.socket:
        """A socket connected to the daemon within the deadline ``left`` counts down to. On Linux, a Unix socket
        whose listen backlog is full refuses a connection at once (``EAGAIN``) instead of making it wait, as TCP
        would: the daemon is busy, not gone, so that is retried, waiting 5 ms doubling to 100 ms, until the
        deadline. (Other systems answer ``ECONNREFUSED`` there, which fails at once.)"""
        pause = 0.005
        while True:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            except OSError as e:
                raise DaemonError(0, "unreachable", f"cannot open a socket: {e.strerror}") from None
            try:
                sock.settimeout(left())
                sock.connect(self.socket_path)
                return sock
            except BlockingIOError:
                sock.close()
                time.sleep(min(pause, left()))
                pause = min(pause * 2, 0.1)
            except socket.timeout:
                sock.close()
                raise DaemonError(0, "timeout", f"no answer within {self.timeout} s") from None
            except OSError as e:
                sock.close()
                raise DaemonError(0, "unreachable", f"cannot ask the daemon at {self.socket_path}: {e.strerror}") from None
            except BaseException:
                sock.close()
                raise

    def get(self, path: str, field: str, team_name: str | None = None) -> str | None:
        """``GET path`` (``?team=`` when given): the answer's ``field``, ``None`` when not found."""
        if team_name:
            path = f"{path}?team={_segment(team_name)}"
        status, body = self._exchange(path)
        try:
            answer = json.loads(body)
        except ValueError:
            raise DaemonError(status, "malformed", "the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise DaemonError(status, "malformed", "the answer is not a JSON object")
        if status == 200 and isinstance(answer.get(field), str):
            return answer[field]
        kind = str(answer.get("error", ""))
        if status == 404 and kind == "not_found":
            return None
        error = DaemonAccessDenied if status == 403 else DaemonError
        raise error(status, kind, str(answer.get("message", "")))

    def conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        """The connection's stored value (a URI or JSON), as Airflow's ``get_conn_value`` returns it."""
        return self.get(f"/v1/connections/{_segment(conn_id)}/value", "value", team_name)

    def variable(self, key: str, team_name: str | None = None) -> str | None:
        return self.get(f"/v1/variables/{_segment(key)}", "value", team_name)

    def config(self, key: str) -> str | None:
        return self.get(f"/v1/config/{_segment(key)}", "value")

    def secret(self, group: str, key: str) -> str | None:
        """A Flyte secret."""
        return self.get(f"/v1/secrets/{_segment(group)}/{_segment(key)}", "value")
