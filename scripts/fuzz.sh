#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads untrusted input (FUZZING.md).
#
#   scripts/fuzz.sh short [SECONDS]      every target for SECONDS (default 10) from the committed corpus; in the
#                                        README's test command
#   scripts/fuzz.sh long [TARGET...]     the long run: each target until 10 million executions or one hour, two
#                                        at a time; prints one summary line per target for FUZZING.md
#   scripts/fuzz.sh run TARGET [ARG...]  one target, with libFuzzer's own arguments (-max_total_time=60, ...)
#   scripts/fuzz.sh merge                adds to fuzz/corpus what the runs found that reaches new code
#   scripts/fuzz.sh list                 the targets
#
# cargo-fuzz (libFuzzer) on the pinned stable toolchain needs `--sanitizer none`. Leaks are still caught: every
# run preloads LLVM's AddressSanitizer runtime (Debian's libclang-rt-14-dev), whose LeakSanitizer libFuzzer uses
# to check each input that allocated more than it freed. The fuzz crate is its own workspace (fuzz/Cargo.toml)
# with its own target directory, target/fuzz. New inputs go to target/fuzz/corpus/TARGET; crashes and leaks to
# target/fuzz/artifacts/TARGET, and the run fails naming the file.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
tools="$(pwd)/target/tools"
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $tools" >&2
    cargo install --quiet --locked --root "$tools" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi
export PATH="$tools/bin:$PATH"

