"""``WasmSecretsBackend``: Airflow's ``[secrets] backend`` reading from the wasm-secrets daemon.

The daemon returns each connection's stored value (``/v1/connections/{id}/value``), so Airflow's own code
deserializes it (``BaseSecretsBackend.get_connection``) exactly as it would from its own backends.
"""

from __future__ import annotations

from airflow.secrets import BaseSecretsBackend
from airflow.utils.log.logging_mixin import LoggingMixin

from wasm_secrets_airflow.client import DaemonClient

DEFAULT_SOCKET_PATH = "/run/wasm-secrets/secrets.sock"


class WasmSecretsBackend(BaseSecretsBackend, LoggingMixin):
    """
    Retrieve connections, variables and config from the node's wasm-secrets daemon (``secrets serve``).

    :param socket_path: the daemon's Unix socket
    :param timeout: seconds to wait for one answer
    """

    def __init__(self, socket_path: str = DEFAULT_SOCKET_PATH, timeout: float = 10.0, **kwargs):
        super().__init__()
        self.client = DaemonClient(socket_path, timeout)

    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        """The stored value of ``conn_id`` (a URI or JSON), for ``team_name`` first, then globally."""
        return self.client.conn_value(conn_id, team_name)

    def get_variable(self, key: str, team_name: str | None = None) -> str | None:
        """The variable ``key``, for ``team_name`` first, then globally."""
        return self.client.variable(key, team_name)

    def get_config(self, key: str) -> str | None:
        """The configuration value ``key`` (an Airflow ``*_secret`` option)."""
        return self.client.config(key)
