#!/usr/bin/env bash
# Regenerates airflow-compat/src/pystr/tables.rs (Python 3.11's Unicode behaviour: str.isspace, str.isprintable,
# unicodedata.decimal, NFKC, str.lower/str.upper versus Rust's char::to_lowercase/to_uppercase) and checks that
# the committed file is exactly what the generator produces. See airflow-compat/unicode/README.md.
#
#     bash scripts/check-unicode-tables.sh            # check: fails with a diff if the committed file differs
#     bash scripts/check-unicode-tables.sh --write    # overwrite the committed file with the generated one
#     PYTHON=/path/to/python3.11 bash scripts/check-unicode-tables.sh
#
# Needs CPython 3.11 (Unicode 14.0.0): ${PYTHON:-python3} if that is 3.11, otherwise python3.11. The Rust
# toolchain is the one pinned by rust-toolchain.toml (its Unicode version decides the two case tables).
# Generated files go to target/unicode/ under the repository root; cargo uses ${CARGO_TARGET_DIR:-target}.
set -euo pipefail
cd "$(dirname "$0")/.."

write=false
case "${1-}" in
    "") ;;
    --write) write=true ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--write]" >&2; exit 2 ;;
esac

is_python_311() {
    "$1" -c 'import sys; sys.exit(sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11))' \
        >/dev/null 2>&1
}

python="${PYTHON:-python3}"
if ! is_python_311 "$python"; then
    if command -v python3.11 >/dev/null 2>&1 && is_python_311 python3.11; then
        echo "note: $python is not CPython 3.11, using python3.11" >&2
        python=python3.11
    else
        echo "error: CPython 3.11 is required (the tables reproduce its Unicode 14.0.0 behaviour):" \
            "$python is not CPython 3.11 and no python3.11 was found; set PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
fi

committed=airflow-compat/src/pystr/tables.rs
out=target/unicode
mkdir -p "$out"

cargo run --quiet -p airflow-compat --example rust_case_mappings >"$out/rust-case.txt"
"$python" airflow-compat/unicode/gen_tables.py --rust-case "$out/rust-case.txt" --out "$out/tables.rs"

# The generator lays the tables out as rustfmt does; make sure (edition as in the workspace Cargo.toml).
if ! rustfmt --edition 2024 --config-path rustfmt.toml --check "$out/tables.rs" >/dev/null; then
    echo "error: the generated $out/tables.rs is not rustfmt-clean (gen_tables.py's layout is out of date):" >&2
    rustfmt --edition 2024 --config-path rustfmt.toml --check "$out/tables.rs" >&2 || true
    exit 1
fi

if $write; then
    cp "$out/tables.rs" "$committed"
    echo "wrote $committed"
elif diff -u "$committed" "$out/tables.rs"; then
    echo "$committed is up to date"
else
    echo "error: $committed differs from the generated $out/tables.rs (see the diff above);" \
        "run 'bash scripts/check-unicode-tables.sh --write' to update it" >&2
    exit 1
fi
