"""Times Airflow's real KubernetesSecretsBackend against the kube emulator, as a pod would use it.

Usage (scripts/bench-airflow.sh runs it with the venv of bench/airflow/requirements.txt):

    KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=<port> AIRFLOW_HOME=<dir under target/> \
        python time_backend.py --service-account-dir <state>/serviceaccount [--iterations 200] [--warmup 20]

The backend is the unmodified `KubernetesSecretsBackend` of apache-airflow-providers-cncf-kubernetes: its
client comes from `kubernetes.config.load_incluster_config()`, which reads KUBERNETES_SERVICE_HOST/PORT and
the service-account token and CA from fixed paths. Only those paths are redirected to the emulator's
service-account directory (the module constants `SERVICE_TOKEN_FILENAME` / `SERVICE_CERT_FILENAME` and the
backend's `SERVICE_ACCOUNT_NAMESPACE_PATH`), before the backend creates its client. The emulator's server
certificate has the SAN `IP:127.0.0.1`, so TLS is verified against its CA as in a cluster.

Cases, each checked once, warmed up, then timed one call at a time with time.perf_counter_ns:

    airflow_backend/get_variable    backend.get_variable("my_var")            (our end_to_end counterpart)
    airflow_backend/get_conn_value  backend.get_conn_value("smtp_default")
    kubernetes_client/list          the backend's client.list_namespaced_secret(...) for my_var, the single
                                    API call inside get_variable (counterpart of end_to_end/kube_rs/list)

With --socket (scripts/load-serve.sh), two more cases time this repository's backend class asking a running
`secrets serve` daemon (one request per call on its own Unix-socket connection), in the same process:

    wasm_secrets_backend/get_variable    WasmSecretsBackend(socket_path=...).get_variable("my_var")
    wasm_secrets_backend/get_conn_value  WasmSecretsBackend(socket_path=...).get_conn_value("smtp_default")

All Airflow-backend cases use the backend's one CoreV1Api, whose urllib3 pool keeps the TLS connection alive; the number
of connections the pool opened is reported. Prints a table, then one JSON line (the last line of stdout).
"""

import argparse
import importlib.metadata
import json
import os
import platform
import signal
import statistics
import sys
import time

