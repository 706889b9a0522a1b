/*
 * Conformance suite for host/c/hostalloc.c over a fake linear memory: a malloc'ed
 * buffer whose grow callback moves it to a new allocation every time, so the base
 * really moves. Prints one line per test and a summary; exits non-zero on failure.
 * Run under -fsanitize=address,undefined and under valgrind by test/native/run.sh.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostalloc.h"

#define PAGE 65536u

#include "check.h"

/* Host malloc failure injection: run.sh links this suite with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc (HOSTALLOC_WRAP_MALLOC), so that g_alloc_budget host allocations succeed and
 * the next ones fail (-1: no limit). Without the wrap the host-OOM tests are reported skipped. */
static long g_alloc_budget = -1;
#ifdef HOSTALLOC_WRAP_MALLOC
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
static int host_alloc_ok(void) {
  if (g_alloc_budget < 0) return 1;
  if (g_alloc_budget == 0) return 0;
  g_alloc_budget--;
  return 1;
}
void *__wrap_malloc(size_t n) { return host_alloc_ok() ? __real_malloc(n) : NULL; }
void *__wrap_calloc(size_t n, size_t size) { return host_alloc_ok() ? __real_calloc(n, size) : NULL; }
void *__wrap_realloc(void *p, size_t n) { return host_alloc_ok() ? __real_realloc(p, n) : NULL; }
#define HAVE_OOM_INJECTION 1
#define fm_malloc __real_malloc /* the fake memory itself never fails */
#else
#define fm_malloc malloc
#define HAVE_OOM_INJECTION 0
#endif

/* ---------------------------------------------------------------- fake memory */

typedef struct fake_mem {
  uint8_t *buf;
  uint64_t size;
  uint64_t moves, grows, fail_grow;
  uint64_t page;       /* page size of grow (0 = PAGE) */
  uint64_t size_calls; /* calls of fm_size / fm_base (lazy attach) */
} fake_mem;

static uint8_t *fm_base(void *ctx) {
  ((fake_mem *)ctx)->size_calls++;
  return ((fake_mem *)ctx)->buf;
}
static uint64_t fm_size(void *ctx) {
  ((fake_mem *)ctx)->size_calls++;
  return ((fake_mem *)ctx)->size;
}
static int fm_grow(void *ctx, uint64_t pages) {
  fake_mem *m = (fake_mem *)ctx;
  if (m->fail_grow) return -1;
  uint64_t ns = m->size + pages * (m->page ? m->page : PAGE);
  /* Always move: new buffer, copy, poison and free the old one. */
  uint8_t *nb = (uint8_t *)fm_malloc((size_t)ns);
  if (!nb) return -1;
  memcpy(nb, m->buf, (size_t)m->size);
  memset(nb + m->size, 0, (size_t)(ns - m->size));
  memset(m->buf, 0xDD, (size_t)m->size);
  free(m->buf);
  m->buf = nb;
  m->size = ns;
  m->moves++;
  m->grows++;
  return 0;
}

static void fm_init(fake_mem *m, uint64_t pages) {
  memset(m, 0, sizeof(*m));
  m->size = pages * PAGE;
  m->buf = (uint8_t *)calloc(1, (size_t)(m->size ? m->size : 1));
}
static void fm_free(fake_mem *m) { free(m->buf); }

typedef struct err_log {
  int count, last_code;
  uint64_t last_ptr;
  const char *last_op;
} err_log;

static void on_err(void *ctx, int code, const char *op, uint64_t ptr) {
  err_log *e = (err_log *)ctx;
  e->count++;
  e->last_code = code;
  e->last_ptr = ptr;
  e->last_op = op;
}

static hostalloc_t *mk(fake_mem *m, uint64_t pages, uint64_t heap_base, uint64_t max, err_log *e,
                       hostalloc_memory_ops *ops_out) {
  fm_init(m, pages);
  hostalloc_memory_ops ops = {m, fm_base, fm_size, fm_grow, max};
  if (ops_out) *ops_out = ops;
  if (e) memset(e, 0, sizeof(*e));
  return hostalloc_create(&ops, heap_base, on_err, e);
}

/* 64-bit LCG / xorshift, fixed seed. */
static uint64_t rng_state;
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rng_state = x;
  return x;
}

/* Reference size classes (hostalloc.h): multiples of g up to 128, then four per doubling up
 * to 2048; larger sizes are large blocks rounded to 16. */
static uint64_t class_size(uint64_t g, uint64_t n) {
  if (n == 0) return g;
  if (n <= 128) return (n + g - 1) / g * g;
  if (n <= 2048) {
    uint64_t base = 128;
    while (n > 2 * base) base *= 2;
    uint64_t step = base / 4;
    return (n + step - 1) / step * step;
  }
  return (n + 15) / 16 * 16;
}

/* ---------------------------------------------------------------- tests */

static void test_basic(void) {
  fake_mem m;
  err_log e;
  hostalloc_t *a = mk(&m, 2, 1000, 0, &e, NULL);
  CHECK(a);
  hostalloc_stats_t s;
  hostalloc_stats(a, &s);
  CHECK(s.heap_start == 1008 && s.heap_end == 2 * PAGE && s.free_blocks == 1 && s.used_blocks == 0);
  CHECK(s.inband_overhead_bytes == 0);
  uint64_t p0 = hostalloc_malloc(a, 0), p1 = hostalloc_malloc(a, 0);
  CHECK(p0 && p1 && p0 != p1 && p0 % 16 == 0 && p1 % 16 == 0);
  CHECK(p0 >= 1008);
  for (uint64_t sz = 1; sz < 600; sz += 7) {
    uint64_t p = hostalloc_malloc(a, sz);
    CHECK(p && p % 16 == 0);
    uint64_t u = hostalloc_usable_size(a, p);
    CHECK(u == class_size(16, sz) && u % 16 == 0);
    memset(m.buf + p, 0x5A, (size_t)u);
    CHECK(hostalloc_free(a, p) == HOSTALLOC_OK);
  }
  CHECK(hostalloc_free(a, 0) == HOSTALLOC_OK);
  CHECK(hostalloc_usable_size(a, 0) == 0);
  CHECK(hostalloc_free(a, p0) == 0 && hostalloc_free(a, p1) == 0);
  CHECK(hostalloc_check(a) == HOSTALLOC_OK);
  hostalloc_stats(a, &s);
  CHECK(s.used_blocks == 0 && s.in_use_bytes == 0 && e.count == 0);
  CHECK(s.spans >= 1 && s.empty_spans == s.spans); /* one empty span kept per class */
  hostalloc_trim(a);
  CHECK(hostalloc_check(a) == HOSTALLOC_OK);
  hostalloc_stats(a, &s);
  CHECK(s.spans == 0 && s.used_blocks == 0 && s.free_blocks == 1 && s.largest_free_block == s.heap_size);
  hostalloc_destroy(a);
  fm_free(&m);

  /* heap_base 0 never yields offset 0; heap_base beyond memory is refused. */
  a = mk(&m, 1, 0, 0, NULL, NULL);
  CHECK(a);
  uint64_t p = hostalloc_malloc(a, 8);
  CHECK(p == 16);
  hostalloc_destroy(a);
  fm_free(&m);
  a = mk(&m, 1, 2 * PAGE, 0, NULL, NULL);
  CHECK(a == NULL);
  fm_free(&m);
  /* Empty heap at creation: grows on first use. */
  a = mk(&m, 1, PAGE, 0, NULL, NULL);
  CHECK(a);
  p = hostalloc_malloc(a, 100);
  CHECK(p == PAGE && m.grows == 1);
  hostalloc_destroy(a);
  fm_free(&m);
  CHECK(hostalloc_strerror(HOSTALLOC_E_DOUBLE_FREE) && hostalloc_strerror(12345));
}

