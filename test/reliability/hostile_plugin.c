/*
 * Hostile plugins vs the C host allocator (host/c/hostalloc.c): the call sequences a malicious
 * plugin can make through its env.host_* imports, as a wasm32 embedder forwards them (i32 values
 * zero-extended to uint64_t: 0xffffffff, not -1). The same properties as
 * test/reliability/hostile-plugin.test.ts for the JS host:
 *   - every invalid pointer (interior, misaligned, freed, double free, below the heap base, beyond
 *     the end) is reported (return code + error callback) and changes nothing (stats identical,
 *     hostalloc_check passes);
 *   - huge sizes, calloc overflow (n * size > 2^32, or wrapping), non-power-of-two alignments fail
 *     with 0 and write nothing;
 *   - the allocator never writes outside linear memory: the fake memory sits between guard zones
 *     and below __heap_base is a sentinel zone, all checked byte for byte (ASan checks the rest);
 *   - afterwards a long random valid sequence still satisfies no overlap, alignment, in-heap bounds
 *     and intact contents, checked against a model, with hostalloc_check passing.
 *
 * Build and run (ASan + UBSan):
 *   gcc -std=c11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
 *     -Ihost/c host/c/hostalloc.c test/reliability/hostile_plugin.c -o /tmp/hostile_plugin && /tmp/hostile_plugin
 * Last line: "hostile_plugin: N checks, M failed"; exit status non-zero on failure.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostalloc.h"

#define PAGE 65536u
#define GUARD 4096u
#define GUARD_BYTE 0xA5
#define SENTINEL 0x5A
#define HEAP_BASE (3u * 1024u + 8u) /* unaligned on purpose */

#include "../native/check.h"

/* ---- fake linear memory with guard zones; grow moves it */
typedef struct mem {
  uint8_t *raw; /* GUARD | memory (size) | GUARD */
  uint64_t size, max;
} mem;

static uint8_t *m_base(void *ctx) { return ((mem *)ctx)->raw + GUARD; }
static uint64_t m_size(void *ctx) { return ((mem *)ctx)->size; }
static int m_grow(void *ctx, uint64_t pages) {
  mem *m = (mem *)ctx;
  uint64_t ns = m->size + pages * PAGE;
  if (ns > m->max) return -1;
  uint8_t *nr = (uint8_t *)malloc((size_t)(ns + 2 * GUARD));
  if (!nr) return -1;
  memset(nr, GUARD_BYTE, GUARD);
  memcpy(nr + GUARD, m->raw + GUARD, (size_t)m->size);
  memset(nr + GUARD + m->size, 0, (size_t)(ns - m->size));
  memset(nr + GUARD + ns, GUARD_BYTE, GUARD);
  /* the old guards must be intact before we drop them */
  for (uint32_t i = 0; i < GUARD; i++) {
    if (m->raw[i] != GUARD_BYTE || m->raw[GUARD + m->size + i] != GUARD_BYTE) {
      fprintf(stderr, "guard zone written before growth\n");
      abort();
    }
  }
  free(m->raw);
  m->raw = nr;
  m->size = ns;
  return 0;
}

static void m_init(mem *m, uint64_t pages, uint64_t max_pages) {
  m->size = pages * PAGE;
  m->max = max_pages * PAGE;
  m->raw = (uint8_t *)malloc((size_t)(m->size + 2 * GUARD));
  memset(m->raw, GUARD_BYTE, GUARD);
  memset(m->raw + GUARD, 0, (size_t)m->size);
  memset(m->raw + GUARD, SENTINEL, HEAP_BASE);
  memset(m->raw + GUARD + m->size, GUARD_BYTE, GUARD);
}

static int outside_untouched(const mem *m) {
  for (uint32_t i = 0; i < GUARD; i++)
    if (m->raw[i] != GUARD_BYTE || m->raw[GUARD + m->size + i] != GUARD_BYTE) return 0;
  for (uint32_t i = 0; i < HEAP_BASE; i++)
    if (m->raw[GUARD + i] != SENTINEL) return 0;
  return 1;
}

