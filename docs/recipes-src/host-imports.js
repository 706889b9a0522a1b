// Emscripten JS library for docs/recipes-src/c-host-alloc.c: declares the six host_* functions of
// the wasm-hostalloc ABI as imports, so that emcc links them as `env.host_*` instead of reporting
// them as undefined symbols. Every other undefined symbol is still an error (unlike
// -sERROR_ON_UNDEFINED_SYMBOLS=0). With -sSTANDALONE_WASM these bodies are never used: the host
// provides the functions. Pass it with `emcc --js-library host-imports.js`.
mergeInto(LibraryManager.library, {
  host_malloc: function () {},
  host_free: function () {},
  host_calloc: function () {},
  host_realloc: function () {},
  host_aligned_alloc: function () {},
  host_usable_size: function () {},
});
