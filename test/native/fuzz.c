/*
 * libFuzzer target over the C host allocator's API (host/c/hostalloc.c): every input is a heap
 * configuration and a sequence of operations, valid and hostile, run against a shadow model.
 *
 *   config   granule 8/16, page size 1 / 4 KiB / 64 KiB, heap base, initial memory, max_size,
 *            lazy attach, whether the embedder refuses to grow
 *   ops      malloc, calloc, realloc (to 0 too), free, aligned_alloc, usable_size, trim, huge and
 *            overflowing sizes, bad alignments, the embedder growing memory itself, hostile
 *            free/realloc/usable_size of pointers derived from live and freed blocks and of
 *            arbitrary offsets
 *   memory   a malloc'd buffer that MOVES on every growth (new buffer, copy, old one poisoned and
 *            freed: ASan catches any stale base)
 *
 * Checked after every operation (block contents sampled, in full every 16 operations and at the
 * end): a valid call succeeds unless memory is exhausted (then 0 and
 * HOSTALLOC_E_OUT_OF_MEMORY, nothing changed); a hostile pointer is reported with the error class
 * the model expects (out of heap / interior / in free memory) through the return code, the error
 * callback and hostalloc_last_error, and changes nothing; live blocks are aligned, inside
 * [heap start, memory size), never overlap, keep their contents (across moves and reallocs);
 * calloc memory is zero; usable_size equals what the model recorded; hostalloc_check passes and
 * the stats agree with the model. Any violation aborts (a libFuzzer crash).
 *
 * Built and run by test/native/run.sh (bounded) and for campaigns:
 *   clang-16 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -Ihost/c host/c/hostalloc.c test/native/fuzz.c -o /tmp/hostalloc-fuzz
 *   /tmp/hostalloc-fuzz -max_len=4096 -max_total_time=900 corpus/
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostalloc.h"

#define MAXLIVE 256
#define GUARD 64

#define REQUIRE(c)                                                                  \
  do {                                                                              \
    if (!(c)) {                                                                     \
      fprintf(stderr, "fuzz: %s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
      abort();                                                                      \
    }                                                                               \
  } while (0)

typedef struct fmem {
  uint8_t *raw; /* GUARD | memory | GUARD */
  uint64_t size, max, page;
  int refuse_grow;
  uint64_t grows;
} fmem;

static uint8_t *f_base(void *ctx) { return ((fmem *)ctx)->raw + GUARD; }
static uint64_t f_size(void *ctx) { return ((fmem *)ctx)->size; }
static int f_grow_bytes(fmem *m, uint64_t bytes) {
  uint64_t ns = m->size + bytes;
  if (ns > m->max || ns < m->size) return -1;
  uint8_t *nr = (uint8_t *)malloc((size_t)(ns + 2 * GUARD));
  if (!nr) return -1;
  memcpy(nr, m->raw, (size_t)(m->size + GUARD));
  memset(nr + GUARD + m->size, 0, (size_t)(ns - m->size));
  memset(nr + GUARD + ns, 0xA5, GUARD);
  for (int i = 0; i < GUARD; i++) REQUIRE(m->raw[i] == 0xA5 && m->raw[GUARD + m->size + (uint64_t)i] == 0xA5);
  memset(m->raw, 0xDD, (size_t)(m->size + 2 * GUARD));
  free(m->raw);
  m->raw = nr;
  m->size = ns;
  m->grows++;
  return 0;
}
static int f_grow(void *ctx, uint64_t pages) {
  fmem *m = (fmem *)ctx;
  if (m->refuse_grow) return -1;
  if (pages > (m->max / m->page) + 1) return -1;
  return f_grow_bytes(m, pages * m->page);
}

typedef struct errs {
  int count, code;
  uint64_t ptr;
} errs;
static void on_err(void *ctx, int code, const char *op, uint64_t ptr) {
  errs *e = (errs *)ctx;
  REQUIRE(op != NULL);
  e->count++;
  e->code = code;
  e->ptr = ptr;
}

