#!/usr/bin/env bash
# The main job, end to end on this machine: start the local Kubernetes API emulator (HTTPS, a CA generated
# now, a service-account directory) seeded with the Airflow documentation's sample secrets, then look them
# up with the `secrets` CLI through the Kubernetes provider component, exactly as in a pod.
set -euo pipefail
cd "$(dirname "$0")/.."

# rust-toolchain.toml pins the toolchain and lists the wasm32-wasip2 target; cargo alone does not install it.
rustup toolchain install >/dev/null
cargo build --quiet --bin secrets --bin kube-emulator
target_dir="${CARGO_TARGET_DIR:-target}"

state="$(mktemp -d)"
"$target_dir/debug/kube-emulator" --state-dir "$state" --manifests examples/secrets/airflow-seed.yaml \
    >"$state/emulator.log" 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true; wait "$emulator" 2>/dev/null || true; rm -rf "$state"' EXIT

# The emulator writes `ready` last, once it listens and the service-account files exist.
for _ in $(seq 1 300); do
    [ -f "$state/ready" ] && break
    if ! kill -0 "$emulator" 2>/dev/null; then cat "$state/emulator.log" >&2; exit 1; fi
    sleep 0.1
done
[ -f "$state/ready" ] || { echo "the emulator did not start" >&2; cat "$state/emulator.log" >&2; exit 1; }

# What a pod sees: KUBERNETES_SERVICE_HOST/PORT and the service-account directory.
# shellcheck disable=SC1091
. "$state/env"
secrets() { "$target_dir/debug/secrets" --service-account-dir "$state/serviceaccount" "$@"; }

echo "\$ secrets connections get smtp_default"
secrets connections get smtp_default
echo "\$ secrets connections get my_postgres_db -o yaml"
secrets connections get my_postgres_db -o yaml
echo "\$ secrets variables get my_var"
secrets variables get my_var