# The leak checker: LLVM's sanitizer runtime, preloaded into the (uninstrumented) fuzz targets.
find_runtime() { compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.so' | sort -V | tail -n 1; }
runtime=$(find_runtime || true)
if [ -z "$runtime" ]; then
    echo "fuzz: installing Debian's libclang-rt-14-dev for the leak checker" >&2
    as_root=()
    [ "$(id -u)" = 0 ] || as_root=(sudo -n)
    # A stale or unreachable extra source must not stop the install: the install itself is what must work.
    "${as_root[@]}" apt-get update -qq >/dev/null || echo "fuzz: apt-get update reported errors; installing anyway" >&2
    "${as_root[@]}" apt-get install -y -qq libclang-rt-14-dev >/dev/null
    runtime=$(find_runtime || true)
    [ -n "$runtime" ] || { echo "fuzz: no libclang_rt.asan-x86_64.so after installing libclang-rt-14-dev" >&2; exit 1; }
fi
# Leaks are reported and fail the run, with the stack that allocated them; a double or invalid free is caught
# too (the code is not instrumented, so an out-of-bounds access in unsafe code would not be).
# No quarantine: it serves use-after-free checks of instrumented code, which these builds are not.
export ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=0

# Sixteen codegen units: the fuzz build includes wasmtime (through the host crate), which takes far longer
# to compile as one unit, for no difference in what the fuzzer finds.
opts=(--fuzz-dir fuzz --sanitizer none --target-dir target/fuzz --codegen-units 16)

# The fuzz targets (every binary of fuzz/ but the leak checker's self-test). A plain assignment, so that a
# failing `cargo fuzz list` stops the script instead of leaving nothing to run.
all_targets=$(cargo fuzz list --fuzz-dir fuzz | grep -v '^leak_selftest$')
[ -n "$all_targets" ] || { echo "fuzz: no fuzz targets found" >&2; exit 1; }
targets() { echo "$all_targets"; }

# Builds every target, then proves the leak checker works: the self-test target's leak must be reported.
build() {
    cargo fuzz build "${opts[@]}" >&2
    local dir=target/fuzz/selftest
    mkdir -p "$dir/corpus"
    printf LEAK >"$dir/corpus/leak"
    if LD_PRELOAD="$runtime" "$(binary leak_selftest)" "$dir/corpus" -runs=0 -artifact_prefix="$dir/" >"$dir/log" 2>&1 \
        || ! grep -q "LeakSanitizer: detected memory leaks" "$dir/log"; then
        tail -n 20 "$dir/log" >&2
        echo "fuzz: the leak checker did not report the self-test's leak ($runtime)" >&2
        exit 1
    fi
}

# The built binary of TARGET, run with the leak checker preloaded. (Not `cargo fuzz run`: the preload must
# reach the target only, not cargo.)
binary() { echo "target/fuzz/x86_64-unknown-linux-gnu/release/$1"; }

# run TARGET LOG [libFuzzer args...]: one run from the committed corpus; fails on a crash, a leak, a timeout
# (10 s per input) or an input that makes the process use more than 2 GiB. Leaks are checked on every input
# unless `preload` is emptied (the long run's fuzzing phase, which checks its corpus for leaks afterwards).
preload=$runtime
run() {
    local target=$1 log=$2
    shift 2
    mkdir -p "target/fuzz/corpus/$target" "target/fuzz/artifacts/$target" "fuzz/corpus/$target"
    if ! LD_PRELOAD="$preload" "$(binary "$target")" "target/fuzz/corpus/$target" "fuzz/corpus/$target" \
        -artifact_prefix="target/fuzz/artifacts/$target/" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -detect_leaks=1 -print_final_stats=1 "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz: $target FAILED; the input is in target/fuzz/artifacts/$target/ (log: $log)" >&2
        return 1
    fi
    grep -q "^stat::number_of_executed_units" "$log" || { echo "fuzz: $target did not run (log: $log)" >&2; return 1; }
    if [ -n "$preload" ] && grep -q "disabled leak detection" "$log"; then
        echo "fuzz: libFuzzer turned leak detection off for $target (log: $log)" >&2
        return 1
    fi
}

# summary TARGET LOG: "TARGET: N executions in S s, ..." from libFuzzer's final statistics (a run that got here
# ended without a crash or a leak).
summary() {
    local runs secs rss
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$2" | tail -n 1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$2" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$2" | tail -n 1)
    local note=""
    [ "$mode" != long ] || [ "${runs:-0}" -ge 10000000 ] || note=" (fewer than 10 million: stopped by the time limit)"
    echo "$1: $runs executions in ${secs:-?} s, 0 crashes, 0 leaks, peak RSS $rss MiB$note"
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
    # The commit the targets are built from, taken before the hours of fuzzing (HEAD may move meanwhile).
    built_from="$(git describe --always --dirty), $(date -u +%Y-%m-%d)"
    build
    mkdir -p target/fuzz/logs
    list=("$@")
    [ ${#list[@]} -gt 0 ] || mapfile -t list <<<"$all_targets"
    # The sanitizer runtime's allocator slows the targets three to ten times, which would leave most of them
    # far from 10 million executions in an hour. So the long run fuzzes without it, then replays every input
    # of each target's corpus (all the behaviours the run kept) once under LeakSanitizer.
    preload=
    # Two workers (one per core), each taking the next target when it is done.
    printf '%s\n' "${list[@]}" >target/fuzz/logs/queue
    worker() {
        local target status=0
        while target=$(flock target/fuzz/logs/queue.lock sh -c 'head -n 1 target/fuzz/logs/queue; sed -i 1d target/fuzz/logs/queue') \
            && [ -n "$target" ]; do
            if run "$target" "target/fuzz/logs/$target.long.log" -runs=10000000 -max_total_time=3600 \
                && preload=$runtime run "$target" "target/fuzz/logs/$target.leaks.log" -runs=0; then
                summary "$target" "target/fuzz/logs/$target.long.log" \
                    | sed "s/, 0 leaks,/, 0 leaks in a replay of its $(sed -n 's/^INFO: *\([0-9]*\) files found.*/\1/p' "target/fuzz/logs/$target.leaks.log" | awk '{s += $1} END {print s}') corpus inputs,/"
            else
                status=1
            fi
        done
        return $status
    }
    status=0
    worker >target/fuzz/logs/summary.1 & first=$!
    worker >target/fuzz/logs/summary.2 & second=$!
    wait "$first" || status=1
    wait "$second" || status=1
    cat target/fuzz/logs/summary.1 target/fuzz/logs/summary.2
    # Every target summarised, none left in the queue: a worker that stopped early is a failure.
    done_count=$(cat target/fuzz/logs/summary.1 target/fuzz/logs/summary.2 | wc -l)
    if [ -s target/fuzz/logs/queue ] || [ "$done_count" -ne ${#list[@]} ]; then
        echo "fuzz: $done_count of ${#list[@]} targets completed" >&2
        status=1
    fi
    echo "fuzz: targets built from $built_from"
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
    mkdir -p target/fuzz/logs
    for target in $(targets); do
        mkdir -p "target/fuzz/corpus/$target" "fuzz/corpus/$target"
        "$(binary "$target")" -merge=1 "fuzz/corpus/$target" "target/fuzz/corpus/$target" -timeout=10 \
            -rss_limit_mb=2048 -max_len=65536 >"target/fuzz/logs/$target.merge.log" 2>&1
        echo "$target: $(find "fuzz/corpus/$target" -type f | wc -l) inputs in fuzz/corpus/$target"
    done
    ;;
list) targets ;;
*)
    sed -n '2,15p' "$0" >&2
    exit 2
    ;;
esac
