#!/usr/bin/env bash
# Lookup latency: Airflow's real KubernetesSecretsBackend vs the wasm-secrets provider component, against
# the same local Kubernetes API emulator, the same secrets and the same query. Not part of `cargo test`.
#
# Run from anywhere (needs CPython >= 3.11 with venv + pip, PyPI reachable, and rustup/cargo):
#
#     bash scripts/bench-airflow.sh                 # 20 warm-up + 200 timed lookups per Python case
#     ITERATIONS=1000 WARMUP=50 bash scripts/bench-airflow.sh
#     PYTHON=python3.11 bash scripts/bench-airflow.sh
#
# What it does:
#   1. target/airflow-venv: a virtualenv with bench/airflow/requirements.txt (apache-airflow-providers-cncf-
#      kubernetes 10.25.0 and every dependency pinned). Reused while the requirements and the interpreter are
#      unchanged; delete it to time a fresh install. AIRFLOW_HOME is target/airflow-home (nothing is written
#      into the source tree; Airflow needs no database for the backend class).
#   2. Builds the emulator (release) and the criterion benchmarks before anything is timed.
#   3. Starts `kube-emulator` seeded with examples/secrets/airflow-seed.yaml (what the criterion end_to_end
#      benchmark loads: namespace `airflow`, `my-var-secret` labelled airflow.apache.org/variable-key=my_var,
#      data key `value` = my_secret_value) and runs bench/airflow/time_backend.py: the backend's in-cluster
#      client is pointed at the emulator (KUBERNETES_SERVICE_HOST/PORT + its service-account token, CA and
#      namespace files) and `get_variable("my_var")` is timed call by call on a kept-alive TLS connection.
#   4. Stops the emulator, then runs `cargo bench -p wasm-secrets-e2e --bench lookup -- end_to_end` (ours:
#      `Provider::get_variable("my_var")` through the component against the in-process emulator on a
#      kept-alive pooled connection) and reads criterion's median from <target>/criterion/end_to_end/*/new/.
#   5. Prints both medians and the ratio Airflow / ours (and the raw-client ratio Python kubernetes / kube-rs).
#
# Caveat, printed with the results: criterion's median is the median of per-sample means (each sample averages
# many iterations), the Python one the median of single calls; the criterion benchmark runs the emulator in the
# benchmark's own process (same tokio runtime), the Python run talks to it in a separate process.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

PYTHON="${PYTHON:-python3}"
ITERATIONS="${ITERATIONS:-200}"
WARMUP="${WARMUP:-20}"
venv="$repo/target/airflow-venv"
run_start=$SECONDS

die() { echo "bench-airflow.sh: error: $*" >&2; exit 1; }
step() { echo; echo "== $* (at $((SECONDS - run_start)) s)"; }

command -v cargo >/dev/null || die "cargo not found (install Rust with rustup)"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=/path/to/python3.11)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$PYTHON is $("$PYTHON" -V 2>&1); apache-airflow-providers-cncf-kubernetes 10.25.0 needs CPython >= 3.11"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null ||
    die "$PYTHON lacks the venv/ensurepip modules (Debian: apt-get install python3-venv)"

# --- 1. The Airflow virtualenv ------------------------------------------------------------------------------
step "Airflow virtualenv ($venv)"
install_start=$SECONDS
PYTHON="$PYTHON" bash scripts/airflow-venv.sh ||
    die "creating $venv failed (PyPI reachable? CPython 3.11 on Linux x86_64?)"
echo "ready in $((SECONDS - install_start)) s (reused while the requirements and the interpreter are unchanged)"
"$venv/bin/python" - <<'EOF'
import importlib.metadata as m
for p in ("apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk",
          "apache-airflow-providers-cncf-kubernetes", "kubernetes", "urllib3"):
    print(f"  {p}=={m.version(p)}")
EOF

# --- 2. Builds (nothing is timed while compiling) ------------------------------------------------------------
step "building the emulator and the criterion benchmarks (release)"
# rust-toolchain.toml pins the toolchain and lists the wasm32-wasip2 target; cargo alone does not install it.
if command -v rustup >/dev/null; then rustup toolchain install >/dev/null; fi
cargo build --release --quiet -p kube-emulator --bin kube-emulator
cargo bench --quiet -p wasm-secrets-e2e --bench lookup --no-run
target_dir="$(cargo metadata --format-version 1 --no-deps |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
emulator_bin="$target_dir/release/kube-emulator"
[ -x "$emulator_bin" ] || die "$emulator_bin was not built"

