#!/usr/bin/env bash
# The main job: the daqlab server with simulated detectors, and JupyterLab on
# the quickstart notebook. Ctrl-C stops both.
#   DAQLAB_PORT (default 8765), DAQLAB_LAB_PORT (default 8888), DAQLAB_LAB_ARGS (extra jupyter lab args)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
PORT="${DAQLAB_PORT:-8765}"
LAB_PORT="${DAQLAB_LAB_PORT:-8888}"
mkdir -p .daqlab
node daq-server/dist/src/cli.js --port "$PORT" "$@" 2> >(tee .daqlab/server.log >&2) &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
  node -e "fetch('http://127.0.0.1:$PORT/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && break
  kill -0 $SERVER 2>/dev/null || { echo "daqlab-server failed to start: see .daqlab/server.log" >&2; exit 1; }
  sleep 0.1
done
export DAQLAB_URL="ws://127.0.0.1:$PORT"
echo "daqlab-server on $DAQLAB_URL — starting JupyterLab on notebooks/00-quickstart.ipynb"
# shellcheck disable=SC2086
.venv/bin/jupyter lab --no-browser --ip 127.0.0.1 --port "$LAB_PORT" --notebook-dir "$ROOT/notebooks" \
  $( [ "$(id -u)" = 0 ] && echo --allow-root ) ${DAQLAB_LAB_ARGS:-} "$ROOT/notebooks/00-quickstart.ipynb"
