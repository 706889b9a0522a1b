#!/usr/bin/env bash
# Native tests of the C host allocator (host/c/hostalloc.c). `npm run test:native`.
#
#  1. hostalloc.c compiles cleanly as strict C11 (gcc, and clang-16 when present).
#  2. Conformance suite (conformance.c, with host malloc failure injection) under ASan+UBSan, then
#     under valgrind memcheck; the hostile plugin sequences (test/reliability/hostile_plugin.c)
#     under ASan+UBSan; a bounded libFuzzer run of fuzz.c (installs clang-16 libclang-rt-16-dev
#     when missing and possible).
#  3. A plugin written against the host ABI from source (plugin_hostabi.c + the fixture
#     workload), compiled by wasm2c, run natively with hostalloc under ASan+UBSan; its checksums
#     must equal the Node results of fixture clang-nostdlib-freelist (same workload source).
#  4. Every fixture in fixtures/manifest.json: transformed by the library (dist/src/index.js, built
#     with `npm run build` if missing), compiled by wasm2c, run natively under ASan+UBSan by
#     driver.c, and compared with the original fixture run in Node by test/harness/run.ts.
#     Not runnable natively, reported as skipped: JS-glue builds (they need their glue), the
#     -sMALLOC=none reference (no Node baseline), modules the transform refuses, modules importing
#     something the driver does not provide.
#
# Build products go to test/native/build/. Environment:
#   NATIVE_FILTER=regex   only fixtures whose name matches
#   NATIVE_JOBS=n         parallel fixture jobs (default: number of CPUs)
#   NATIVE_NO_VALGRIND=1  skip the valgrind run
#   NATIVE_STRICT=1       count fixtures the transform refuses as failures instead of skips
#   NATIVE_FUZZ_RUNS=n    libFuzzer inputs of the bounded run (default 20000)
#   NATIVE_FUZZ_SECONDS=s time limit of that run (default 120)
#   NATIVE_NO_FUZZ=1      skip the libFuzzer run
# Last line: "native: N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B="$HERE/build"
HOSTC="$ROOT/host/c"
W2C_RT=/usr/share/wabt/wasm2c
export NODE_NO_WARNINGS=1

die() {
  echo "native: $*" >&2
  echo "native: 0 passed, 1 failed"
  exit 1
}

command -v gcc >/dev/null 2>&1 || die "gcc not found: install gcc (apt-get install gcc)"
command -v wasm2c >/dev/null 2>&1 || die "wasm2c not found: install wabt (apt-get install wabt)"
[ -f "$W2C_RT/wasm-rt-impl.c" ] || die "$W2C_RT/wasm-rt-impl.c not found: install wabt (apt-get install wabt)"
command -v node >/dev/null 2>&1 || die "node not found"
[ -d "$ROOT/node_modules/tsx" ] || die "node_modules/tsx missing: run npm ci"

mkdir -p "$B"
PASSED=0
FAILED=0
SKIPPED=()
FAILS=()
pass() {
  PASSED=$((PASSED + 1))
  echo "ok   $1"
}
fail() {
  FAILED=$((FAILED + 1))
  FAILS+=("$1")
  echo "FAIL $1${2:+: $2}"
}
skip() {
  SKIPPED+=("$1 ($2)")
  echo "skip $1: $2"
}

SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# ------------------------------------------------------------------------------ 1. strict C11
if gcc -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Werror -O2 \
  -c "$HOSTC/hostalloc.c" -o "$B/hostalloc-c11.o" 2>"$B/c11.log"; then
  pass "hostalloc.c builds as strict C11 (gcc -Wall -Wextra -Wpedantic -Werror)"
else
  fail "hostalloc.c strict C11 (gcc)" "see $B/c11.log"
  cat "$B/c11.log"
fi
if command -v clang-16 >/dev/null 2>&1; then
  if clang-16 -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -c "$HOSTC/hostalloc.c" \
    -o "$B/hostalloc-clang.o" 2>"$B/c11-clang.log"; then
    pass "hostalloc.c builds as strict C11 (clang-16)"
  else
    fail "hostalloc.c strict C11 (clang-16)" "see $B/c11-clang.log"
  fi
fi

