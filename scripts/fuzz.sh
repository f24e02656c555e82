#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads untrusted input (FUZZING.md).
#
#   scripts/fuzz.sh short [SECONDS]      every target for SECONDS (default 10) from the committed corpus; in the
#                                        README's test command
#   scripts/fuzz.sh long [TARGET...]     the long run: each target until 10 million executions or one hour,
#                                        two at a time; prints one summary line per target for FUZZING.md
#   scripts/fuzz.sh run TARGET [ARG...]  one target, with libFuzzer's own arguments (-max_total_time=60, ...)
#   scripts/fuzz.sh merge                adds to fuzz/corpus what the runs found that reaches new code
#   scripts/fuzz.sh list                 the targets
#
# cargo-fuzz (libFuzzer) on the pinned stable toolchain needs `--sanitizer none`. The fuzz crate is its own
# workspace (fuzz/Cargo.toml) with its own target directory, target/fuzz. New inputs go to
# target/fuzz/corpus/TARGET; crashes to target/fuzz/artifacts/TARGET, and the run fails naming the file.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
tools="$(pwd)/target/tools"
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $tools" >&2
    cargo install --quiet --locked --root "$tools" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi
export PATH="$tools/bin:$PATH"

# Sixteen codegen units: the fuzz build includes wasmtime (through the host crate), which takes far longer
# to compile as one unit, for no difference in what the fuzzer finds.
fuzz=(cargo fuzz)
opts=(--fuzz-dir fuzz --sanitizer none --target-dir target/fuzz --codegen-units 16)

targets() { cargo fuzz list --fuzz-dir fuzz; }

build() { "${fuzz[@]}" build "${opts[@]}" >&2; }

# run TARGET LOG [libFuzzer args...]: one run from the committed corpus; fails on a crash, a timeout (10 s
# per input) or an input that makes the process use more than 2 GiB.
run() {
    local target=$1 log=$2
    shift 2
    mkdir -p "target/fuzz/corpus/$target" "target/fuzz/artifacts/$target" "fuzz/corpus/$target"
    if ! "${fuzz[@]}" run "${opts[@]}" "$target" "target/fuzz/corpus/$target" "fuzz/corpus/$target" -- \
        -artifact_prefix="target/fuzz/artifacts/$target/" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz: $target FAILED; the input is in target/fuzz/artifacts/$target/ (log: $log)" >&2
        return 1
    fi
}

# summary TARGET LOG: "TARGET: N executions in S s, 0 crashes" from libFuzzer's final statistics.
summary() {
    local runs secs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$2" | tail -n 1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$2" | tail -n 1)
    echo "$1: ${runs:-?} executions in ${secs:-?} s, 0 crashes, peak RSS $(sed -n 's/^stat::peak_rss_mb: *//p' "$2" | tail -n 1) MiB"
}

mode=${1:-short}
case $mode in
short)
    seconds=${2:-10}
    build
    mkdir -p target/fuzz/logs
    for target in $(targets); do
        run "$target" "target/fuzz/logs/$target.short.log" -max_total_time="$seconds"
        summary "$target" "target/fuzz/logs/$target.short.log"
    done
    ;;
long)
    shift
    build
    mkdir -p target/fuzz/logs
    list=("$@")
    [ ${#list[@]} -gt 0 ] || mapfile -t list < <(targets)
    # Two at a time: one per core.
    status=0
    for ((i = 0; i < ${#list[@]}; i += 2)); do
        pids=()
        for target in "${list[@]:i:2}"; do
            run "$target" "target/fuzz/logs/$target.long.log" -runs=10000000 -max_total_time=3600 &
            pids+=($!)
        done
        for pid in "${pids[@]}"; do wait "$pid" || status=1; done
        for target in "${list[@]:i:2}"; do summary "$target" "target/fuzz/logs/$target.long.log"; done
    done
    echo "fuzz: commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d)"
    exit $status
    ;;
run)
    target=${2:?usage: scripts/fuzz.sh run TARGET [libFuzzer args]}
    shift 2
    build
    mkdir -p target/fuzz/logs
    run "$target" "target/fuzz/logs/$target.run.log" "$@"
    summary "$target" "target/fuzz/logs/$target.run.log"
    ;;
merge)
    build
    for target in $(targets); do
        mkdir -p "target/fuzz/corpus/$target" "fuzz/corpus/$target"
        "${fuzz[@]}" run "${opts[@]}" "$target" "fuzz/corpus/$target" "target/fuzz/corpus/$target" -- \
            -merge=1 -timeout=10 -rss_limit_mb=2048 -max_len=65536 >"target/fuzz/logs/$target.merge.log" 2>&1
        echo "$target: $(ls "fuzz/corpus/$target" | wc -l) inputs in fuzz/corpus/$target"
    done
    ;;
list) targets ;;
*)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
