#!/usr/bin/env bash
# Benchmarks (not part of the test suite): prints a table per benchmark.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh >/dev/null
node bench/dist/acquire.js "$@"
.venv/bin/python bench/stream_to_python.py "$@"