# --- 3. Airflow against the emulator -------------------------------------------------------------------------
step "Airflow KubernetesSecretsBackend against kube-emulator"
# shellcheck source=scripts/emulator.sh
. scripts/emulator.sh
emulator_state
start_emulator "$emulator_bin" "$state" --manifests examples/secrets/airflow-seed.yaml

airflow_json="$state/airflow.json"
# The env a pod sees (KUBERNETES_SERVICE_HOST=127.0.0.1, KUBERNETES_SERVICE_PORT). Importing the backend
# needs only AIRFLOW_HOME (Airflow creates logs/ there; no airflow.cfg, no database).
(
    # shellcheck disable=SC1091
    . "$state/env"
    mkdir -p "$repo/target/airflow-home"
    export AIRFLOW_HOME="$repo/target/airflow-home"
    "$venv/bin/python" bench/airflow/time_backend.py --service-account-dir "$state/serviceaccount" \
        --iterations "$ITERATIONS" --warmup "$WARMUP"
) | tee "$state/airflow.out" || die "time_backend.py failed (emulator log: see above)"
tail -n 1 "$state/airflow.out" >"$airflow_json"

stop_emulator

# --- 4. Ours: criterion end_to_end ---------------------------------------------------------------------------
step "ours: cargo bench -p wasm-secrets-e2e --bench lookup -- end_to_end"
marker="$state/criterion-start"
touch "$marker"
cargo bench --quiet -p wasm-secrets-e2e --bench lookup -- end_to_end
criterion="$target_dir/criterion/end_to_end"
for case in wasm_provider_get_variable kube_rs_list; do
    estimates="$criterion/$case/new/estimates.json"
    [ -f "$estimates" ] || die "$estimates missing: did criterion run end_to_end/$case?"
    [ "$estimates" -nt "$marker" ] || die "$estimates is older than this run (stale criterion result)"
done

# --- 5. Comparison -------------------------------------------------------------------------------------------
step "comparison"
"$PYTHON" - "$airflow_json" "$criterion" <<'EOF'
import json, sys
airflow = json.load(open(sys.argv[1]))
py = {r["case"]: r for r in airflow["results"]}
def ours(case):
    e = json.load(open(f"{sys.argv[2]}/{case}/new/estimates.json"))["median"]
    return {k: e[k] / 1000 for k in ("point_estimate",)} | {
        "low": e["confidence_interval"]["lower_bound"] / 1000,
        "high": e["confidence_interval"]["upper_bound"] / 1000}
wasm, kube_rs = ours("wasm_provider_get_variable"), ours("kube_rs_list")
a_var, a_conn, a_list = py["airflow_backend/get_variable"], py["airflow_backend/get_conn_value"], py["kubernetes_client/list"]
ratio = a_var["median_us"] / wasm["point_estimate"]
print(f"{'lookup':<62} {'median µs':>10}")
print(f"{'Airflow KubernetesSecretsBackend.get_variable(my_var)':<62} {a_var['median_us']:>10.1f}"
      f"   (p10 {a_var['p10_us']:.1f}, p90 {a_var['p90_us']:.1f})")
print(f"{'ours: end_to_end/wasm_provider/get_variable':<62} {wasm['point_estimate']:>10.1f}"
      f"   (criterion 95% CI of the median {wasm['low']:.1f} .. {wasm['high']:.1f})")
print(f"ratio Airflow / ours: {ratio:.1f}x  (target >= 20x: {'met' if ratio >= 20 else 'NOT met'})")
print()
print("the same single list request without either backend's own code:")
print(f"{'  Python kubernetes 36 list_namespaced_secret':<62} {a_list['median_us']:>10.1f}")
print(f"{'  end_to_end/kube_rs/list':<62} {kube_rs['point_estimate']:>10.1f}")
print(f"  ratio Python client / kube-rs: {a_list['median_us'] / kube_rs['point_estimate']:.1f}x")
print(f"(Airflow get_conn_value(smtp_default): {a_conn['median_us']:.1f} µs; no criterion counterpart)")
print()
print("caveats: Python medians are of single calls, criterion's of per-sample means; criterion's emulator runs in")
print("the benchmark process, Airflow's in a separate kube-emulator process; both keep one TLS connection alive"
      f" (Airflow opened {airflow['connections_opened']}).")
print("summary:", json.dumps({"airflow_get_variable_median_us": a_var["median_us"], "ours_get_variable_median_us": wasm["point_estimate"],
                  "ratio": ratio, "python_list_median_us": a_list["median_us"],
                  "kube_rs_list_median_us": kube_rs["point_estimate"], "versions": airflow["versions"]}))
EOF
echo "total run time: $((SECONDS - run_start)) s"