static void test_reuse(void) {
  fake_mem m;
  hostalloc_t *a = mk(&m, 1, 1024, 0, NULL, NULL);
  CHECK(a);
  uint64_t x = hostalloc_malloc(a, 100);
  uint64_t y = hostalloc_malloc(a, 100);
  uint64_t z = hostalloc_malloc(a, 100);
  CHECK(x && y && z);
  CHECK(hostalloc_free(a, y) == 0);
  CHECK(hostalloc_malloc(a, 100) == y); /* exact class reuse */
  CHECK(hostalloc_free(a, x) == 0 && hostalloc_free(a, y) == 0 && hostalloc_free(a, z) == 0);
  /* large blocks coalesce */
  x = hostalloc_malloc(a, 3000);
  y = hostalloc_malloc(a, 3000);
  z = hostalloc_malloc(a, 3000);
  CHECK(x && y == x + 3008 && z == y + 3008);
  CHECK(hostalloc_free(a, x) == 0 && hostalloc_free(a, y) == 0);
  uint64_t w = hostalloc_malloc(a, 5888); /* coalesced x+y (6016 bytes, the TLSF class of 5888) */
  CHECK(w == x);
  CHECK(hostalloc_free(a, w) == 0 && hostalloc_free(a, z) == 0);
  hostalloc_trim(a);
  hostalloc_stats_t s;
  hostalloc_stats(a, &s);
  CHECK(s.free_blocks == 1 && s.used_blocks == 0 && s.largest_free_block == s.heap_size);
  /* Heavy churn with the same size never grows memory. */
  for (int i = 0; i < 10000; i++) {
    uint64_t p = hostalloc_malloc(a, 4000);
    CHECK(p);
    CHECK(hostalloc_free(a, p) == 0);
  }
  CHECK(m.grows == 0);
  CHECK(hostalloc_check(a) == 0);
  hostalloc_destroy(a);
  fm_free(&m);
}

static void fill(uint8_t *p, uint64_t n, uint32_t seed) {
  for (uint64_t i = 0; i < n; i++) p[i] = (uint8_t)(seed * 31u + i * 7u);
}
static int verify(const uint8_t *p, uint64_t n, uint32_t seed) {
  for (uint64_t i = 0; i < n; i++)
    if (p[i] != (uint8_t)(seed * 31u + i * 7u)) return 0;
  return 1;
}

static void test_realloc(void) {
  fake_mem m;
  err_log e;
  hostalloc_t *a = mk(&m, 1, 1024, 8 * PAGE, &e, NULL);
  CHECK(a);
  uint64_t p = hostalloc_malloc(a, 4000);
  fill(m.buf + p, 4000, 1);
  /* shrink in place (large block) */
  uint64_t q = hostalloc_realloc(a, p, 2500);
  CHECK(q == p && verify(m.buf + q, 2500, 1));
  CHECK(hostalloc_usable_size(a, q) == 2512);
  /* grow in place into the free successor */
  q = hostalloc_realloc(a, p, 3000);
  CHECK(q == p && verify(m.buf + q, 2500, 1));
  fill(m.buf + q, 3000, 2);
  /* block a successor, then grow: must move and preserve */
  uint64_t blocker = hostalloc_aligned_alloc(a, 32, 16);
  CHECK(blocker == p + 3008);
  uint64_t r = hostalloc_realloc(a, q, 5000);
  CHECK(r && r != q && verify(m.buf + r, 3000, 2));
  CHECK(hostalloc_usable_size(a, r) >= 5000);
  CHECK(hostalloc_free(a, q) == HOSTALLOC_E_DOUBLE_FREE); /* old block was freed */
  CHECK(e.count == 1);
  /* failure leaves the block intact */
  fill(m.buf + r, 5000, 3);
  uint64_t before_fail = hostalloc_usable_size(a, r);
  CHECK(hostalloc_realloc(a, r, 100 * PAGE) == 0);
  CHECK(hostalloc_last_error(a) == HOSTALLOC_E_OUT_OF_MEMORY);
  CHECK(hostalloc_usable_size(a, r) == before_fail && verify(m.buf + r, 5000, 3));
  CHECK(hostalloc_check(a) == 0);
  /* realloc at the end of the heap grows memory and stays in place */
  uint64_t t = hostalloc_malloc(a, 40000);
  CHECK(t);
  uint64_t big = hostalloc_realloc(a, t, 5 * PAGE);
  hostalloc_stats_t s;
  hostalloc_stats(a, &s);
  CHECK(big == t && m.grows >= 1);
  CHECK(verify(m.buf + r, 5000, 3)); /* after the base moved */
  /* realloc(0, n) = malloc; realloc(p, 0) frees and returns 0 */
  uint64_t n = hostalloc_realloc(a, 0, 64);
  CHECK(n && n % 16 == 0);
  CHECK(hostalloc_realloc(a, n, 0) == 0);
  CHECK(hostalloc_free(a, n) == HOSTALLOC_E_DOUBLE_FREE);
  /* realloc of an invalid pointer */
  int before = e.count;
  CHECK(hostalloc_realloc(a, r + 16, 10) == 0 && e.count == before + 1 &&
        e.last_code == HOSTALLOC_E_INTERIOR_POINTER);
  CHECK(hostalloc_free(a, r) == 0 && hostalloc_free(a, blocker) == 0 && hostalloc_free(a, big) == 0);
  hostalloc_trim(a);
  hostalloc_stats(a, &s);
  CHECK(s.free_blocks == 1 && s.used_blocks == 0 && s.in_use_bytes == 0);
  CHECK(hostalloc_check(a) == 0);
  hostalloc_destroy(a);
  fm_free(&m);
}

/* Small blocks: realloc within the class stays in place, other classes move and keep the
 * contents; small <-> large both ways. */