# ------------------------------------------------------------------------------ 2. conformance
CONF_SRC=("$HOSTC/hostalloc.c" "$HERE/conformance.c")
# Host malloc failure injection in the conformance suite (GNU ld --wrap).
OOM_WRAP=(-DHOSTALLOC_WRAP_MALLOC -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc)
if gcc -std=c11 -g -O1 "${SAN[@]}" "${OOM_WRAP[@]}" -I"$HOSTC" "${CONF_SRC[@]}" -o "$B/conformance-asan" 2>"$B/conformance-asan.log"; then
  if "$B/conformance-asan" >"$B/conformance-asan.out" 2>&1; then
    pass "conformance under ASan+UBSan ($(tail -1 "$B/conformance-asan.out"))"
  else
    fail "conformance under ASan+UBSan" "see $B/conformance-asan.out"
    grep -v '^ok' "$B/conformance-asan.out" | head -40
  fi
else
  fail "conformance build (ASan)" "see $B/conformance-asan.log"
  cat "$B/conformance-asan.log"
fi
if [ "${NATIVE_NO_VALGRIND:-0}" = 1 ]; then
  skip "conformance under valgrind" "NATIVE_NO_VALGRIND=1"
elif ! command -v valgrind >/dev/null 2>&1; then
  fail "conformance under valgrind" "valgrind not found (apt-get install valgrind, or NATIVE_NO_VALGRIND=1)"
elif gcc -std=c11 -g -O1 "${OOM_WRAP[@]}" -I"$HOSTC" "${CONF_SRC[@]}" -o "$B/conformance" 2>"$B/conformance.log"; then
  if valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    "$B/conformance" >"$B/conformance-valgrind.out" 2>&1; then
    pass "conformance under valgrind ($(tail -1 "$B/conformance-valgrind.out"))"
  else
    fail "conformance under valgrind" "see $B/conformance-valgrind.out"
    grep -v '^ok' "$B/conformance-valgrind.out" | head -40
  fi
else
  fail "conformance build (valgrind)" "see $B/conformance.log"
fi

# Hostile plugin call sequences (test/reliability/hostile_plugin.c): invalid, double and foreign
# frees, huge sizes, calloc overflow, bad alignments are reported and leave the heap intact.
if gcc -std=c11 -g -O1 "${SAN[@]}" -I"$HOSTC" "$HOSTC/hostalloc.c" "$ROOT/test/reliability/hostile_plugin.c" \
  -o "$B/hostile-plugin-asan" 2>"$B/hostile-plugin.log"; then
  if "$B/hostile-plugin-asan" >"$B/hostile-plugin.out" 2>&1; then
    pass "hostile plugin sequences under ASan+UBSan ($(tail -1 "$B/hostile-plugin.out"))"
  else
    fail "hostile plugin sequences under ASan+UBSan" "see $B/hostile-plugin.out"
    tail -20 "$B/hostile-plugin.out"
  fi
else
  fail "hostile_plugin.c build (ASan)" "see $B/hostile-plugin.log"
  cat "$B/hostile-plugin.log"
fi

# ------------------------------------------------------------------------------ libFuzzer
# fuzz.c: operation sequences, hostile pointers, moving memory and a shadow model, under
# libFuzzer with ASan+UBSan. A bounded run here (NATIVE_FUZZ_RUNS inputs, default 20000, and at
# most NATIVE_FUZZ_SECONDS, default 120; fixed seed; inputs of any length up to 1 KiB from the
# start, -len_control=0, which reaches in two minutes the coverage that libFuzzer's slowly growing
# lengths reach in ten); campaigns are described in
# docs/reliability.md. Needs a clang with libFuzzer: clang-16 + libclang-rt-16-dev (Debian),
# installed here when missing and root can apt-get.
fuzz_cc() {
  local c
  for c in clang-16 clang-19 clang; do
    command -v "$c" >/dev/null 2>&1 || continue
    printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$B/fuzz-probe.c"
    if "$c" -fsanitize=fuzzer "$B/fuzz-probe.c" -o "$B/fuzz-probe" >/dev/null 2>&1; then
      echo "$c"
      return 0
    fi
  done
  return 1
}
if [ "${NATIVE_NO_FUZZ:-0}" = 1 ]; then
  skip "libFuzzer run" "NATIVE_NO_FUZZ=1"
