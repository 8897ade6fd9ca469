#!/usr/bin/env bash
# Benchmarks (not part of the test suite): each prints a table beside a reference measured in the same run,
# and hands the same figures to bench/record.{ts,py}; this script gathers them into one run record under
# bench/results/ (bench/results.py: machine fingerprint, git commit, date, figures).
#
#   npm run bench                               every benchmark, then a record
#   npm run bench -- --only codec,jungfrau      those benchmarks only (names: --help lists them)
#   npm run bench -- --compare                  run, record, then compare with the last record of this machine
#   npm run bench -- --compare-only             no run: the newest record beside the earlier ones of its machine
#   npm run bench -- --only codec -- --seconds 0.2   arguments after a second -- go to that one benchmark
#   records: bench/results/ (or $DAQLAB_BENCH_RESULTS); the comparison is bench/results.py's
#   --no-record: print the tables only; --no-setup: skip scripts/setup.sh (the build must be current)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# name | title | command (the name is the script's, as --only takes it)
BENCHES=(
  "acquire|acquisition into the store, per simulator (reference: memcpy)|node bench/dist/acquire.js"
  "stream_to_python|lossless streaming to Python (reference: raw ws socket)|.venv/bin/python bench/stream_to_python.py"
  "jungfrau|Jungfrau correction + assembly (reference: memcpy)|node bench/dist/jungfrau.js"
  "azint|azimuthal integration and sigma clipping (reference: pyFAI on the same image)|.venv/bin/python bench/azint.py"
  "pipelines|whole pipelines, 1 and 2 receivers|node bench/dist/pipelines.js"
  "codec|bitshuffle-LZ4 codec (reference: memcpy, h5py + hdf5plugin)|node bench/dist/codec.js"
  "bslz4|bslz4 decoder: LZ4 + unshuffle in WebAssembly (reference: the previous JS-LZ4 path, memcpy of the output)|node bench/dist/bslz4.js"
  "stream2|Stream2 ingest from daqlab-detector-sim, EIGER2 4M bslz4, 1 and 2 receivers; smx on Stream2 (reference: a bare ZeroMQ PULL of the same messages; smx on the built-in sim-eiger-4m)|.venv/bin/python bench/stream2.py"
  "saving|saving to HDF5 (reference: h5py + hdf5plugin writing the same frames)|node bench/dist/saving.js"
  "direct_chunk|direct chunk write of daqlab-detector-sim's Stream2 bslz4 frames (reference: decode + re-encode of the same frames)|node bench/dist/direct-chunk.js"
  "h5viewer|HDF5 viewer: an EIGER 4M slice read and binned for the browser (reference: h5py reading the frame)|.venv/bin/python bench/h5viewer.py"
  "batch|batch azint on a saved EIGER 4M scan (reference: the online rate of the same pipeline and saving)|node bench/dist/batch.js"
  "tomo|tomography: filtered back-projection, 1024² slices from 1800 projections (reference: numpy/scipy FBP of the same sinograms)|.venv/bin/python bench/tomo.py"
  "volume|Volume3D in headless Chromium: time to first picture (reference: a 64³ volume), orbit frame rate (reference: empty scene)|.venv/bin/python bench/volume.py"
  "liveimage|LiveImage in headless Chromium, proxy and direct (reference: raw WebSocket into the same page)|.venv/bin/python bench/liveimage.py"
  "catalogue|catalogue queries on 100,000 datasets in SQLite, p50/p99 (reference: a bare SQL query of the same rows)|node bench/dist/catalogue.js"
  "flyscan|P06-like fly mesh 100x100 at 1 kHz: EIGER 500k + smx, MCA, 4 counters, 10 kHz interferometers (reference: the trigger rate)|node bench/dist/flyscan.js"
  "soak|a day of scans in 10 minutes, RSS and store bytes over time (reference: the memory budget)|.venv/bin/python bench/soak.py --minutes 10 --scans 600"
)
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3

only="" compare=0 compare_only=0 record=1 setup=1 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only="${2:?--only needs NAME[,NAME]}"; shift 2 ;;
    --only=*) only="${1#--only=}"; shift ;;
    --compare) compare=1; shift ;;
    --compare-only) compare_only=1; shift ;;
    --no-record) record=0; shift ;;
    --no-setup) setup=0; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
               printf 'benchmarks:'; for b in "${BENCHES[@]}"; do printf ' %s' "${b%%|*}"; done; echo; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$compare_only" = 1 ]; then
  exec "$PY" bench/results.py compare
fi

names=()
for b in "${BENCHES[@]}"; do names+=("${b%%|*}"); done
if [ -n "$only" ]; then
  IFS=, read -r -a wanted <<<"$only"
  for w in "${wanted[@]}"; do
    [[ " ${names[*]} " == *" $w "* ]] || { echo "bench: no benchmark named '$w' (one of: ${names[*]})" >&2; exit 2; }
  done
else
  wanted=("${names[@]}")
fi
if [ ${#extra[@]} -gt 0 ] && [ ${#wanted[@]} -ne 1 ]; then
  echo "bench: arguments after -- go to one benchmark: name it with --only NAME" >&2; exit 2
fi

[ "$setup" = 1 ] && bash scripts/setup.sh >/dev/null
figures=$(mktemp "${TMPDIR:-/tmp}/daqlab-bench-XXXXXX.jsonl")
trap 'rm -f "$figures"' EXIT
[ "$record" = 1 ] && export DAQLAB_BENCH_RECORD="$figures"

ran=() failed=()
for b in "${BENCHES[@]}"; do
  name="${b%%|*}" rest="${b#*|}"
  title="${rest%%|*}" cmd="${rest#*|}"
  [[ " ${wanted[*]} " == *" $name "* ]] || continue
  echo "== $title"
  # shellcheck disable=SC2086  # the command is words
  if $cmd "${extra[@]}"; then ran+=("$name"); else echo "bench: $name FAILED (exit $?)" >&2; failed+=("$name"); fi
done

if [ "$record" = 1 ]; then
  join() { local IFS=,; echo "$*"; }
  out=$("$PY" bench/results.py write "$figures" --benches "$(join "${ran[@]}")" --failed "$(join "${failed[@]}")" \
        --args "${extra[*]}")
  echo "== record: ${out#"$ROOT"/} ($(grep -c . "$figures" || true) figures)"
  [ "$compare" = 1 ] && "$PY" bench/results.py compare "$out"
fi
[ ${#failed[@]} -eq 0 ]