static void test_realloc_small(void) {
  fake_mem m;
  err_log e;
  hostalloc_t *a = mk(&m, 1, 1024, 0, &e, NULL);
  CHECK(a);
  uint64_t p = hostalloc_malloc(a, 100); /* class 112 */
  fill(m.buf + p, 100, 5);
  CHECK(hostalloc_realloc(a, p, 112) == p && hostalloc_realloc(a, p, 97) == p);
  CHECK(hostalloc_usable_size(a, p) == 112 && verify(m.buf + p, 97, 5));
  uint64_t q = hostalloc_realloc(a, p, 200); /* class 224 */
  CHECK(q && q != p && hostalloc_usable_size(a, q) == 224 && verify(m.buf + q, 97, 5));
  CHECK(hostalloc_free(a, p) == HOSTALLOC_E_DOUBLE_FREE);
  fill(m.buf + q, 200, 6);
  uint64_t r = hostalloc_realloc(a, q, 40); /* smaller class: moves */
  CHECK(r && r != q && hostalloc_usable_size(a, r) == 48 && verify(m.buf + r, 40, 6));
  fill(m.buf + r, 40, 7);
  uint64_t big = hostalloc_realloc(a, r, 10000); /* small -> large */
  CHECK(big && hostalloc_usable_size(a, big) == 10000 && verify(m.buf + big, 40, 7));
  fill(m.buf + big, 10000, 8);
  uint64_t back = hostalloc_realloc(a, big, 1000); /* large -> shrinks in place */
  CHECK(back == big && verify(m.buf + back, 1000, 8) && hostalloc_usable_size(a, back) == 1008);
  CHECK(hostalloc_free(a, back) == 0);
  CHECK(e.count == 1 && hostalloc_check(a) == 0);
  hostalloc_destroy(a);
  fm_free(&m);
}

/* Every size up to 2048 + 64 with both granules: usable size is the class, alignment the
 * granule; slots of one class are packed in 16 KiB spans. */
static void test_classes(void) {
  for (uint64_t g = 8; g <= 16; g += 8) {
    fake_mem m;
    fm_init(&m, 4);
    hostalloc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ops = (hostalloc_memory_ops){&m, fm_base, fm_size, fm_grow, 0};
    cfg.heap_base = 1024;
    cfg.granule = (uint32_t)g;
    hostalloc_t *a = NULL;
    CHECK(hostalloc_create2(&cfg, &a) == HOSTALLOC_OK && a);
    for (uint64_t n = 0; n <= 2048 + 64; n++) {
      uint64_t p = hostalloc_malloc(a, n), p2 = hostalloc_malloc(a, n);
      CHECK(p && p2 && p % g == 0 && p2 % g == 0 && p != p2);
      CHECK(hostalloc_usable_size(a, p) == class_size(g, n));
      CHECK((p2 > p ? p2 - p : p - p2) >= class_size(g, n)); /* no overlap */
      uint64_t q = hostalloc_aligned_alloc(a, 16, n); /* also n = 0 at granule 8 (fuzzer find) */
      CHECK(q && q % 16 == 0 && hostalloc_usable_size(a, q) >= n);
      uint64_t q2 = hostalloc_aligned_alloc(a, 16, n);
      CHECK(q2 && q2 % 16 == 0 && q2 != q);
      CHECK(hostalloc_free(a, q2) == 0);
      memset(m.buf + p, 0xEE, (size_t)n);
      CHECK(hostalloc_free(a, p) == 0 && hostalloc_free(a, p2) == 0 && hostalloc_free(a, q) == 0);
    }
    CHECK(hostalloc_check(a) == 0);
    hostalloc_stats_t s;
    hostalloc_stats(a, &s);
    CHECK(s.used_blocks == 0 && s.spans == s.empty_spans && s.spans <= (g == 8 ? 32u : 24u));
    hostalloc_destroy(a);
    fm_free(&m);
  }
}

/* Span life cycle: fill several spans, free everything: one empty span stays per class, the
 * others go back to the TLSF and coalesce; trim returns the last one. */
static void test_spans(void) {
  fake_mem m;
  err_log e;
  hostalloc_t *a = mk(&m, 1, 1024, 0, &e, NULL);
  CHECK(a);
  enum { N = 16384 / 32 * 3 + 5 };
  static uint64_t ptrs[N];
  for (int i = 0; i < N; i++) {
    ptrs[i] = hostalloc_malloc(a, 32);
    CHECK(ptrs[i] && (ptrs[i] - 1024) % 32 == 0);
  }
  hostalloc_stats_t s;
  hostalloc_stats(a, &s);
  CHECK(s.spans == 4 && s.small_blocks == N && s.in_use_bytes == (uint64_t)N * 32 && s.empty_spans == 0);
  CHECK(m.grows >= 1 && hostalloc_check(a) == 0);
  /* a freed slot is reused first (lowest free slot of the first span with room) */
  CHECK(hostalloc_free(a, ptrs[7]) == 0 && hostalloc_malloc(a, 32) == ptrs[7]);
  for (int i = 0; i < N; i++) CHECK(hostalloc_free(a, ptrs[i]) == 0);
  hostalloc_stats(a, &s);
  CHECK(s.spans == 1 && s.empty_spans == 1 && s.small_blocks == 0 && s.free_blocks <= 2);
  CHECK(hostalloc_check(a) == 0);
  /* the kept span is used again without carving */
  uint64_t p = hostalloc_malloc(a, 20);
  hostalloc_stats(a, &s);
  CHECK(p && s.spans == 1 && s.empty_spans == 0);
  CHECK(hostalloc_free(a, p) == 0);
  hostalloc_trim(a);
  hostalloc_stats(a, &s);
  CHECK(s.spans == 0 && s.free_blocks == 1 && s.largest_free_block == s.heap_size && e.count == 0);
  CHECK(s.high_water > 1024 + 3 * 16384 && s.memory_size == m.size);
  CHECK(hostalloc_check(a) == 0);
  hostalloc_destroy(a);
  fm_free(&m);
}