NAMESPACE = "airflow"
VARIABLE = ("my_var", "my_secret_value")
CONNECTION = ("smtp_default", "smtp://user:password@smtp.example.com:587")
# What the backend sends for get_variable("my_var") with the default labels (team handling on, no team).
MY_VAR_SELECTOR = "airflow.apache.org/variable-key=my_var,!airflow.apache.org/team"
PACKAGES = (
    "apache-airflow",
    "apache-airflow-core",
    "apache-airflow-task-sdk",
    "apache-airflow-providers-cncf-kubernetes",
    "kubernetes",
    "urllib3",
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service-account-dir", required=True, help="the emulator's serviceaccount/ directory")
    parser.add_argument("--iterations", type=int, default=200, help="timed lookups per case (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed lookups per case first (default 20)")
    parser.add_argument("--timeout", type=int, default=300, help="abort the whole run after this many seconds")
    parser.add_argument("--socket", help="also time wasm_secrets_airflow.WasmSecretsBackend asking this daemon socket")
    return parser.parse_args()


def fail(message):
    print(f"time_backend.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def make_backend(sa_dir):
    """The real backend, with the in-cluster file paths pointed at the emulator's service-account dir."""
    for name in ("token", "ca.crt", "namespace"):
        if not os.path.isfile(os.path.join(sa_dir, name)):
            fail(f"{os.path.join(sa_dir, name)} does not exist (is the emulator running?)")
    for name in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "AIRFLOW_HOME"):
        if not os.environ.get(name):
            fail(f"{name} is not set")

    from kubernetes.config import incluster_config

    from airflow.providers.cncf.kubernetes.secrets.kubernetes_secrets_backend import KubernetesSecretsBackend

    # load_incluster_config() reads these module globals at call time; the backend calls it on its first
    # lookup (a cached_property), so patching them now is enough.
    incluster_config.SERVICE_TOKEN_FILENAME = os.path.join(sa_dir, "token")
    incluster_config.SERVICE_CERT_FILENAME = os.path.join(sa_dir, "ca.crt")
    KubernetesSecretsBackend.SERVICE_ACCOUNT_NAMESPACE_PATH = os.path.join(sa_dir, "namespace")
    # Default constructor: namespace auto-detected, default labels, team label on.
    return KubernetesSecretsBackend()


def pool_connections(backend):
    """How many connections the client's urllib3 pools have opened so far."""
    pool_manager = backend.client.api_client.rest_client.pool_manager
    total = 0
    for key in list(pool_manager.pools.keys()):
        total += pool_manager.pools[key].num_connections
    return total


def measure(name, call, expected, warmup, iterations):
    got = call()
    if got != expected:
        fail(f"{name}: expected {expected!r}, got {got!r}")
    for _ in range(warmup):
        call()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        call()
        samples.append(clock() - start)
    deciles = statistics.quantiles(samples, n=10, method="inclusive")
    return {
        "case": name,
        "iterations": iterations,
        "warmup": warmup,
        "median_us": statistics.median(samples) / 1000,
        "p10_us": deciles[0] / 1000,
        "p90_us": deciles[8] / 1000,
        "mean_us": statistics.fmean(samples) / 1000,
        "min_us": min(samples) / 1000,
        "max_us": max(samples) / 1000,
    }


def main():
    args = parse_args()
    if args.iterations < 2 or args.warmup < 0:
        fail("--iterations must be at least 2 and --warmup at least 0")
    signal.alarm(args.timeout)

    import_start = time.perf_counter()
    backend = make_backend(os.path.abspath(args.service_account_dir))
    import_s = time.perf_counter() - import_start

    first_start = time.perf_counter()
    first = backend.get_variable(VARIABLE[0])
    first_lookup_ms = (time.perf_counter() - first_start) * 1000
    if first != VARIABLE[1]:
        fail(f"get_variable({VARIABLE[0]!r}) returned {first!r}, expected {VARIABLE[1]!r}")
    if backend.namespace != NAMESPACE:
        fail(f"the backend resolved namespace {backend.namespace!r}, expected {NAMESPACE!r}")

    def list_my_var():
        secrets = backend.client.list_namespaced_secret(
            NAMESPACE, label_selector=MY_VAR_SELECTOR, resource_version="0"
        )
        return [s.metadata.name for s in secrets.items]

    cases = [
        ("airflow_backend/get_variable", lambda: backend.get_variable(VARIABLE[0]), VARIABLE[1]),
        ("airflow_backend/get_conn_value", lambda: backend.get_conn_value(CONNECTION[0]), CONNECTION[1]),
        ("kubernetes_client/list", list_my_var, ["my-var-secret"]),
    ]
    if args.socket:
        from wasm_secrets_airflow import WasmSecretsBackend

        ours = WasmSecretsBackend(socket_path=args.socket)
        cases += [
            ("wasm_secrets_backend/get_variable", lambda: ours.get_variable(VARIABLE[0]), VARIABLE[1]),
            ("wasm_secrets_backend/get_conn_value", lambda: ours.get_conn_value(CONNECTION[0]), CONNECTION[1]),
        ]
    results = [measure(name, call, expected, args.warmup, args.iterations) for name, call, expected in cases]
    connections = pool_connections(backend)

    print(f"Airflow KubernetesSecretsBackend against https://{os.environ['KUBERNETES_SERVICE_HOST']}:"
          f"{os.environ['KUBERNETES_SERVICE_PORT']} ({args.warmup} warm-up + {args.iterations} timed calls per case)")
    print(f"  import {import_s:.2f} s, first lookup (client creation + TLS handshake) {first_lookup_ms:.1f} ms, "
          f"TLS connections opened in all: {connections}")
    print(f"  {'case':<34} {'median':>10} {'p10':>10} {'p90':>10}   (µs per call)")
    for r in results:
        print(f"  {r['case']:<34} {r['median_us']:>10.1f} {r['p10_us']:>10.1f} {r['p90_us']:>10.1f}")

    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    report = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "versions": versions,
        "import_s": import_s,
        "first_lookup_ms": first_lookup_ms,
        "connections_opened": connections,
        "results": results,
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
