/*
 * Benchmark plugin with the toolchain's own allocator (wasi-libc's dlmalloc):
 *   clang-16 --target=wasm32-wasi -mexec-model=reactor -O2 -c bench_plugin.c
 *   clang-16 --target=wasm32-wasi -mexec-model=reactor bench_plugin.o -Wl,--export=__heap_base \
 *     -Wl,--export=__data_end -Wl,--export=malloc -Wl,--export=free -o bench_plugin.wasm
 * bench.c runs it as is (dlmalloc inside wasm) and after `transform` (host_malloc/host_free over
 * hostalloc), both compiled by wasm2c with the same flags. bench_mix.h adds the size mixes and
 * the footprint fill of bench.sh.
 */
#include <stdlib.h>

#include "bench_pairs.h"
#include "bench_mix.h"
