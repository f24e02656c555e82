#!/usr/bin/env bash
# target/airflow-venv: real Apache Airflow 3.3.2 with the cncf-kubernetes provider (bench/airflow/requirements.txt,
# every package pinned) and this repository's Airflow backend package (airflow-backend/), installed with pip.
# Created once and again when the requirements, the interpreter or the backend's sources change; used by the
# test command (tests/all/airflow.rs runs Airflow's CLI) and by scripts/bench-airflow.sh. PYTHON picks the
# interpreter (CPython >= 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
venv=target/airflow-venv
requirements=bench/airflow/requirements.txt

stamp="$( { sha256sum "$requirements" | cut -d' ' -f1; "$PYTHON" -VV; } | sha256sum | cut -d' ' -f1)"
if [ ! -f "$venv/.bench-airflow-stamp" ] || [ "$(cat "$venv/.bench-airflow-stamp")" != "$stamp" ]; then
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: -r "$requirements"
    echo "$stamp" >"$venv/.bench-airflow-stamp"
fi

backend_stamp="$(find airflow-backend -type f \( -name '*.py' -o -name '*.toml' -o -name '*.md' \) \
    -not -path '*/build/*' -not -path '*.egg-info/*' | sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$venv/.backend-stamp" 2>/dev/null)" != "$backend_stamp" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./airflow-backend
    # setuptools builds in the source tree: leave it as it was.
    rm -rf airflow-backend/build airflow-backend/src/*.egg-info
    echo "$backend_stamp" >"$venv/.backend-stamp"
fi