/* ---- error callback */
static int g_last_cb_code, g_cb_count;
static void on_error(void *ctx, int code, const char *op, uint64_t ptr) {
  (void)ctx;
  (void)op;
  (void)ptr;
  g_last_cb_code = code;
  g_cb_count++;
}

typedef struct env {
  mem m;
  hostalloc_memory_ops ops;
  hostalloc_t *a;
} env;

static void env_init(env *e, uint64_t pages, uint64_t max_pages) {
  m_init(&e->m, pages, max_pages);
  e->ops.ctx = &e->m;
  e->ops.base = m_base;
  e->ops.size = m_size;
  e->ops.grow = m_grow;
  e->ops.max_size = max_pages * PAGE;
  e->a = hostalloc_create(&e->ops, HEAP_BASE, on_error, NULL);
}
static void env_free(env *e) {
  hostalloc_destroy(e->a);
  free(e->m.raw);
}

/* ---- model of live blocks */
#define MAXLIVE 20000
typedef struct blk {
  uint64_t p, size, align;
  uint8_t fill;
} blk;
static blk g_live[MAXLIVE];
static int g_nlive;

static uint8_t *mb(env *e) { return e->m.raw + GUARD; }
static void model_add(env *e, uint64_t p, uint64_t size, uint64_t align, uint8_t fill) {
  memset(mb(e) + p, fill, (size_t)size);
  if (g_nlive < MAXLIVE) g_live[g_nlive++] = (blk){p, size, align, fill};
}
static int model_find(uint64_t p) {
  for (int i = 0; i < g_nlive; i++)
    if (g_live[i].p == p) return i;
  return -1;
}
static void model_del(uint64_t p) {
  int i = model_find(p);
  if (i >= 0) g_live[i] = g_live[--g_nlive];
}
static int cmp_blk(const void *x, const void *y) {
  const blk *a = (const blk *)x, *b = (const blk *)y;
  return a->p < b->p ? -1 : a->p > b->p;
}

/* Returns 1 when every invariant holds. */
static int model_ok(env *e, const char **why) {
  blk sorted[MAXLIVE];
  memcpy(sorted, g_live, sizeof(blk) * (size_t)g_nlive);
  qsort(sorted, (size_t)g_nlive, sizeof(blk), cmp_blk);
  uint64_t prev_end = 0;
  for (int i = 0; i < g_nlive; i++) {
    blk b = sorted[i];
    uint64_t al = b.align < 16 ? 16 : b.align;
    if (b.p % al) return *why = "alignment", 0;
    if (b.p < HEAP_BASE) return *why = "below heap base", 0;
    if (b.p + b.size > e->m.size) return *why = "beyond memory", 0;
    if (b.p < prev_end) return *why = "overlap", 0;
    if (hostalloc_usable_size(e->a, b.p) < b.size) return *why = "usable size", 0;
    prev_end = b.p + (b.size ? b.size : 1);
    for (uint64_t k = 0; k < b.size; k += 1 + (k >> 4))
      if (mb(e)[b.p + k] != b.fill) return *why = "contents corrupted", 0;
  }
  if (hostalloc_check(e->a) != HOSTALLOC_OK) return *why = "hostalloc_check", 0;
  hostalloc_stats_t st;
  hostalloc_stats(e->a, &st);
  if (st.used_blocks != (uint64_t)g_nlive) return *why = "block count", 0;
  if (!outside_untouched(&e->m)) return *why = "write outside the heap", 0;
  return 1;
}

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(uint64_t n) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return n ? g_rng % n : 0;
}

