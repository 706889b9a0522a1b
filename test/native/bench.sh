#!/usr/bin/env bash
# Builds and runs the native malloc/free micro-benchmark (bench.c); prints its JSON on stdout
# (build messages go to stderr). Arguments are passed to the bench binary:
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
  NODE_PATH=/usr/share/nodejs emcc -O2 --no-entry -sSTANDALONE_WASM \
    -sEXPORTED_FUNCTIONS=_malloc,_free,_bench_pairs '-DBENCH_EXPORT(n)=__attribute__((used))' \
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
"$B/bench" "$@"