/* Host metadata per byte of heap filled with small blocks (issue 19: <= 0.1). */
static void test_metadata(void) {
  uint64_t sizes[] = {8, 16, 48, 256, 2048};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    fake_mem m;
    fm_init(&m, 1);
    hostalloc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ops = (hostalloc_memory_ops){&m, fm_base, fm_size, fm_grow, 0};
    cfg.heap_base = 1024;
    cfg.granule = sizes[k] == 8 ? 8 : 16;
    hostalloc_t *a = NULL;
    CHECK(hostalloc_create2(&cfg, &a) == HOSTALLOC_OK);
    uint64_t n = (16u << 20) / sizes[k];
    for (uint64_t i = 0; i < n; i++) CHECK(hostalloc_malloc(a, sizes[k]));
    hostalloc_stats_t s;
    hostalloc_stats(a, &s);
    double ratio = (double)s.host_metadata_bytes / (double)s.heap_size;
    printf("    %" PRIu64 "-byte blocks: %" PRIu64 " live, heap %" PRIu64 " KiB, host metadata %" PRIu64
           " KiB = %.4f bytes per heap byte\n",
           sizes[k], s.small_blocks, s.heap_size >> 10, s.host_metadata_bytes >> 10, ratio);
    CHECK(s.small_blocks == n && ratio <= 0.1);
    CHECK(s.heap_size <= (uint64_t)n * sizes[k] * 105 / 100 + 2 * PAGE); /* spans are dense */
    hostalloc_destroy(a);
    fm_free(&m);
  }
}

static void test_calloc(void) {
  fake_mem m;
  hostalloc_t *a = mk(&m, 1, 1024, 16 * PAGE, NULL, NULL);
  CHECK(a);
  uint64_t p = hostalloc_malloc(a, 4096);
  memset(m.buf + p, 0xAA, 4096);
  CHECK(hostalloc_free(a, p) == 0);
  uint64_t q = hostalloc_calloc(a, 64, 64);
  CHECK(q == p);
  for (int i = 0; i < 4096; i++) CHECK(m.buf[q + i] == 0);
  uint64_t u = hostalloc_usable_size(a, q);
  for (uint64_t i = 0; i < u; i++) CHECK(m.buf[q + i] == 0);
  /* overflow */
  CHECK(hostalloc_calloc(a, (uint64_t)1 << 33, (uint64_t)1 << 33) == 0);
  CHECK(hostalloc_last_error(a) == HOSTALLOC_E_OVERFLOW);
  CHECK(hostalloc_calloc(a, UINT64_MAX, 2) == 0);
  CHECK(hostalloc_calloc(a, 0x10000, 0x10001) == 0); /* > max_size */
  CHECK(hostalloc_calloc(a, 0xFFFFFFFFu, 0xFFFFFFFFu) == 0);
  uint64_t z = hostalloc_calloc(a, 0, 10);
  CHECK(z && z % 16 == 0);
  CHECK(hostalloc_check(a) == 0);
  hostalloc_destroy(a);
  fm_free(&m);
}

static void test_aligned(void) {
  fake_mem m;
  err_log e;
  hostalloc_t *a = mk(&m, 1, 1040, 0, &e, NULL);
  CHECK(a);
  uint64_t ptrs[64];
  int n = 0;
  for (uint64_t al = 1; al <= ((uint64_t)1 << 20); al <<= 1) {
    for (int k = 0; k < 3; k++) {
      uint64_t sz = 1 + (uint64_t)k * 777;
      uint64_t p = hostalloc_aligned_alloc(a, al, sz);
      CHECK(p && p % al == 0 && p % 16 == 0);
      CHECK(hostalloc_usable_size(a, p) >= sz);
      memset(m.buf + p, 0x11 * k, (size_t)sz);
      ptrs[n++] = p;
    }
  }
  CHECK(hostalloc_check(a) == 0);
  CHECK(hostalloc_aligned_alloc(a, 0, 10) == 0);
  CHECK(hostalloc_last_error(a) == HOSTALLOC_E_INVALID_ALIGNMENT);
  CHECK(hostalloc_aligned_alloc(a, 24, 10) == 0);
  CHECK(hostalloc_aligned_alloc(a, 3, 10) == 0);
  CHECK(hostalloc_aligned_alloc(a, (uint64_t)1 << 40, 10) == 0); /* larger than memory */
  CHECK(e.count == 0); /* argument errors are not pointer errors */
  for (int i = 0; i < n; i++) CHECK(hostalloc_free(a, ptrs[i]) == 0);
  hostalloc_stats_t s;
  hostalloc_stats(a, &s);
  CHECK(s.free_blocks == 1 && s.used_blocks == 0);
  CHECK(hostalloc_check(a) == 0);
  hostalloc_destroy(a);
  fm_free(&m);
}

static void test_errors(void) {
  fake_mem m;
  err_log e;
  hostalloc_t *a = mk(&m, 1, 4096, 0, &e, NULL);
  CHECK(a);
  uint64_t p = hostalloc_malloc(a, 100), q = hostalloc_malloc(a, 100), r = hostalloc_malloc(a, 100);
  CHECK(p && q && r);
  hostalloc_stats_t s0, s1;
  hostalloc_stats(a, &s0);
  struct {
    uint64_t ptr;
    int code;
  } cases[] = {
      {16, HOSTALLOC_E_OUT_OF_HEAP},            /* below heap base (data) */
      {4096 - 16, HOSTALLOC_E_OUT_OF_HEAP},     /* just below heap base */
      {PAGE, HOSTALLOC_E_OUT_OF_HEAP},          /* end of memory */
      {(uint64_t)1 << 40, HOSTALLOC_E_OUT_OF_HEAP},
      {p + 16, HOSTALLOC_E_INTERIOR_POINTER},   /* interior, aligned */
      {p + 1, HOSTALLOC_E_INTERIOR_POINTER},    /* interior, misaligned */
      {r + 112 + 32, HOSTALLOC_E_DOUBLE_FREE},  /* inside free memory, aligned */
      {r + 112 + 33, HOSTALLOC_E_INVALID_POINTER}, /* inside free memory, misaligned */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int before = e.count;
    CHECK(hostalloc_free(a, cases[i].ptr) == cases[i].code);
    CHECK(e.count == before + 1 && e.last_code == cases[i].code && e.last_ptr == cases[i].ptr);
    CHECK(strcmp(e.last_op, "free") == 0);
    CHECK(hostalloc_usable_size(a, cases[i].ptr) == 0 && e.last_code == cases[i].code);
    CHECK(hostalloc_last_error(a) == cases[i].code);
  }
  hostalloc_stats(a, &s1);
  CHECK(s1.in_use_bytes == s0.in_use_bytes && s1.used_blocks == s0.used_blocks &&
        s1.free_blocks == s0.free_blocks);
  CHECK(hostalloc_check(a) == 0);
  /* double free of a block start (not coalesced: neighbours live) */
  CHECK(hostalloc_free(a, q) == 0);
  CHECK(hostalloc_free(a, q) == HOSTALLOC_E_DOUBLE_FREE);
  /* double free after coalescing (p merges with q's free block) */
  CHECK(hostalloc_free(a, p) == 0);
  CHECK(hostalloc_free(a, q) == HOSTALLOC_E_DOUBLE_FREE);
  CHECK(hostalloc_free(a, p) == HOSTALLOC_E_DOUBLE_FREE);
  CHECK(hostalloc_check(a) == 0);
  /* the allocator still works and live data is intact */
  memset(m.buf + r, 0x77, 100);
  uint64_t x = hostalloc_malloc(a, 100);
  CHECK(x == p);
  for (int i = 0; i < 100; i++) CHECK(m.buf[r + i] == 0x77);
  CHECK(hostalloc_free(a, x) == 0 && hostalloc_free(a, r) == 0);
  /* the same cases on large blocks (TLSF) */
  p = hostalloc_malloc(a, 5000), q = hostalloc_malloc(a, 5000), r = hostalloc_malloc(a, 5000);
  CHECK(p && q == p + 5008 && r == q + 5008);
  CHECK(hostalloc_free(a, q) == 0);
  struct {
    uint64_t ptr;
    int code;
  } large[] = {
      {p + 16, HOSTALLOC_E_INTERIOR_POINTER}, {p + 4999, HOSTALLOC_E_INTERIOR_POINTER},
      {q, HOSTALLOC_E_DOUBLE_FREE},           {q + 64, HOSTALLOC_E_DOUBLE_FREE},
      {q + 65, HOSTALLOC_E_INVALID_POINTER},  {r + 5008 + 160, HOSTALLOC_E_DOUBLE_FREE},
  };
  hostalloc_stats(a, &s0);
  for (size_t i = 0; i < sizeof large / sizeof large[0]; i++) {
    int before = e.count;
    CHECK(hostalloc_free(a, large[i].ptr) == large[i].code);
    CHECK(e.count == before + 1 && e.last_code == large[i].code && e.last_ptr == large[i].ptr);
    CHECK(hostalloc_realloc(a, large[i].ptr, 10) == 0 && e.last_code == large[i].code);
  }
  hostalloc_stats(a, &s1);
  CHECK(s1.in_use_bytes == s0.in_use_bytes && s1.used_blocks == s0.used_blocks &&
        s1.free_blocks == s0.free_blocks && hostalloc_check(a) == 0);
  CHECK(hostalloc_free(a, p) == 0 && hostalloc_free(a, r) == 0);
  hostalloc_trim(a);
  hostalloc_stats(a, &s1);
  CHECK(s1.free_blocks == 1 && s1.used_blocks == 0 && s1.error_count == (uint64_t)e.count);
  hostalloc_destroy(a);
  fm_free(&m);
}

