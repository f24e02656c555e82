"""Runs Airflow's own CLI (`airflow <args>`), as the `airflow` command does, for the end-to-end tests.

With WASM_SECRETS_SA_DIR set, Airflow's KubernetesSecretsBackend reads its in-cluster token, CA and namespace
from that directory instead of /var/run/secrets/kubernetes.io/serviceaccount (module constants, patched
before the backend's client is created): the emulator's service-account directory. Nothing else changes.
"""

import os
import sys

sa_dir = os.environ.get("WASM_SECRETS_SA_DIR")
if sa_dir:
    from kubernetes.config import incluster_config

    from airflow.providers.cncf.kubernetes.secrets.kubernetes_secrets_backend import KubernetesSecretsBackend

    incluster_config.SERVICE_TOKEN_FILENAME = os.path.join(sa_dir, "token")
    incluster_config.SERVICE_CERT_FILENAME = os.path.join(sa_dir, "ca.crt")
    KubernetesSecretsBackend.SERVICE_ACCOUNT_NAMESPACE_PATH = os.path.join(sa_dir, "namespace")

from airflow.__main__ import main

sys.exit(main())