/* A random valid sequence; returns 1 when the model holds throughout. */
static int random_valid(env *e, int steps, const char **why) {
  for (int s = 0; s < steps; s++) {
    int op = (int)rnd(10);
    if (op < 3 || g_nlive == 0) {
      static const uint64_t sizes[] = {0, 1, 15, 16, 17, 255, 4095, 70000};
      uint64_t size = rnd(2) ? sizes[rnd(8)] : rnd(5000);
      uint64_t p = hostalloc_malloc(e->a, size);
      if (p) model_add(e, p, size, 16, (uint8_t)rnd(256));
    } else if (op < 4) {
      uint64_t n = rnd(64), size = rnd(64);
      uint64_t p = hostalloc_calloc(e->a, n, size);
      if (p) {
        for (uint64_t k = 0; k < n * size; k++)
          if (mb(e)[p + k]) return *why = "calloc not zeroed", 0;
        model_add(e, p, n * size, 16, (uint8_t)rnd(256));
      }
    } else if (op < 5) {
      uint64_t align = 1ull << rnd(13), size = rnd(3000);
      uint64_t p = hostalloc_aligned_alloc(e->a, align, size);
      if (p) model_add(e, p, size, align, (uint8_t)rnd(256));
    } else if (op < 8) {
      int i = (int)rnd((uint64_t)g_nlive);
      uint64_t p = g_live[i].p;
      if (hostalloc_free(e->a, p) != HOSTALLOC_OK) return *why = "valid free failed", 0;
      model_del(p);
    } else {
      int i = (int)rnd((uint64_t)g_nlive);
      blk old = g_live[i];
      uint64_t size = rnd(9000);
      uint64_t q = hostalloc_realloc(e->a, old.p, size);
      if (size == 0) {
        model_del(old.p);
        continue;
      }
      if (!q) continue;
      uint64_t keep = old.size < size ? old.size : size;
      for (uint64_t k = 0; k < keep; k += 7)
        if (mb(e)[q + k] != old.fill) return *why = "realloc lost contents", 0;
      model_del(old.p);
      model_add(e, q, size, 16, old.fill);
    }
    if (s % 500 == 499 && !model_ok(e, why)) return 0;
  }
  return model_ok(e, why);
}

/* A hostile call must fail with a pointer error, call the callback, and change nothing. */
#define EXPECT_REJECTED(e, call)                                                   \
  do {                                                                             \
    hostalloc_stats_t before_, after_;                                             \
    hostalloc_stats((e)->a, &before_);                                             \
    int cb_ = g_cb_count;                                                          \
    (void)(call);                                                                  \
    int err_ = hostalloc_last_error((e)->a);                                       \
    CHECK(err_ == HOSTALLOC_E_INVALID_POINTER || err_ == HOSTALLOC_E_DOUBLE_FREE ||  \
          err_ == HOSTALLOC_E_INTERIOR_POINTER || err_ == HOSTALLOC_E_OUT_OF_HEAP);  \
    CHECK(g_cb_count == cb_ + 1 && g_last_cb_code == err_);                        \
    hostalloc_stats((e)->a, &after_);                                              \
    CHECK(after_.used_blocks == before_.used_blocks &&                             \
          after_.free_blocks == before_.free_blocks &&                             \
          after_.in_use_bytes == before_.in_use_bytes &&                           \
          after_.heap_end == before_.heap_end);                                    \
    after_.error_count = before_.error_count; /* the only counter that moves */    \
    after_.failed_count = before_.failed_count;                                    \
    CHECK(memcmp(&after_, &before_, sizeof after_) == 0);                          \
    CHECK(hostalloc_check((e)->a) == HOSTALLOC_OK);                                \
  } while (0)

