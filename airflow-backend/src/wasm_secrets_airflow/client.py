"""A client of the wasm-secrets daemon over its Unix socket (standard library only).

One HTTP/1.1 request per connection, bounded in time (``timeout``) and size (``MAX_ANSWER_BYTES``). The
daemon identifies this process by the socket's peer credentials; nothing else is sent.
"""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import quote

# The most bytes of one answer's body read.
MAX_ANSWER_BYTES = 128 * 1024 * 1024


class DaemonError(Exception):
    """The daemon refused or failed a request (its error kind and message name no secret value)."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(f"the wasm-secrets daemon answered {status} {kind}: {message}")
        self.status = status
        self.kind = kind


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _segment(text: str) -> str:
    """A path segment: every byte but unreserved ones percent-encoded (``/`` too)."""
    return quote(text, safe="")


class DaemonClient:
    """Reads from the daemon at ``socket_path``."""

    def __init__(self, socket_path: str, timeout: float = 10.0):
        self.socket_path = socket_path
        self.timeout = float(timeout)

    def get(self, path: str, field: str, team_name: str | None = None) -> str | None:
        """``GET path`` (``?team=`` when given): the answer's ``field``, ``None`` when not found."""
        if team_name:
            path = f"{path}?team={_segment(team_name)}"
        connection = _UnixConnection(self.socket_path, self.timeout)
        try:
            connection.request("GET", path, headers={"Connection": "close"})
            response = connection.getresponse()
            body = response.read(MAX_ANSWER_BYTES + 1)
            status = response.status
        finally:
            connection.close()
        if len(body) > MAX_ANSWER_BYTES:
            raise DaemonError(status, "too_large", f"the answer is longer than {MAX_ANSWER_BYTES} bytes")
        try:
            answer = json.loads(body)
        except ValueError:
            raise DaemonError(status, "malformed", "the answer is not JSON") from None
        if status == 200 and isinstance(answer, dict) and isinstance(answer.get(field), str):
            return answer[field]
        kind = answer.get("error", "") if isinstance(answer, dict) else ""
        if status == 404 and kind == "not_found":
            return None
        message = answer.get("message", "") if isinstance(answer, dict) else ""
        raise DaemonError(status, str(kind), str(message))

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
