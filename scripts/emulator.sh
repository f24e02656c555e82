# shellcheck shell=bash
# Sourced by the benchmark scripts: runs kube-emulator in the background. The caller defines `die MESSAGE`.

# start_emulator BIN STATE [ARG...]: starts `BIN --state-dir STATE ARG...` (its pid in $emulator, its output in
# STATE/emulator.log) and waits up to 30 s for STATE/ready, the file it writes last.
start_emulator() {
    local bin=$1 state=$2
    shift 2
    "$bin" --state-dir "$state" "$@" >"$state/emulator.log" 2>&1 &
    emulator=$!
    for _ in $(seq 1 300); do
        [ -f "$state/ready" ] && return 0
        kill -0 "$emulator" 2>/dev/null || { cat "$state/emulator.log" >&2; die "the emulator exited at start"; }
        sleep 0.1
    done
    cat "$state/emulator.log" >&2
    die "the emulator did not become ready in 30 s"
}

# stop_emulator: stops the emulator, if one runs, and waits for it to exit.
stop_emulator() {
    if [ -n "${emulator:-}" ]; then
        kill "$emulator" 2>/dev/null || true
        wait "$emulator" 2>/dev/null || true
    fi
    emulator=""
}

# emulator_state: a fresh state directory in $state; at exit (Ctrl-C included) the emulator is stopped and the
# directory removed.
emulator_state() {
    state="$(mktemp -d)"
    emulator=""
    trap 'stop_emulator; rm -rf "$state"' EXIT
    trap 'exit 130' INT TERM
}