static void test_growth(void) {
  fake_mem m;
  err_log e;
  /* growth policy: what the request is missing, rounded up to whole pages */
  hostalloc_t *a = mk(&m, 2, 1024, 0, &e, NULL);
  CHECK(a);
  CHECK(hostalloc_malloc(a, 3 * PAGE) != 0);
  CHECK(m.size == 4 * PAGE && m.grows == 1); /* 3 pages + 1 KiB from 1 KiB: 2 more pages */
  CHECK(hostalloc_malloc(a, 40 * PAGE) != 0);
  CHECK(m.size == 44 * PAGE && m.grows == 2); /* free tail: 1 page - 1 KiB */
  CHECK(hostalloc_malloc(a, PAGE - 1024) != 0 && m.grows == 2); /* fits the tail exactly */
  CHECK(hostalloc_malloc(a, 16) != 0 && m.size == 45 * PAGE && m.grows == 3); /* a span: one page */
  hostalloc_destroy(a);
  fm_free(&m);

  /* small blocks: spans are carved at 16 KiB steps, memory follows one page at a time */
  a = mk(&m, 1, 1024, 0, &e, NULL);
  CHECK(a);
  for (int i = 0; i < 8 * 3; i++) CHECK(hostalloc_malloc(a, 2048) != 0); /* 3 spans fit page 1 */
  CHECK(m.grows == 0);
  CHECK(hostalloc_malloc(a, 2048) != 0 && m.grows == 1 && m.size == 2 * PAGE);
  hostalloc_stats_t hs;
  hostalloc_stats(a, &hs);
  CHECK(hs.spans == 4 && hs.high_water == 1024 + 4 * 16384 && hs.memory_size == 2 * PAGE);
  CHECK(hostalloc_check(a) == 0);
  hostalloc_destroy(a);
  fm_free(&m);

  /* other page sizes: 4 KiB and 1 byte (custom-page-sizes); grow counts in those units */
  for (uint64_t ps = 1; ps <= 4096; ps *= 4096) {
    fm_init(&m, 1);
    m.page = ps;
    hostalloc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ops = (hostalloc_memory_ops){&m, fm_base, fm_size, fm_grow, 0};
    cfg.heap_base = 1024;
    cfg.page_size = ps;
    a = NULL;
    CHECK(hostalloc_create2(&cfg, &a) == HOSTALLOC_OK);
    uint64_t p = hostalloc_malloc(a, PAGE); /* missing: 1024 bytes */
    CHECK(p == 1024 && m.grows == 1 && m.size == PAGE + (ps == 1 ? 1024 : 4096));
    uint64_t q = hostalloc_malloc(a, 100000);
    CHECK(q == 1024 + PAGE && m.size == (q + 100000 + ps - 1) / ps * ps);
    CHECK(hostalloc_check(a) == 0);
    hostalloc_destroy(a);
    fm_free(&m);
  }

  /* up to max_size, then 0; falls back to the exact minimum near the limit */
  a = mk(&m, 1, 1024, 40 * PAGE, &e, NULL);
  CHECK(a);
  uint64_t ptrs[200];
  int n = 0;
  uint8_t *first_base = m.buf;
  for (;;) {
    uint64_t p = hostalloc_malloc(a, 30000);
    if (!p) break;
    CHECK(n < 200);
    memset(m.buf + p, (uint8_t)n, 30000);
    ptrs[n++] = p;
  }
  CHECK(hostalloc_last_error(a) == HOSTALLOC_E_OUT_OF_MEMORY);
  CHECK(m.size == 40 * PAGE);
  CHECK(m.buf != first_base && m.moves >= 2);
  hostalloc_stats_t s;
  hostalloc_stats(a, &s);
  CHECK(s.heap_end == 40 * PAGE && s.grow_count == m.grows && s.failed_count == 1);
  CHECK(s.grown_bytes == 39 * PAGE);
  CHECK(s.free_bytes < 30016);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < 30000; j += 997) CHECK(m.buf[ptrs[i] + j] == (uint8_t)i);
  CHECK(hostalloc_malloc(a, 100 * PAGE) == 0);
  CHECK(hostalloc_check(a) == 0);
  for (int i = 0; i < n; i++) CHECK(hostalloc_free(a, ptrs[i]) == 0);
  hostalloc_stats(a, &s);
  CHECK(s.free_blocks == 1 && s.used_blocks == 0 && s.free_bytes == s.heap_size);
  CHECK(s.largest_free_block == s.heap_size && s.peak_in_use_bytes >= (uint64_t)n * 30000);
  CHECK(hostalloc_check(a) == 0);
  hostalloc_destroy(a);
  fm_free(&m);

  /* grow refused by the embedder, and no grow callback at all */
  a = mk(&m, 1, 1024, 0, &e, NULL);
  m.fail_grow = 1;
  CHECK(hostalloc_malloc(a, 100) != 0);
  CHECK(hostalloc_malloc(a, PAGE) == 0 && hostalloc_last_error(a) == HOSTALLOC_E_OUT_OF_MEMORY);
  m.fail_grow = 0;
  CHECK(hostalloc_malloc(a, PAGE) != 0);
  hostalloc_destroy(a);
  fm_free(&m);
  fm_init(&m, 1);
  hostalloc_memory_ops ops = {&m, fm_base, fm_size, NULL, 0};
  a = hostalloc_create(&ops, 1024, NULL, NULL);
  CHECK(a);
  CHECK(hostalloc_malloc(a, PAGE - 1024) != 0);
  CHECK(hostalloc_malloc(a, 1) == 0);
  hostalloc_destroy(a);
  fm_free(&m);

  /* memory grown by someone else is taken into the heap */
  a = mk(&m, 1, 1024, 0, &e, NULL);
  fm_grow(&m, 1);
  uint64_t g0 = m.grows;
  CHECK(hostalloc_malloc(a, PAGE + 100) != 0);
  CHECK(m.grows == g0);
  hostalloc_destroy(a);
  fm_free(&m);
}

