#!/usr/bin/env bash
# Load test of `secrets serve` (BENCHMARKS.md, "The daemon"): 64 concurrent clients for 30 s against one daemon
# in live mode on this machine, then the per-lookup time of Airflow's own KubernetesSecretsBackend next to this
# repository's backend class asking the daemon. Not part of the test command (its short mode is the e2e test
# serve::sixty_four_clients_are_answered_from_the_live_view_without_errors).
#
#     bash scripts/load-serve.sh                         # 64 clients, 30 s
#     CLIENTS=16 DURATION=10 bash scripts/load-serve.sh
#
# Steps: release builds of `secrets` and `kube-emulator`; the Airflow virtualenv (scripts/airflow-venv.sh);
# the emulator seeded with examples/secrets/airflow-seed.yaml; `secrets serve` with one live Kubernetes provider;
# `secrets bench --socket` (each lookup one request on its own connection, as a process asking the daemon makes
# it); the daemon's /metrics before and after (API requests must not grow: answers come from the live view);
# bench/airflow/time_backend.py --socket. Fails when any lookup failed or the daemon listed again.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
CLIENTS="${CLIENTS:-64}"
DURATION="${DURATION:-30}"
die() { echo "load-serve.sh: error: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

step "release builds"
if command -v rustup >/dev/null; then rustup toolchain install >/dev/null; fi
cargo build --release --quiet -p wasm-secrets --bin secrets -p kube-emulator --bin kube-emulator
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
secrets="$target_dir/release/secrets"

step "Airflow virtualenv"
bash scripts/airflow-venv.sh
python="$repo/target/airflow-venv/bin/python"

# shellcheck source=scripts/emulator.sh
. scripts/emulator.sh
emulator_state
daemon=""
trap 'if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi; stop_emulator; rm -rf "$state"' EXIT
start_emulator "$target_dir/release/kube-emulator" "$state" --manifests examples/secrets/airflow-seed.yaml
# shellcheck disable=SC1091
. "$state/env"

step "secrets serve (live mode)"
cat >"$state/host.toml" <<TOML
[[providers]]
name = "kubernetes"
component = "builtin:kubernetes"
kubernetes = { service_account_dir = "$state/serviceaccount" }
live = true

[[serve.callers]]
uid = $(id -u)
all = true
TOML
socket="$state/secrets.sock"
"$secrets" --config "$state/host.toml" --cache-dir "$state/artifacts" serve --socket "$socket" 2>"$state/serve.log" &
daemon=$!
for _ in $(seq 1 600); do
    "$secrets" probe --socket "$socket" >/dev/null 2>&1 && break
    kill -0 "$daemon" 2>/dev/null || { cat "$state/serve.log" >&2; die "the daemon exited at start"; }
    sleep 0.1
done
"$secrets" probe --socket "$socket" >/dev/null || die "the daemon did not become ready"

api_requests() {
    python3 - "$socket" <<'PY'
import http.client, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])
c = C("localhost", timeout=30); c.request("GET", "/metrics"); text = c.getresponse().read().decode()
print(sum(int(float(l.rsplit(" ", 1)[1])) for l in text.splitlines() if l.startswith("wasm_secrets_api_requests_total")))
PY
}

step "secrets bench --socket: $CLIENTS clients for $DURATION s (nproc: $(nproc))"
"$secrets" bench --socket "$socket" --concurrency "$CLIENTS" --warmup 1000 --progress never variables get my_var >/dev/null
before="$(api_requests)"
"$secrets" bench --socket "$socket" --concurrency "$CLIENTS" --duration "$DURATION" --warmup 0 --progress never \
    -o json variables get my_var | tee "$state/load.json"
after="$(api_requests)"
echo "API requests the daemon sent during the run: $((after - before)) (before: $before)"
python3 - "$state/load.json" "$((after - before))" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"lookups {r['lookups']}, errors {r['errors']}, throughput {r['throughput_per_s']:.0f}/s, "
      f"p50 {r['p50_us']:.0f} µs, p99 {r['p99_us']:.0f} µs, max {r['max_us']:.0f} µs")
if r["errors"] or r["not_found"]:
    sys.exit("load-serve.sh: error: some lookups failed or found nothing")
if int(sys.argv[2]) != 0:
    sys.exit("load-serve.sh: error: the daemon sent API requests during the run (not answering from the live view)")
PY

step "per lookup: Airflow's KubernetesSecretsBackend vs WasmSecretsBackend asking the daemon"
mkdir -p "$repo/target/airflow-home"
AIRFLOW_HOME="$repo/target/airflow-home" "$python" bench/airflow/time_backend.py \
    --service-account-dir "$state/serviceaccount" --socket "$socket" --iterations 500 --warmup 50 | head -n -1