typedef struct blk {
  uint64_t p, size, usable;
  uint8_t seed;
} blk;

/* ---- input reader */
typedef struct in {
  const uint8_t *d;
  size_t n, i;
} in;
static uint64_t rd(in *r, int bytes) {
  uint64_t v = 0;
  for (int k = 0; k < bytes; k++) v = v << 8 | (r->i < r->n ? r->d[r->i++] : 0);
  return v;
}

static uint8_t pat(uint8_t seed, uint64_t i) { return (uint8_t)(seed * 31u + i * 7u + (i >> 9)); }
static void fill(fmem *m, const blk *b) {
  uint8_t *p = f_base(m) + b->p;
  for (uint64_t i = 0; i < b->size; i++) p[i] = pat(b->seed, i);
}
static void verify(fmem *m, const blk *b, uint64_t n) {
  const uint8_t *p = f_base(m) + b->p;
  for (uint64_t i = 0; i < n; i++) REQUIRE(p[i] == pat(b->seed, i));
}

static blk g_live[MAXLIVE];
static int g_n;

static int cmp_p(const void *x, const void *y) {
  const blk *a = (const blk *)x, *b = (const blk *)y;
  return a->p < b->p ? -1 : a->p > b->p;
}

/* Model classification of a pointer that is not a live block start. */
static int expected_class(uint64_t ptr, uint64_t heap_start, uint64_t heap_end) {
  if (ptr < heap_start || ptr >= heap_end) return HOSTALLOC_E_OUT_OF_HEAP;
  for (int i = 0; i < g_n; i++)
    if (ptr > g_live[i].p && ptr < g_live[i].p + g_live[i].usable) return HOSTALLOC_E_INTERIOR_POINTER;
  return 1; /* free memory: HOSTALLOC_E_DOUBLE_FREE or HOSTALLOC_E_INVALID_POINTER */
}
static int is_live_start(uint64_t ptr) {
  for (int i = 0; i < g_n; i++)
    if (g_live[i].p == ptr) return 1;
  return 0;
}

/* Every invariant; block contents in full when `full`, else their first, middle and last bytes. */
static void check_all(hostalloc_t *a, fmem *m, uint64_t granule, int full) {
  REQUIRE(hostalloc_check(a) == HOSTALLOC_OK);
  hostalloc_stats_t s;
  hostalloc_stats(a, &s);
  REQUIRE(s.used_blocks == (uint64_t)g_n);
  REQUIRE((s.heap_size == 0 || s.heap_end <= m->size) && s.free_bytes + s.in_use_bytes == s.heap_size);
  REQUIRE(s.inband_overhead_bytes == 0);
  static blk sorted[MAXLIVE];
  memcpy(sorted, g_live, sizeof(blk) * (size_t)g_n);
  qsort(sorted, (size_t)g_n, sizeof(blk), cmp_p);
  uint64_t prev_end = 0, sum = 0;
  for (int i = 0; i < g_n; i++) {
    const blk *b = &sorted[i];
    REQUIRE(b->p % granule == 0 && b->p >= s.heap_start && b->p + b->usable <= s.heap_end);
    REQUIRE(b->p >= prev_end); /* no overlap */
    prev_end = b->p + b->usable;
    sum += b->usable;
    if (full || b->size <= 64) {
      verify(m, b, b->size);
    } else {
      const uint8_t *p = f_base(m) + b->p;
      REQUIRE(p[0] == pat(b->seed, 0) && p[b->size / 2] == pat(b->seed, b->size / 2) &&
              p[b->size - 1] == pat(b->seed, b->size - 1));
    }
  }
  REQUIRE(sum == s.in_use_bytes);
  for (int i = 0; i < GUARD; i++) REQUIRE(m->raw[i] == 0xA5 && m->raw[GUARD + m->size + (uint64_t)i] == 0xA5);
}