/* Random workload against a shadow model: ownership map per 16-byte granule. */
static void test_random(uint64_t seed, int ops, uint64_t max) {
  fake_mem m;
  err_log e;
  hostalloc_t *a = mk(&m, 1, 1024 + 8, max, &e, NULL);
  CHECK(a);
  rng_state = seed;
  enum { MAXLIVE = 4096 };
  typedef struct {
    uint64_t ptr, size;
    uint32_t seed;
  } live_t;
  live_t *live = (live_t *)calloc(MAXLIVE, sizeof(live_t));
  uint32_t *owner = (uint32_t *)calloc((size_t)(max / 16), sizeof(uint32_t));
  int nlive = 0;
  uint32_t next_id = 1;
  uint64_t fails = 0;
#define CLAIM(p, n, id)                                                    \
  do {                                                                     \
    for (uint64_t g = (p) / 16; g < ((p) + (n) + 15) / 16; g++) {           \
      CHECK(owner[g] == 0);                                                \
      owner[g] = (id);                                                     \
    }                                                                      \
  } while (0)
#define RELEASE(p, n)                                                      \
  do {                                                                     \
    for (uint64_t g = (p) / 16; g < ((p) + (n) + 15) / 16; g++) owner[g] = 0; \
  } while (0)
  for (int op = 0; op < ops; op++) {
    uint64_t r = rnd();
    int kind = (int)(r % 100);
    uint64_t sz;
    uint64_t sr = rnd();
    if (sr % 100 < 70) sz = sr % 256;
    else if (sr % 100 < 95) sz = sr % 8192;
    else if (sr % 100 < 99) sz = sr % 200000;
    else sz = sr % 2000000;
    if ((kind < 45 || nlive == 0) && nlive < MAXLIVE) {
      uint64_t p;
      uint32_t id = next_id++;
      int k = (int)(rnd() % 10);
      uint64_t al = 16;
      if (k < 6) p = hostalloc_malloc(a, sz);
      else if (k < 8) p = hostalloc_calloc(a, sz / 8 + 1, 8), sz = sz / 8 * 8 + 8;
      else al = (uint64_t)1 << (4 + rnd() % 10), p = hostalloc_aligned_alloc(a, al, sz);
      if (!p) {
        CHECK(hostalloc_last_error(a) == HOSTALLOC_E_OUT_OF_MEMORY);
        fails++;
        continue;
      }
      CHECK(p % al == 0 && p >= 1024 + 8 && p + sz <= m.size);
      uint64_t u = hostalloc_usable_size(a, p);
      CHECK(u >= sz && u % 16 == 0);
      if (k >= 6 && k < 8)
        for (uint64_t i = 0; i < sz; i++) CHECK(m.buf[p + i] == 0);
      CLAIM(p, u, id);
      fill(m.buf + p, sz, id);
      live[nlive].ptr = p;
      live[nlive].size = sz;
      live[nlive].seed = id;
      nlive++;
    } else if (kind < 80 && nlive) {
      int j = (int)(rnd() % (uint64_t)nlive);
      CHECK(verify(m.buf + live[j].ptr, live[j].size, live[j].seed));
      RELEASE(live[j].ptr, hostalloc_usable_size(a, live[j].ptr));
      CHECK(hostalloc_free(a, live[j].ptr) == 0);
      live[j] = live[--nlive];
    } else if (nlive) {
      int j = (int)(rnd() % (uint64_t)nlive);
      live_t *L = &live[j];
      CHECK(verify(m.buf + L->ptr, L->size, L->seed));
      uint64_t oldu = hostalloc_usable_size(a, L->ptr);
      RELEASE(L->ptr, oldu);
      if (sz == 0 && rnd() % 4 == 0) {
        CHECK(hostalloc_realloc(a, L->ptr, 0) == 0);
        live[j] = live[--nlive];
        continue;
      }
      if (sz == 0) sz = 1;
      uint64_t np = hostalloc_realloc(a, L->ptr, sz);
      if (!np) {
        CHECK(hostalloc_last_error(a) == HOSTALLOC_E_OUT_OF_MEMORY);
        CHECK(hostalloc_usable_size(a, L->ptr) == oldu);
        CLAIM(L->ptr, oldu, L->seed);
        fails++;
        continue;
      }
      uint64_t keep = L->size < sz ? L->size : sz;
      CHECK(np % 16 == 0 && verify(m.buf + np, keep, L->seed));
      uint32_t id = next_id++;
      uint64_t u = hostalloc_usable_size(a, np);
      CHECK(u >= sz);
      CLAIM(np, u, id);
      fill(m.buf + np, sz, id);
      L->ptr = np;
      L->size = sz;
      L->seed = id;
    }
    if (op % 997 == 0) {
      CHECK(hostalloc_check(a) == 0);
      hostalloc_stats_t s;
      hostalloc_stats(a, &s);
      CHECK(s.used_blocks == (uint64_t)nlive);
      uint64_t sum = 0, req = 0;
      for (int i = 0; i < nlive; i++) sum += hostalloc_usable_size(a, live[i].ptr);
      for (int i = 0; i < nlive; i++) req += live[i].size;
      CHECK(s.in_use_bytes == sum && s.free_bytes + s.in_use_bytes == s.heap_size);
      (void)req;
    }
  }
  CHECK(e.count == 0);
  CHECK(hostalloc_check(a) == 0);
  hostalloc_stats_t s;
  hostalloc_stats(a, &s);
  printf("    seed %" PRIu64 ": %d ops, %d live, %" PRIu64 " OOM, heap %" PRIu64 " KiB, peak %" PRIu64
         " KiB, %" PRIu64 " grows, %" PRIu64 " moves, host metadata %" PRIu64 " KiB\n",
         seed, ops, nlive, fails, s.heap_size >> 10, s.peak_in_use_bytes >> 10, s.grow_count, m.moves,
         s.host_metadata_bytes >> 10);
  for (int i = 0; i < nlive; i++) {
    CHECK(verify(m.buf + live[i].ptr, live[i].size, live[i].seed));
    CHECK(hostalloc_free(a, live[i].ptr) == 0);
  }
  hostalloc_trim(a);
  hostalloc_stats(a, &s);
  CHECK(s.free_blocks == 1 && s.used_blocks == 0 && s.in_use_bytes == 0 && s.requested_bytes == 0);
  CHECK(s.spans == 0 && hostalloc_check(a) == 0);
  free(live);
  free(owner);
  hostalloc_destroy(a);
  fm_free(&m);
#undef CLAIM
#undef RELEASE
}

