#!/usr/bin/env bash
# Rebuilds the committed benchmark plugins (needs emcc 3.1.6, see /work/shared/TOOLCHAINS.md):
#   alloc-bench-dlmalloc.wasm  emcc's default allocator (dlmalloc); also the input of the transform
#   alloc-bench-emmalloc.wasm  -sMALLOC=emmalloc
# Both: -O2 with a name section, standalone, growable memory that starts small (64 KiB stack,
# 640 KiB initial memory) so that memory.buffer.byteLength follows the heap.
# `npm run bench` uses the committed .wasm files and never needs emcc.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export NODE_PATH=/usr/share/nodejs
EXPORTS=_malloc,_free,_realloc,_bench_small,_bench_mixed,_bench_large,_bench_realloc,_bench_pairs,_bench_peak_live,_bench_reset
FLAGS=(-O2 --profiling-funcs -sSTANDALONE_WASM --no-entry -sALLOW_MEMORY_GROWTH -sTOTAL_STACK=65536
  -sINITIAL_MEMORY=655360 "-sEXPORTED_FUNCTIONS=$EXPORTS")
for alloc in dlmalloc emmalloc; do
  out="$HERE/alloc-bench-$alloc.wasm"
  rm -f "$out"
  emcc "${FLAGS[@]}" "-sMALLOC=$alloc" "$HERE/alloc-bench.c" -o "$out"
  echo "built $out ($(stat -c %s "$out") bytes)"
done