static void test_invalid_frees(void) {
  env e;
  env_init(&e, 2, 64);
  CHECK(e.a != NULL);
  g_nlive = 0;
  const char *why = "";
  uint64_t a = hostalloc_malloc(e.a, 100), b = hostalloc_malloc(e.a, 100);
  model_add(&e, a, 100, 16, 1);
  model_add(&e, b, 100, 16, 2);
  EXPECT_REJECTED(&e, hostalloc_free(e.a, a + 16));
  CHECK(hostalloc_last_error(e.a) == HOSTALLOC_E_INTERIOR_POINTER);
  EXPECT_REJECTED(&e, hostalloc_free(e.a, a + 1));
  EXPECT_REJECTED(&e, hostalloc_free(e.a, 8)); /* static data */
  CHECK(hostalloc_last_error(e.a) == HOSTALLOC_E_OUT_OF_HEAP);
  EXPECT_REJECTED(&e, hostalloc_free(e.a, HEAP_BASE - 8)); /* top of the stack */
  EXPECT_REJECTED(&e, hostalloc_free(e.a, e.m.size));
  EXPECT_REJECTED(&e, hostalloc_free(e.a, 0xfffffff0u));
  EXPECT_REJECTED(&e, hostalloc_free(e.a, 0xffffffffffffff00ull));
  EXPECT_REJECTED(&e, hostalloc_free(e.a, b + 4096)); /* never allocated */
  CHECK(model_ok(&e, &why));
  CHECK(hostalloc_free(e.a, b) == HOSTALLOC_OK);
  model_del(b);
  EXPECT_REJECTED(&e, hostalloc_free(e.a, b));
  CHECK(hostalloc_last_error(e.a) == HOSTALLOC_E_DOUBLE_FREE);
  CHECK(hostalloc_free(e.a, a) == HOSTALLOC_OK);
  model_del(a);
  EXPECT_REJECTED(&e, hostalloc_free(e.a, a));
  EXPECT_REJECTED(&e, hostalloc_free(e.a, b)); /* merged into a's free block */
  CHECK(hostalloc_free(e.a, 0) == HOSTALLOC_OK);
  CHECK(model_ok(&e, &why));
  int ok = random_valid(&e, 3000, &why);
  if (!ok) fprintf(stderr, "invalid frees: model broken afterwards: %s\n", why);
  CHECK(ok);
  env_free(&e);
}

static void test_realloc_usable(void) {
  env e;
  env_init(&e, 2, 64);
  g_nlive = 0;
  const char *why = "";
  uint64_t a = hostalloc_malloc(e.a, 64), b = hostalloc_malloc(e.a, 64);
  model_add(&e, b, 64, 16, 9);
  CHECK(hostalloc_free(e.a, a) == HOSTALLOC_OK);
  EXPECT_REJECTED(&e, hostalloc_realloc(e.a, a, 10));
  EXPECT_REJECTED(&e, hostalloc_realloc(e.a, a, 0));
  EXPECT_REJECTED(&e, hostalloc_realloc(e.a, b + 16, 10));
  EXPECT_REJECTED(&e, hostalloc_realloc(e.a, 16, 10));
  EXPECT_REJECTED(&e, hostalloc_realloc(e.a, 0xffffffffu, 10));
  EXPECT_REJECTED(&e, hostalloc_usable_size(e.a, a));
  EXPECT_REJECTED(&e, hostalloc_usable_size(e.a, b + 32));
  EXPECT_REJECTED(&e, hostalloc_usable_size(e.a, 4));
  CHECK(model_ok(&e, &why));
  int ok = random_valid(&e, 3000, &why);
  if (!ok) fprintf(stderr, "realloc/usable: model broken afterwards: %s\n", why);
  CHECK(ok);
  env_free(&e);
}