/* hostalloc_create2: one test per failure reason; hostalloc_create as the rounding wrapper. */
static void test_create(void) {
  fake_mem m;
  fm_init(&m, 1);
  hostalloc_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ops = (hostalloc_memory_ops){&m, fm_base, fm_size, fm_grow, 0};
  cfg.heap_base = 1024;
  hostalloc_t *a = (hostalloc_t *)&m; /* must be overwritten with NULL on failure */
  /* HOSTALLOC_E_BAD_ARGUMENT */
  CHECK(hostalloc_create2(NULL, &a) == HOSTALLOC_E_BAD_ARGUMENT && a == NULL);
  CHECK(hostalloc_create2(&cfg, NULL) == HOSTALLOC_E_BAD_ARGUMENT);
  hostalloc_config c2 = cfg;
  c2.ops.base = NULL;
  CHECK(hostalloc_create2(&c2, &a) == HOSTALLOC_E_BAD_ARGUMENT && a == NULL);
  c2 = cfg;
  c2.ops.size = NULL;
  CHECK(hostalloc_create2(&c2, &a) == HOSTALLOC_E_BAD_ARGUMENT);
  /* HOSTALLOC_E_BAD_GRANULE */
  uint32_t bad_g[] = {1, 4, 12, 24, 32};
  for (size_t i = 0; i < sizeof bad_g / sizeof bad_g[0]; i++) {
    c2 = cfg;
    c2.granule = bad_g[i];
    CHECK(hostalloc_create2(&c2, &a) == HOSTALLOC_E_BAD_GRANULE && a == NULL);
  }
  /* HOSTALLOC_E_BAD_PAGE_SIZE */
  uint64_t bad_ps[] = {3, 1000, 65535, 65537, (uint64_t)1 << 33};
  for (size_t i = 0; i < sizeof bad_ps / sizeof bad_ps[0]; i++) {
    c2 = cfg;
    c2.page_size = bad_ps[i];
    CHECK(hostalloc_create2(&c2, &a) == HOSTALLOC_E_BAD_PAGE_SIZE && a == NULL);
  }
  /* HOSTALLOC_E_MISALIGNED_HEAP_BASE */
  c2 = cfg;
  c2.heap_base = 1032;
  CHECK(hostalloc_create2(&c2, &a) == HOSTALLOC_E_MISALIGNED_HEAP_BASE && a == NULL);
  c2.granule = 8;
  CHECK(hostalloc_create2(&c2, &a) == HOSTALLOC_OK && a);
  CHECK(hostalloc_malloc(a, 1) == 1040); /* large blocks and spans start 16-aligned */
  hostalloc_destroy(a);
  c2.heap_base = 1036;
  CHECK(hostalloc_create2(&c2, &a) == HOSTALLOC_E_MISALIGNED_HEAP_BASE);
  /* HOSTALLOC_E_HEAP_BEYOND_MEMORY: beyond the memory, or beyond max_size (even lazily) */
  c2 = cfg;
  c2.heap_base = PAGE + 16;
  CHECK(hostalloc_create2(&c2, &a) == HOSTALLOC_E_HEAP_BEYOND_MEMORY && a == NULL);
  c2.ops.max_size = PAGE;
  c2.flags = HOSTALLOC_LAZY_ATTACH;
  CHECK(hostalloc_create2(&c2, &a) == HOSTALLOC_E_HEAP_BEYOND_MEMORY && a == NULL);
  c2 = cfg;
  c2.heap_base = PAGE; /* an empty heap is fine */
  CHECK(hostalloc_create2(&c2, &a) == HOSTALLOC_OK);
  hostalloc_destroy(a);
  /* success with every default */
  CHECK(hostalloc_create2(&cfg, &a) == HOSTALLOC_OK && a);
  hostalloc_destroy(a);
  /* hostalloc_create: rounds the heap base up to 16, NULL on any failure */
  hostalloc_memory_ops ops = cfg.ops;
  a = hostalloc_create(&ops, 1032, NULL, NULL);
  CHECK(a && hostalloc_malloc(a, 1) == 1040);
  hostalloc_destroy(a);
  CHECK(hostalloc_create(NULL, 1024, NULL, NULL) == NULL);
  CHECK(hostalloc_create(&ops, PAGE + 16, NULL, NULL) == NULL);
  CHECK(hostalloc_create(&ops, UINT64_MAX - 3, NULL, NULL) == NULL);
  /* HOSTALLOC_E_HOST_OOM: each host allocation of create2 fails in turn, nothing leaks */
  if (HAVE_OOM_INJECTION) {
    int saw_oom = 0;
    for (long budget = 0; budget < 20; budget++) {
      g_alloc_budget = budget;
      int rc = hostalloc_create2(&cfg, &a);
      g_alloc_budget = -1;
      if (rc == HOSTALLOC_OK) {
        CHECK(a && hostalloc_malloc(a, 10) != 0);
        hostalloc_destroy(a);
        break;
      }
      CHECK(rc == HOSTALLOC_E_HOST_OOM && a == NULL);
      saw_oom++;
    }
    CHECK(saw_oom >= 2);
  } else {
    printf("    skipped: host OOM injection (build with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc "
           "-DHOSTALLOC_WRAP_MALLOC)\n");
  }
  CHECK(strcmp(hostalloc_strerror(HOSTALLOC_E_BAD_PAGE_SIZE), "unknown error") != 0);
  CHECK(strcmp(hostalloc_strerror(HOSTALLOC_E_HEAP_BEYOND_MEMORY), "unknown error") != 0);
  fm_free(&m);
}

