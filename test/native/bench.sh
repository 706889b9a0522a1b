#!/usr/bin/env bash
# Builds and runs the native malloc/free micro-benchmark (bench.c); prints its JSON on stdout
# (build messages go to stderr): pairs per second for bench_pairs and four size mixes, heap
# footprint (memory size, high-water mark, host metadata) after bench_fill, and callgrind
# instruction counts per pair (unless BENCH_NO_CALLGRIND=1; BENCH_CG_PAIRS sets the run length,
# default 100000). Arguments are passed to the bench binary:
#   bash test/native/bench.sh [pairs-per-call] [min-seconds-per-sample]
#
# Needs gcc, wasm2c, node with the built library (dist/), and emcc 3.1.6 for the bench plugin
# (falls back to the committed test/native/bench_emcc.wasm when emcc is missing). The transformed
# and original modules are compiled by wasm2c and gcc with identical flags (BENCH_CFLAGS,
# default -O2; wasm2c's default guard-page memory, as an embedder would use).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B="$HERE/build/bench"
W2C_RT=/usr/share/wabt/wasm2c
CFLAGS=(${BENCH_CFLAGS:--O2})
export NODE_NO_WARNINGS=1
mkdir -p "$B"
for t in gcc wasm2c node; do command -v $t >/dev/null || {
  echo "bench: $t not found" >&2
  exit 1
}; done

WASM="$HERE/bench_emcc.wasm"
if command -v emcc >/dev/null 2>&1; then
  NODE_PATH=/usr/share/nodejs emcc -O2 --no-entry -sSTANDALONE_WASM -sTOTAL_STACK=65536 \
    -sINITIAL_MEMORY=262144 -sALLOW_MEMORY_GROWTH=1 \
    -sEXPORTED_FUNCTIONS=_malloc,_free,_realloc,_bench_pairs,_bench_mix,_bench_fill '-DBENCH_EXPORT(n)=__attribute__((used))' \
    -I"$HERE" "$HERE/bench_plugin.c" -o "$B/bench_emcc.wasm" >&2
  WASM="$B/bench_emcc.wasm"
fi
node --import tsx "$HERE/node-results.mjs" transform "$WASM" "$B/bench_emcc.host.wasm" >&2

wasm2c "$WASM" -n orig -o "$B/orig.c"
wasm2c "$B/bench_emcc.host.wasm" -n host -o "$B/host.c"
node "$HERE/gen-glue.mjs" "$B/orig.h" orig O _O >"$B/glue_orig.h"
node "$HERE/gen-glue.mjs" "$B/host.h" host H _H >"$B/glue_host.h"
SRCS=("$B/orig.c" "$B/host.c")
DEFS=()
if [ -f "$HERE/build/hostabi/plugin.c" ] || [ -f "$HERE/build/plugin_hostabi.wasm" ]; then
  SRC_WASM="$HERE/build/plugin_hostabi.wasm"
  [ -f "$SRC_WASM" ] || SRC_WASM="$HERE/plugin_hostabi.wasm"
  if [ -f "$SRC_WASM" ]; then
    wasm2c "$SRC_WASM" -n src -o "$B/src.c"
    node "$HERE/gen-glue.mjs" "$B/src.h" src S _S >"$B/glue_src.h"
    SRCS+=("$B/src.c")
    DEFS+=(-DBENCH_HAVE_SRC)
  fi
fi
gcc "${CFLAGS[@]}" -w "${DEFS[@]}" -I"$W2C_RT" -I"$ROOT/host/c" -I"$HERE" -I"$B" "${SRCS[@]}" \
  "$W2C_RT/wasm-rt-impl.c" "$ROOT/host/c/hostalloc.c" "$HERE/bench.c" -lm -o "$B/bench" >&2
"$B/bench" "$@" >"$B/bench.json"

# Instruction counts (callgrind; repeatable on a loaded machine): one bench_mix run per size mix
# and module. Per pair: the whole kernel (same code in both modules, the allocator included), and
# for the host the env.host_* imports inclusive (hostalloc plus the three-line import wrappers of
# w2c_host.h). dlmalloc's own count is derived: orig kernel - (host kernel - host imports).
CG_PAIRS=${BENCH_CG_PAIRS:-100000}
: >"$B/callgrind.tsv"
if [ "${BENCH_NO_CALLGRIND:-0}" != 1 ] && command -v valgrind >/dev/null 2>&1 && command -v callgrind_annotate >/dev/null 2>&1; then
  for mix in 0 1 2 3; do
    n=$CG_PAIRS
    [ $mix = 2 ] && n=$((CG_PAIRS / 8))
    for mod in orig host; do
      out="$B/callgrind.$mod.$mix.out"
      valgrind --tool=callgrind --callgrind-out-file="$out" "$B/bench" cg $mod $mix $n >/dev/null 2>"$B/callgrind.$mod.$mix.log" || {
        echo "bench: callgrind failed: see $B/callgrind.$mod.$mix.log" >&2
        exit 1
      }
      callgrind_annotate --inclusive=yes "$out" 2>/dev/null | tr -d , | awk -v mod=$mod -v mix=$mix -v n=$n '
        $NF ~ /^\[/ && $(NF-1) ~ /:Z_(orig|host)Z_bench_mix$/ { kernel = $1 }
        $NF ~ /^\[/ && $(NF-1) ~ /:Z_envZ_host_(malloc|free|realloc)$/ { imports += $1 }
        END { printf "%s\t%s\t%d\t%d\t%d\n", mix, mod, n, kernel, imports }' >>"$B/callgrind.tsv"
    done
  done
fi
node -e '
const fs = require("fs");
const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const rows = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").filter(Boolean).map((l) => l.split("\t"));
const names = ["small", "mixed", "large", "realloc"];
r.callgrind = names.map((mix, i) => {
  const o = rows.find((x) => x[0] === String(i) && x[1] === "orig");
  const h = rows.find((x) => x[0] === String(i) && x[1] === "host");
  if (!o || !h) return { mix, error: "not measured (valgrind missing or BENCH_NO_CALLGRIND=1)" };
  const n = Number(o[2]), ok = Number(o[3]) / n, hk = Number(h[3]) / n, hi = Number(h[4]) / n;
  const r1 = (x) => Math.round(x * 10) / 10;
  return { mix, pairs: n, orig_kernel_ir_per_pair: r1(ok), host_kernel_ir_per_pair: r1(hk),
    host_allocator_ir_per_pair: r1(hi), dlmalloc_ir_per_pair_derived: r1(ok - (hk - hi)) };
});
process.stdout.write(JSON.stringify(r) + "\n");
' "$B/bench.json" "$B/callgrind.tsv"