static void test_huge_and_overflow(void) {
  env e;
  env_init(&e, 2, 8);
  g_nlive = 0;
  const char *why = "";
  static const uint64_t huge[] = {0xffffffffu, 0x80000000u, 0xfffffff0u, 8u * PAGE + 1, 0xffffffffffffffffull,
                                  0x8000000000000000ull};
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    CHECK(hostalloc_malloc(e.a, huge[i]) == 0);
    CHECK(hostalloc_aligned_alloc(e.a, 16, huge[i]) == 0);
    CHECK(hostalloc_calloc(e.a, 1, huge[i]) == 0);
  }
  static const uint64_t pairs[][2] = {{0x10000, 0x10001}, {0x10001, 0x10000}, {0xffffffffu, 0xffffffffu},
                                      {0x80000000u, 2},   {2, 0x80000000u},   {0x40000001u, 4},
                                      {0xffffffffffffffffull, 2}, {1ull << 32, 1ull << 32}};
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) CHECK(hostalloc_calloc(e.a, pairs[i][0], pairs[i][1]) == 0);
  static const uint64_t aligns[] = {0, 3, 5, 24, 48, 0x30000000u, 0xffffffffu, 0x7fffffffu};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
    CHECK(hostalloc_aligned_alloc(e.a, aligns[i], 16) == 0);
    CHECK(hostalloc_last_error(e.a) == HOSTALLOC_E_INVALID_ALIGNMENT);
  }
  CHECK(hostalloc_aligned_alloc(e.a, 0x80000000u, 16) == 0);
  CHECK(hostalloc_aligned_alloc(e.a, 1ull << 63, 16) == 0);
  uint64_t a = hostalloc_malloc(e.a, 32);
  CHECK(a != 0);
  model_add(&e, a, 32, 16, 7);
  CHECK(hostalloc_realloc(e.a, a, 0xffffffffu) == 0);
  CHECK(hostalloc_realloc(e.a, a, 0xfffffffffffffff0ull) == 0);
  CHECK(model_ok(&e, &why));
  CHECK(e.m.size <= 8u * PAGE);
  int ok = random_valid(&e, 3000, &why);
  if (!ok) fprintf(stderr, "huge/overflow: model broken afterwards: %s\n", why);
  CHECK(ok);
  env_free(&e);
}

static void test_interleavings(void) {
  env e;
  env_init(&e, 2, 256);
  g_nlive = 0;
  const char *why = "";
  uint64_t freed[256];
  int nfreed = 0, detected = 0;
  for (int s = 0; s < 4000; s++) {
    for (int i = nfreed - 1; i >= 0; i--)
      if (model_find(freed[i]) >= 0) freed[i] = freed[--nfreed];
    int kind = (int)rnd(12);
    if (kind < 6 || g_nlive == 0) {
      if (!random_valid(&e, 1, &why)) {
        fprintf(stderr, "interleavings: %s\n", why);
        CHECK(0);
      }
      continue;
    }
    uint64_t live = g_live[rnd((uint64_t)g_nlive)].p;
    uint64_t target = nfreed ? freed[rnd((uint64_t)nfreed)] : HEAP_BASE + 4096;
    switch (rnd(6)) {
      case 0: EXPECT_REJECTED(&e, hostalloc_free(e.a, target)); break;
      case 1: EXPECT_REJECTED(&e, hostalloc_free(e.a, live + 1 + rnd(12))); break;
      case 2: EXPECT_REJECTED(&e, hostalloc_realloc(e.a, target, rnd(100))); break;
      case 3: EXPECT_REJECTED(&e, hostalloc_free(e.a, rnd(HEAP_BASE))); break;
      case 4: EXPECT_REJECTED(&e, hostalloc_free(e.a, e.m.size + rnd(1u << 20))); break;
      default: EXPECT_REJECTED(&e, hostalloc_usable_size(e.a, live + 8)); break;
    }
    detected++;
    if (kind == 11 && nfreed < 256) {
      CHECK(hostalloc_free(e.a, live) == HOSTALLOC_OK);
      model_del(live);
      freed[nfreed++] = live;
    }
  }
  CHECK(detected > 500);
  int ok = model_ok(&e, &why) && random_valid(&e, 10000, &why);
  if (!ok) fprintf(stderr, "interleavings: model broken afterwards: %s\n", why);
  CHECK(ok);
  env_free(&e);
}

int main(void) {
  struct {
    const char *name;
    void (*fn)(void);
  } tests[] = {{"invalid frees", test_invalid_frees},
               {"realloc/usable_size of bad pointers", test_realloc_usable},
               {"huge sizes, calloc overflow, bad alignment", test_huge_and_overflow},
               {"random hostile interleavings", test_interleavings}};
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    int before = g_failed;
    tests[i].fn();
    printf("%s %s\n", g_failed == before ? "ok  " : "FAIL", tests[i].name);
  }
  printf("hostile_plugin: %d checks, %d failed\n", g_checks, g_failed);
  return g_failed ? 1 : 0;
}