/* Lazy attach: no memory callback before first use; a heap base beyond the memory is
 * reported by the first use and by hostalloc_attach, and retried when the memory grew. */
static void test_lazy(void) {
  fake_mem m;
  memset(&m, 0, sizeof m);
  hostalloc_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ops = (hostalloc_memory_ops){&m, fm_base, fm_size, fm_grow, 0};
  cfg.heap_base = PAGE + 1024;
  cfg.flags = HOSTALLOC_LAZY_ATTACH;
  hostalloc_t *a = NULL;
  CHECK(hostalloc_create2(&cfg, &a) == HOSTALLOC_OK && a); /* no memory exists yet */
  CHECK(m.size_calls == 0);
  hostalloc_stats_t s;
  hostalloc_stats(a, &s);
  CHECK(s.heap_size == 0 && m.size_calls == 0);
  CHECK(hostalloc_free(a, PAGE + 1024) == HOSTALLOC_E_OUT_OF_HEAP && m.size_calls == 0);
  CHECK(hostalloc_free(a, 0) == HOSTALLOC_OK);
  /* the engine creates a 1-page memory: still below the heap base */
  fm_init(&m, 1);
  CHECK(hostalloc_malloc(a, 10) == 0 && hostalloc_last_error(a) == HOSTALLOC_E_HEAP_BEYOND_MEMORY);
  CHECK(hostalloc_malloc(a, 5000) == 0 && hostalloc_last_error(a) == HOSTALLOC_E_HEAP_BEYOND_MEMORY);
  CHECK(hostalloc_attach(a) == HOSTALLOC_E_HEAP_BEYOND_MEMORY);
  /* the memory grows (e.g. the module's own initial size): attach succeeds */
  CHECK(fm_grow(&m, 1) == 0);
  CHECK(hostalloc_attach(a) == HOSTALLOC_OK && hostalloc_attach(a) == HOSTALLOC_OK);
  uint64_t p = hostalloc_malloc(a, 10);
  CHECK(p == PAGE + 1024);
  hostalloc_stats(a, &s);
  CHECK(s.heap_start == PAGE + 1024 && s.heap_end == 2 * PAGE && s.memory_size == 2 * PAGE);
  CHECK(hostalloc_free(a, p) == 0 && hostalloc_check(a) == 0);
  hostalloc_destroy(a);
  fm_free(&m);
  /* first use is a large allocation */
  fm_init(&m, 1);
  m.size_calls = 0;
  cfg.heap_base = 1024;
  CHECK(hostalloc_create2(&cfg, &a) == HOSTALLOC_OK && m.size_calls == 0);
  p = hostalloc_malloc(a, 3 * PAGE);
  CHECK(p == 1024 && m.size_calls > 0 && m.size == 4 * PAGE);
  CHECK(hostalloc_check(a) == 0);
  hostalloc_destroy(a);
  fm_free(&m);
}

/* Host malloc failing in the middle of any operation changes nothing: the operation fails
 * with HOSTALLOC_E_HOST_OOM (or succeeds without new metadata) and the heap stays consistent. */
static void test_host_oom(void) {
  if (!HAVE_OOM_INJECTION) {
    printf("    skipped: host OOM injection not linked in\n");
    return;
  }
  enum { N = 3000 };
  static uint64_t live[N];
  int ooms = 0;
  rng_state = 4242;
  for (int round = 0; round < 30; round++) { /* fresh heaps: metadata arrays start small */
    fake_mem m;
    err_log e;
    hostalloc_t *a = mk(&m, 1, 1024, 0, &e, NULL);
    CHECK(a);
    int n = 0;
    for (int op = 0; op < 3000; op++) {
      uint64_t r = rnd();
      g_alloc_budget = (long)(r % 3); /* 0..2 host allocations may succeed */
      if (n < N && (r >> 8) % 3 != 0) {
        uint64_t sz = (r >> 16) % 5 == 0 ? (r >> 24) % 70000 : (r >> 24) % 2049;
        hostalloc_stats_t s0, s1;
        hostalloc_stats(a, &s0);
        uint64_t p = (r >> 40) % 4 == 0 ? hostalloc_aligned_alloc(a, 64, sz) : hostalloc_malloc(a, sz);
        g_alloc_budget = -1;
        if (!p) {
          CHECK(hostalloc_last_error(a) == HOSTALLOC_E_HOST_OOM);
          hostalloc_stats(a, &s1);
          CHECK(s1.used_blocks == s0.used_blocks && s1.in_use_bytes == s0.in_use_bytes &&
                s1.spans == s0.spans);
          ooms++;
        } else {
          live[n++] = p;
        }
      } else if (n) {
        int j = (int)((r >> 16) % (uint64_t)n);
        CHECK(hostalloc_free(a, live[j]) == 0); /* free never needs host memory */
        live[j] = live[--n];
      }
      g_alloc_budget = -1;
      if (op % 250 == 0) CHECK(hostalloc_check(a) == 0);
    }
    CHECK(e.count == 0 && hostalloc_check(a) == 0);
    for (int i = 0; i < n; i++) CHECK(hostalloc_free(a, live[i]) == 0);
    hostalloc_trim(a);
    hostalloc_stats_t s;
    hostalloc_stats(a, &s);
    CHECK(s.used_blocks == 0 && s.free_blocks == 1 && hostalloc_check(a) == 0);
    hostalloc_destroy(a);
    fm_free(&m);
  }
  printf("    %d allocations failed with HOSTALLOC_E_HOST_OOM, state intact\n", ooms);
  CHECK(ooms >= 30);
}

static void run(const char *name, void (*fn)(void)) {
  int before = g_failed;
  fn();
  printf("%s %s\n", g_failed == before ? "ok  " : "FAIL", name);
}

static void t_random1(void) { test_random(0x9E3779B97F4A7C15u, 40000, 64u << 20); }
static void t_random2(void) { test_random(12345, 40000, 4u << 20); } /* memory pressure: OOM paths */
static void t_random3(void) { test_random(777, 20000, 256u << 20); }

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  run("create2: every failure reason", test_create);
  run("lazy attach", test_lazy);
  run("host malloc failures", test_host_oom);
  run("basic", test_basic);
  run("reuse", test_reuse);
  run("realloc", test_realloc);
  run("realloc of small blocks", test_realloc_small);
  run("size classes (granule 8 and 16)", test_classes);
  run("span life cycle", test_spans);
  run("host metadata per heap byte", test_metadata);
  run("calloc", test_calloc);
  run("aligned_alloc", test_aligned);
  run("errors", test_errors);
  run("growth", test_growth);
  run("random (64 MiB)", t_random1);
  run("random (4 MiB, OOM)", t_random2);
  run("random (256 MiB)", t_random3);
  printf("conformance: %d checks, %d failed\n", g_checks, g_failed);
  return g_failed ? 1 : 0;
}