else
  FUZZ_CC=$(fuzz_cc)
  if [ -z "$FUZZ_CC" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "note: no clang with libFuzzer: installing clang-16 libclang-rt-16-dev"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang-16 libclang-rt-16-dev; } \
      >"$B/fuzz-apt.log" 2>&1
    FUZZ_CC=$(fuzz_cc)
  fi
  if [ -z "$FUZZ_CC" ]; then
    fail "libFuzzer run" "no clang with -fsanitize=fuzzer (apt-get install clang-16 libclang-rt-16-dev)"
  elif ! "$FUZZ_CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I"$HOSTC" \
    "$HOSTC/hostalloc.c" "$HERE/fuzz.c" -o "$B/fuzz" 2>"$B/fuzz-build.log"; then
    fail "libFuzzer build ($FUZZ_CC)" "see $B/fuzz-build.log"
    cat "$B/fuzz-build.log"
  else
    rm -rf "$B/fuzz-corpus" "$B/fuzz-artifacts"
    mkdir -p "$B/fuzz-corpus" "$B/fuzz-artifacts"
    if (cd "$B" && ASAN_OPTIONS=detect_leaks=1 ./fuzz -seed=1 -runs="${NATIVE_FUZZ_RUNS:-20000}" \
      -max_total_time="${NATIVE_FUZZ_SECONDS:-120}" -max_len=1024 -len_control=0 -artifact_prefix=fuzz-artifacts/ \
      fuzz-corpus >fuzz.log 2>&1); then
      pass "libFuzzer over the API with a shadow model ($(grep -m1 -o 'Done [0-9]* runs in [0-9]* second(s)' "$B/fuzz.log"), $(grep -o 'cov: [0-9]*' "$B/fuzz.log" | tail -1))"
    else
      fail "libFuzzer run" "see $B/fuzz.log and the reproducer in $B/fuzz-artifacts/"
      grep -m3 -E 'fuzz:|ERROR' "$B/fuzz.log"
    fi
  fi
fi

# ------------------------------------------------------------------------------ wasm2c helpers
# Runtime built once per configuration (it is the slow part of each link).
# WASM_RT_MEMCHECK_SIGNAL_HANDLER=0: explicit bounds checks and a realloc()ed memory, so the base
# really moves on growth and ASan sees every host access into linear memory.
W2C_CFLAGS=(-g -O1 "${SAN[@]}" -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 -I"$W2C_RT" -I"$HOSTC" -I"$HERE" -w)
gcc "${W2C_CFLAGS[@]}" -c "$W2C_RT/wasm-rt-impl.c" -o "$B/wasm-rt-impl-asan.o" 2>"$B/rt.log" ||
  die "cannot compile the wasm2c runtime: see $B/rt.log"
gcc "${W2C_CFLAGS[@]}" -c "$HOSTC/hostalloc.c" -o "$B/hostalloc-asan.o" 2>>"$B/rt.log" ||
  die "cannot compile hostalloc.c: see $B/rt.log"

# build_driver WASM DIR: wasm2c + glue + ASan driver in DIR; prints a reason and returns 3 when the
# module's imports cannot be provided, 1 on other errors.
build_driver() {
  local wasm=$1 dir=$2 rc
  mkdir -p "$dir"
  wasm2c "$wasm" -n plugin -o "$dir/plugin.c" 2>"$dir/wasm2c.log" || {
    echo "wasm2c failed: $(head -3 "$dir/wasm2c.log")"
    return 1
  }
  node "$HERE/gen-glue.mjs" "$dir/plugin.h" plugin P >"$dir/glue.h" 2>"$dir/glue.log"
  rc=$?
  if [ $rc -ne 0 ]; then
    cat "$dir/glue.log"
    return $rc
  fi
  gcc "${W2C_CFLAGS[@]}" -I"$dir" "$dir/plugin.c" "$HERE/driver.c" "$B/wasm-rt-impl-asan.o" \
    "$B/hostalloc-asan.o" -lm -o "$dir/driver" 2>"$dir/gcc.log" || {
    echo "gcc failed: $(grep -m3 error "$dir/gcc.log")"
    return 1
  }
}

