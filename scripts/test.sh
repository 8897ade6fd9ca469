#!/usr/bin/env bash
# The whole test suite: server and widget unit tests (node:test), then the Python client,
# integration, notebook and browser tests (pytest) against real servers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DAQLAB_SETUP_FOR=test bash scripts/setup.sh
echo "== daq-server unit tests (node:test)"
npm test --silent -w daq-server
echo "== browser protocol client and colour mapping (node:test)"
npm test --silent -w widgets
echo "== HDF5 viewer logic against MockProvider (node:test)"
npm test --silent -w extension
echo "== Python client, integration and notebook tests (pytest)"
.venv/bin/python -m pytest "$@"
