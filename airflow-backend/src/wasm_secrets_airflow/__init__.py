"""Apache Airflow secrets backend for the wasm-secrets daemon (``secrets serve``).

Configure Airflow with::

    [secrets]
    backend = wasm_secrets_airflow.WasmSecretsBackend
    backend_kwargs = {"socket_path": "/run/wasm-secrets/secrets.sock", "timeout": 10}

Every Airflow process on the node then asks the one daemon, which holds the provider chain, its cache and its
live view, instead of each process asking the secret store itself.
"""

from wasm_secrets_airflow.backend import WasmSecretsBackend
from wasm_secrets_airflow.client import DaemonAccessDenied, DaemonClient, DaemonError

__all__ = ["DaemonAccessDenied", "DaemonClient", "DaemonError", "WasmSecretsBackend"]