# ------------------------------------------------------------------------------ 3. from source
HOSTABI_WASM="$HERE/plugin_hostabi.wasm"
# clang-16 links wasm with wasm-ld-16 (Debian lld-16): the libFuzzer step above may have installed
# clang-16 without it.
if command -v clang-16 >/dev/null 2>&1 && command -v wasm-ld-16 >/dev/null 2>&1 &&
  command -v wasm2wat >/dev/null 2>&1 && command -v wat2wasm >/dev/null 2>&1; then
  if clang-16 --target=wasm32-unknown-unknown -nostdlib -O2 -fno-builtin -DWL_FREESTANDING \
    -I"$ROOT/fixtures/src" -c "$HERE/plugin_hostabi.c" -o "$B/plugin_hostabi.o" 2>"$B/plugin_hostabi.log" &&
    clang-16 --target=wasm32-unknown-unknown -nostdlib -Wl,--no-entry -Wl,--export=__heap_base \
      -Wl,--export=__data_end -Wl,--export-dynamic "$B/plugin_hostabi.o" -o "$B/plugin_hostabi.raw.wasm" \
      2>>"$B/plugin_hostabi.log" &&
    wasm2wat "$B/plugin_hostabi.raw.wasm" |
    sed '0,/(export "memory"/s//(global (export "__hostalloc_abi") i32 (i32.const 1))\n  (export "memory"/' \
      >"$B/plugin_hostabi.wat" &&
    wat2wasm "$B/plugin_hostabi.wat" -o "$B/plugin_hostabi.wasm" 2>>"$B/plugin_hostabi.log"; then
    HOSTABI_WASM="$B/plugin_hostabi.wasm"
  else
    fail "build plugin_hostabi.wasm from source" "see $B/plugin_hostabi.log"
  fi
else
  echo "note: clang-16/wasm-ld-16/wasm2wat/wat2wasm missing: using the committed test/native/plugin_hostabi.wasm"
fi
if [ -f "$HOSTABI_WASM" ]; then
  if msg=$(build_driver "$HOSTABI_WASM" "$B/hostabi"); then
    if "$B/hostabi/driver" --growth >"$B/hostabi/native.jsonl" 2>"$B/hostabi/native.err" &&
      node --import tsx "$HERE/node-results.mjs" expected clang-nostdlib-freelist "$B/hostabi/expected.json" &&
      node --import tsx "$HERE/node-results.mjs" compare "$B/hostabi/expected.json" "$B/hostabi/native.jsonl" hostabi; then
      pass "from-source host-ABI plugin under wasm2c+hostalloc (ASan) == clang-nostdlib-freelist in Node"
    else
      fail "from-source host-ABI plugin" "see $B/hostabi/native.jsonl, native.err"
      tail -20 "$B/hostabi/native.err"
    fi
  else
    fail "from-source host-ABI plugin: build" "$msg"
  fi
else
  fail "from-source host-ABI plugin" "no plugin_hostabi.wasm (needs clang-16)"
fi

# ------------------------------------------------------------------------------ 4. fixtures
if [ ! -f "$ROOT/dist/src/index.js" ]; then
  echo "note: dist/src/index.js missing: running npm run build"
  (cd "$ROOT" && npm run build >"$B/npm-build.log" 2>&1) || true
fi
if [ ! -f "$ROOT/dist/src/index.js" ]; then
  fail "transformed fixtures" "the library is not built (npm run build failed: see $B/npm-build.log)"