static uint64_t pick_size(in *r) {
  uint64_t k = rd(r, 1);
  switch (k & 7) {
    case 0: return rd(r, 1) & 15;
    case 1:
    case 2:
    case 3: return rd(r, 2) % 2100; /* the slab range and just above */
    case 4: return rd(r, 2);
    case 5: return rd(r, 3) % 300000;
    case 6: return 2048 + (rd(r, 1) & 31) - 16;
    default: return (uint64_t)1 << (rd(r, 1) % 22);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  in r = {data, size, 0};
  uint64_t cfg0 = rd(&r, 1), cfg1 = rd(&r, 1);
  uint64_t granule = (cfg0 & 1) ? 8 : 16;
  static const uint64_t page_sizes[] = {65536, 4096, 1, 65536};
  uint64_t page = page_sizes[(cfg0 >> 1) & 3];
  int lazy = (int)((cfg0 >> 3) & 1);
  fmem m;
  memset(&m, 0, sizeof m);
  m.page = page;
  m.size = ((cfg1 & 3) * 65536 / page) * page;          /* 0..3 pages of 64 KiB */
  m.max = (uint64_t)(1 + ((cfg1 >> 2) & 63)) * 131072; /* 128 KiB .. 8 MiB */
  m.refuse_grow = (cfg0 >> 4) & 1 && (cfg0 >> 5) & 1;
  uint64_t heap_base = ((rd(&r, 2) % 70000) + granule - 1) / granule * granule;
  m.raw = (uint8_t *)malloc((size_t)(m.size + 2 * GUARD));
  memset(m.raw, 0xA5, GUARD);
  memset(m.raw + GUARD, 0, (size_t)m.size);
  memset(m.raw + GUARD + m.size, 0xA5, GUARD);

  errs e = {0, 0, 0};
  hostalloc_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ops.ctx = &m;
  cfg.ops.base = f_base;
  cfg.ops.size = f_size;
  cfg.ops.grow = (cfg0 >> 6) & 1 ? NULL : f_grow;
  cfg.ops.max_size = m.max;
  cfg.heap_base = heap_base;
  cfg.page_size = page;
  cfg.granule = (uint32_t)granule;
  cfg.flags = lazy ? HOSTALLOC_LAZY_ATTACH : 0;
  cfg.on_error = on_err;
  cfg.error_ctx = &e;
  hostalloc_t *a = NULL;
  int rc = hostalloc_create2(&cfg, &a);
  uint64_t start = heap_base < 16 ? 16 : (heap_base + 15) / 16 * 16;
  if (start > m.max) {
    REQUIRE(rc == HOSTALLOC_E_HEAP_BEYOND_MEMORY && a == NULL);
    free(m.raw);
    return 0;
  }
  if (!lazy && start > m.size) {
    REQUIRE(rc == HOSTALLOC_E_HEAP_BEYOND_MEMORY && a == NULL);
    free(m.raw);
    return 0;
  }
  REQUIRE(rc == HOSTALLOC_OK && a);
  g_n = 0;
  uint8_t next_seed = 1;
  int steps = 0;
  while (r.i < r.n && steps++ < 400) {
    uint64_t op = rd(&r, 1);
    hostalloc_stats_t s0, s1;
    hostalloc_stats(a, &s0);
    int e0 = e.count;
    switch (op % 16) {
      case 0:
      case 1:
      case 2: { /* malloc / calloc / aligned_alloc */
        if (g_n == MAXLIVE) break;
        uint64_t sz = pick_size(&r), al = 0, p;
        int kind = (int)(op / 16 % 4);
        if (kind == 1) {
          uint64_t cnt = 1 + (rd(&r, 1) & 7);
          p = hostalloc_calloc(a, cnt, sz);
          sz *= cnt;
        } else if (kind == 2) {
          al = (uint64_t)1 << (rd(&r, 1) % 17);
          p = hostalloc_aligned_alloc(a, al, sz);
        } else {
          p = hostalloc_malloc(a, sz);
        }
        REQUIRE(e.count == e0);
        if (!p) {
          int le = hostalloc_last_error(a);
          REQUIRE(le == HOSTALLOC_E_OUT_OF_MEMORY || le == HOSTALLOC_E_HEAP_BEYOND_MEMORY ||
                  (kind == 1 && le == HOSTALLOC_E_OVERFLOW));
          hostalloc_stats(a, &s1);
          REQUIRE(s1.used_blocks == s0.used_blocks && s1.in_use_bytes == s0.in_use_bytes);
          break;
        }
        REQUIRE(hostalloc_last_error(a) == HOSTALLOC_OK);
        if (!(p % granule == 0 && (al == 0 || p % al == 0))) fprintf(stderr, "p=%llu al=%llu sz=%llu g=%llu\n", (unsigned long long)p, (unsigned long long)al, (unsigned long long)sz, (unsigned long long)granule);
        REQUIRE(p % granule == 0 && (al == 0 || p % al == 0));
        uint64_t u = hostalloc_usable_size(a, p);
        REQUIRE(u >= sz && p + u <= m.size);
        if (kind == 1)
          for (uint64_t i = 0; i < u; i++) REQUIRE(f_base(&m)[p + i] == 0);
        blk b = {p, sz, u, next_seed++};
        fill(&m, &b);
        g_live[g_n++] = b;
        break;
      }
      case 3:
      case 4:
      case 5: { /* free */
        if (!g_n) break;
        int j = (int)(rd(&r, 1) % (uint64_t)g_n);
        verify(&m, &g_live[j], g_live[j].size);
        REQUIRE(hostalloc_free(a, g_live[j].p) == HOSTALLOC_OK && e.count == e0);
        g_live[j] = g_live[--g_n];
        break;
      }
      case 6:
      case 7: { /* realloc */
        if (!g_n) break;
        int j = (int)(rd(&r, 1) % (uint64_t)g_n);
        blk *b = &g_live[j];
        uint64_t sz = (op & 0x80) ? 0 : pick_size(&r);
        uint64_t np = hostalloc_realloc(a, b->p, sz);
        REQUIRE(e.count == e0);
        if (sz == 0) {
          REQUIRE(np == 0 && hostalloc_last_error(a) == HOSTALLOC_OK);
          g_live[j] = g_live[--g_n];
          break;
        }
        if (!np) {
          REQUIRE(hostalloc_last_error(a) == HOSTALLOC_E_OUT_OF_MEMORY);
          REQUIRE(hostalloc_usable_size(a, b->p) == b->usable);
          verify(&m, b, b->size);
          break;
        }
        uint64_t keep = b->size < sz ? b->size : sz;
        blk nb = {np, sz, hostalloc_usable_size(a, np), b->seed};
        REQUIRE(np % granule == 0 && nb.usable >= sz);
        verify(&m, &nb, keep);
        nb.seed = next_seed++;
        fill(&m, &nb);
        *b = nb;
        break;
      }
      case 8: { /* usable_size of a live block */
        if (!g_n) break;
        int j = (int)(rd(&r, 1) % (uint64_t)g_n);
        REQUIRE(hostalloc_usable_size(a, g_live[j].p) == g_live[j].usable);
        break;
      }
      case 9:
      case 10:
      case 11: { /* hostile pointer: derived from a live block, or arbitrary */
        uint64_t ptr;
        uint64_t how = rd(&r, 1);
        if (g_n && (how & 3) != 3) {
          const blk *b = &g_live[rd(&r, 1) % (uint64_t)g_n];
          int64_t delta = (int64_t)(int16_t)rd(&r, 2);
          if (delta == 0) delta = 1;
          ptr = b->p + (uint64_t)delta;
        } else {
          ptr = (how & 4) ? rd(&r, 4) : rd(&r, 3);
          if (ptr == 0) ptr = 8;
        }
        ptr &= 0xffffffffu;
        if (ptr == 0 || is_live_start(ptr)) break; /* free(0) is a no-op */
        hostalloc_stats(a, &s0);
        int expect = expected_class(ptr, s0.heap_start, s0.heap_end);
        int got;
        int which = (int)(how >> 4) % 3;
        if (which == 0) {
          got = hostalloc_free(a, ptr);
        } else if (which == 1) {
          REQUIRE(hostalloc_realloc(a, ptr, pick_size(&r)) == 0);
          got = hostalloc_last_error(a);
        } else {
          REQUIRE(hostalloc_usable_size(a, ptr) == 0);
          got = hostalloc_last_error(a);
        }
        if (expect == 1) REQUIRE(got == HOSTALLOC_E_DOUBLE_FREE || got == HOSTALLOC_E_INVALID_POINTER);
        else {
          if (got != expect) fprintf(stderr, "ptr=%llu got=%d expect=%d which=%d heap=[%llu,%llu)\n", (unsigned long long)ptr, got, expect, which, (unsigned long long)s0.heap_start, (unsigned long long)s0.heap_end);
          REQUIRE(got == expect);
        }
        REQUIRE(e.count == e0 + 1 && e.code == got && e.ptr == ptr && hostalloc_last_error(a) == got);
        hostalloc_stats(a, &s1);
        REQUIRE(s1.used_blocks == s0.used_blocks && s1.in_use_bytes == s0.in_use_bytes &&
                s1.free_blocks == s0.free_blocks && s1.spans == s0.spans && s1.heap_end == s0.heap_end);
        break;
      }
      case 12: { /* huge sizes, overflow, bad alignment: 0 and nothing changes */
        uint64_t huge = (uint64_t)0xffffffffu - (rd(&r, 1) & 31);
        REQUIRE(hostalloc_malloc(a, huge) == 0 && hostalloc_last_error(a) == HOSTALLOC_E_OUT_OF_MEMORY);
        REQUIRE(hostalloc_calloc(a, 0x10000, 0x10001) == 0 && hostalloc_last_error(a) == HOSTALLOC_E_OVERFLOW);
        REQUIRE(hostalloc_calloc(a, UINT64_MAX, 2) == 0 && hostalloc_last_error(a) == HOSTALLOC_E_OVERFLOW);
        uint64_t al = rd(&r, 1) | 0x300u; /* never a power of two */
        REQUIRE(hostalloc_aligned_alloc(a, al, 16) == 0 && hostalloc_last_error(a) == HOSTALLOC_E_INVALID_ALIGNMENT);
        REQUIRE(hostalloc_aligned_alloc(a, 0, 16) == 0);
        hostalloc_stats(a, &s1);
        REQUIRE(s1.used_blocks == s0.used_blocks && e.count == e0);
        break;
      }
      case 13: /* the embedder grows memory itself */
        (void)f_grow_bytes(&m, (op >> 4) % 4 * 65536 + (page == 1 ? rd(&r, 1) % 16 : 0));
        break;
      case 14: /* the embedder starts or stops refusing growth */
        m.refuse_grow = (int)(op >> 7);
        break;
      default:
        hostalloc_trim(a);
        break;
    }
    check_all(a, &m, granule, steps % 16 == 0);
  }
  check_all(a, &m, granule, 1);
  while (g_n) {
    verify(&m, &g_live[g_n - 1], g_live[g_n - 1].size);
    REQUIRE(hostalloc_free(a, g_live[--g_n].p) == HOSTALLOC_OK);
  }
  hostalloc_trim(a);
  hostalloc_stats_t s;
  hostalloc_stats(a, &s);
  REQUIRE(s.used_blocks == 0 && s.in_use_bytes == 0 && s.spans == 0 && s.free_blocks <= 1);
  REQUIRE(s.free_blocks == 0 || s.largest_free_block == s.heap_size);
  REQUIRE(hostalloc_check(a) == HOSTALLOC_OK);
  hostalloc_destroy(a);
  free(m.raw);
  return 0;
}