else
  node --import tsx "$HERE/node-results.mjs" list >"$B/fixtures.tsv" 2>"$B/fixtures.err" ||
    die "cannot read fixtures/manifest.json: $(head -3 "$B/fixtures.err")"

  # run_fixture NAME FILE GROWTH: after `prepare`, builds and runs the driver on the transformed
  # module and compares; writes $B/fx/NAME/status = "pass" | "fail: …" | "skip: …"
  run_fixture() {
    local name=$1 file=$2 growth=$3 dir="$B/fx/$1" rc msg
    if [ -f "$dir/transform.status" ]; then
      cp "$dir/transform.status" "$dir/status"
      return
    fi
    if [ ! -f "$dir/transformed.wasm" ]; then
      echo "fail: no transformed module (prepare failed)" >"$dir/status"
      return
    fi
    msg=$(build_driver "$dir/transformed.wasm" "$dir")
    rc=$?
    if [ $rc -eq 3 ]; then
      echo "skip: $msg" >"$dir/status"
      return
    elif [ $rc -ne 0 ]; then
      echo "fail: $msg" >"$dir/status"
      return
    fi
    local flags=()
    [ "$growth" = 1 ] && flags+=(--growth)
    "$dir/driver" "${flags[@]}" >"$dir/native.jsonl" 2>"$dir/native.err"
    rc=$?
    if [ ! -f "$dir/expected.json" ]; then
      echo "fail: node baseline failed: $(head -3 "$dir/expected.err" 2>/dev/null | tr '\n' ' ')" >"$dir/status"
      return
    fi
    if ! node --import tsx "$HERE/node-results.mjs" compare "$dir/expected.json" "$dir/native.jsonl" "$name" \
      2>"$dir/compare.err"; then
      echo "fail: $(head -5 "$dir/compare.err" | tr '\n' ' ')" >"$dir/status"
      return
    fi
    if [ $rc -ne 0 ]; then
      echo "fail: driver exit $rc: $(grep -m3 -E 'ERROR|error|runtime' "$dir/native.err" | tr '\n' ' ')" >"$dir/status"
      return
    fi
    echo pass >"$dir/status"
  }
  export -f run_fixture build_driver
  export B HERE HOSTC W2C_RT
  export W2C_CFLAGS_STR="${W2C_CFLAGS[*]}"

  FILTER=${NATIVE_FILTER:-.}
  JOBS=${NATIVE_JOBS:-$(nproc 2>/dev/null || echo 2)}
  : >"$B/todo.tsv"
  while IFS=$'\t' read -r name file growth glue reference; do
    [[ $name =~ $FILTER ]] || continue
    if [ "$glue" = 1 ]; then
      skip "$name" "JS-glue build: its imports are Emscripten's minified JS functions"
      continue
    fi
    if [ "$reference" = 1 ]; then
      skip "$name" "-sMALLOC=none reference: no Node baseline in the harness"
      continue
    fi
    printf '%s\t%s\t%s\n' "$name" "$file" "$growth" >>"$B/todo.tsv"
  done <"$B/fixtures.tsv"

  rm -rf "$B/fx"
  mkdir -p "$B/fx"
  echo "transforming $(wc -l <"$B/todo.tsv") fixtures and running them in Node ..."
  node --import tsx "$HERE/node-results.mjs" prepare "$B/todo.tsv" "$B/fx" 2>"$B/prepare.err" ||
    fail "prepare (transform + Node baselines)" "$(tail -3 "$B/prepare.err")"

  # Parallel: bash functions through xargs need the array re-created in the child.
  run_one() {
    IFS=' ' read -r -a W2C_CFLAGS <<<"$W2C_CFLAGS_STR"
    run_fixture "$@"
  }
  export -f run_one
  tr '\t' '\n' <"$B/todo.tsv" | xargs -d '\n' -n 3 -P "$JOBS" bash -c 'run_one "$@"' _

  while IFS=$'\t' read -r name file growth; do
    st=$(cat "$B/fx/$name/status" 2>/dev/null || echo "fail: no status")
    case $st in
      pass) pass "$name: transformed, wasm2c + hostalloc (ASan) == Node original" ;;
      "skip: refused"*) if [ "${NATIVE_STRICT:-0}" = 1 ]; then fail "$name" "${st#skip: }"; else skip "$name" "${st#skip: }"; fi ;;
      skip:*) skip "$name" "${st#skip: }" ;;
      *) fail "$name" "${st#fail: }" ;;
    esac
  done <"$B/todo.tsv"
fi

echo
if [ ${#SKIPPED[@]} -gt 0 ]; then
  echo "skipped (${#SKIPPED[@]}):"
  for s in "${SKIPPED[@]}"; do echo "  $s"; done
fi
if [ ${#FAILS[@]} -gt 0 ]; then
  echo "failed (${#FAILS[@]}):"
  for s in "${FAILS[@]}"; do echo "  $s"; done
fi
echo "native: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
