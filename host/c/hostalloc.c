/*
 * hostalloc.c — TLSF allocator for WebAssembly linear memory with all metadata in
 * host memory. See hostalloc.h for the interface and guarantees.
 *
 * Data structures (all in host memory):
 *   - blocks[]: a pool of block descriptors {offset, size, requested size, flags,
 *     physical prev/next, free-list prev/next}, addressed by 32-bit index. The
 *     blocks tile the heap [heap_start, heap_end) exactly, in a doubly linked
 *     physical list, so coalescing with neighbours is O(1).
 *   - an open-addressing hash table offset -> block index of the LIVE blocks, for
 *     O(1) lookup of the pointer passed to free/realloc/usable_size. Free blocks
 *     are reached through the physical list and the free lists only.
 *   - TLSF segregated free lists: first level = floor(log2(size)), second level =
 *     16 linear subdivisions, with two levels of bitmaps for O(1) good-fit search.
 *     Sizes below 256 bytes use 16 exact classes of 16 bytes.
 * Invariants: sizes and offsets are multiples of 16; no two physically adjacent
 * blocks are both free; the sum of block sizes equals heap_end - heap_start.
 * Host memory for up to RESERVE new descriptors and hash slots is reserved at the
 * start of every operation, so a failing host malloc never leaves a half-done
 * operation behind.
 */
#include "hostalloc.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- constants */

#define ALIGN_LOG2 4
#define ALIGN ((uint64_t)1 << ALIGN_LOG2)
#define MIN_BLOCK ALIGN
#define SL_LOG2 4
#define SL_COUNT (1u << SL_LOG2)
#define FL_SHIFT (SL_LOG2 + ALIGN_LOG2)
#define SMALL_BLOCK ((uint64_t)1 << FL_SHIFT)
/* Largest heap we ever manage: 2^48 bytes (far above wasm32's 4 GiB). */
#define MAX_HEAP_LOG2 48
#define FL_COUNT (MAX_HEAP_LOG2 - FL_SHIFT + 2)
#define NIL UINT32_MAX
#define RESERVE 4u
#define F_FREE 1u
#define WASM32_MAX ((uint64_t)1 << 32)
#define MIN_GROW_PAGES 16u /* 1 MiB */

/* ---------------------------------------------------------------- types */

typedef struct block {
  uint64_t off;
  uint64_t size;
  uint64_t req; /* requested size (live blocks) */
  uint32_t prev_phys, next_phys;
  uint32_t prev_free, next_free; /* also: pool free chain (next_free) */
  uint32_t flags;
  uint8_t fl, sl; /* free-list class while free */
} block_t;

typedef struct slot {
  uint64_t key;
  uint32_t idx; /* NIL = empty */
} slot_t;

struct hostalloc {
  hostalloc_memory_ops ops;
  hostalloc_error_fn on_error;
  void *error_ctx;
  uint64_t max_size;
  uint64_t heap_start, heap_end;

  block_t *blocks;
  uint32_t blocks_cap, blocks_used; /* blocks_used = high-water mark of indices */
  uint32_t pool_free;               /* chain of released descriptors */
  uint32_t pool_free_count;
  uint32_t first, last; /* physical list */

  slot_t *slots;
  uint64_t slots_cap, slots_count; /* cap: power of two */
  uint64_t last_slot;              /* slot of the last lookup_live hit, or UINT64_MAX */

  uint64_t fl_bitmap;
  uint32_t sl_bitmap[FL_COUNT];
  uint32_t heads[FL_COUNT][SL_COUNT];

  int last_error;
  uint64_t n_blocks, n_free;
  uint64_t in_use, peak, requested;
  uint64_t grow_count, grown_bytes, malloc_count, free_count, failed_count, error_count;
};

/* ---------------------------------------------------------------- bit helpers */

static int fls64(uint64_t x) { /* index of the highest set bit; x != 0 */
#if defined(__GNUC__) || defined(__clang__)
  return 63 - __builtin_clzll(x);
#else
  int r = 0;
  while (x >>= 1) r++;
  return r;
#endif
}

static int ffs64(uint64_t x) { /* index of the lowest set bit; x != 0 */
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctzll(x);
#else
  int r = 0;
  while (!(x & 1)) {
    x >>= 1;
    r++;
  }
  return r;
#endif
}

static void mapping_insert(uint64_t size, int *fl, int *sl) {
  if (size < SMALL_BLOCK) {
    *fl = 0;
    *sl = (int)(size >> ALIGN_LOG2);
  } else {
    int f = fls64(size);
    *sl = (int)((size >> (f - SL_LOG2)) ^ SL_COUNT);
    *fl = f - (FL_SHIFT - 1);
  }
}

/* Round up to the start of the next class so that any block in the found list fits. */
static void mapping_search(uint64_t size, int *fl, int *sl) {
  if (size >= SMALL_BLOCK) size += ((uint64_t)1 << (fls64(size) - SL_LOG2)) - 1;
  mapping_insert(size, fl, sl);
}

/* ---------------------------------------------------------------- errors */

const char *hostalloc_strerror(int code) {
  switch (code) {
    case HOSTALLOC_OK: return "success";
    case HOSTALLOC_E_INVALID_POINTER: return "invalid pointer: not the start of an allocated block";
    case HOSTALLOC_E_DOUBLE_FREE: return "double free: pointer is in free memory";
    case HOSTALLOC_E_INTERIOR_POINTER: return "interior pointer: inside a live block but not its start";
    case HOSTALLOC_E_OUT_OF_HEAP: return "pointer outside the heap (below heap base or beyond its end)";
    case HOSTALLOC_E_OUT_OF_MEMORY: return "out of linear memory";
    case HOSTALLOC_E_INVALID_ALIGNMENT: return "alignment is not a power of two";
    case HOSTALLOC_E_OVERFLOW: return "size overflow";
    case HOSTALLOC_E_HOST_OOM: return "host out of memory for allocator metadata";
    case HOSTALLOC_E_CORRUPT: return "allocator state inconsistent";
    default: return "unknown error";
  }
}

static void report(hostalloc_t *a, int code, const char *op, uint64_t ptr) {
  a->last_error = code;
  a->error_count++;
  if (a->on_error) a->on_error(a->error_ctx, code, op, ptr);
}

/* ---------------------------------------------------------------- hash table */

static uint64_t hash_of(uint64_t key) {
  uint64_t h = (key >> ALIGN_LOG2) * UINT64_C(0x9E3779B97F4A7C15);
  return h ^ (h >> 29);
}

/* Slot index holding `key`, or UINT64_MAX. */
static uint64_t hash_find(const hostalloc_t *a, uint64_t key) {
  uint64_t mask = a->slots_cap - 1, i = hash_of(key) & mask;
  for (;;) {
    const slot_t *s = &a->slots[i];
    if (s->idx == NIL) return UINT64_MAX;
    if (s->key == key) return i;
    i = (i + 1) & mask;
  }
}

static uint32_t hash_get(const hostalloc_t *a, uint64_t key) {
  uint64_t i = hash_find(a, key);
  return i == UINT64_MAX ? NIL : a->slots[i].idx;
}

static void hash_put_raw(slot_t *slots, uint64_t cap, uint64_t key, uint32_t idx) {
  uint64_t mask = cap - 1, i = hash_of(key) & mask;
  while (slots[i].idx != NIL) {
    if (slots[i].key == key) break;
    i = (i + 1) & mask;
  }
  slots[i].key = key;
  slots[i].idx = idx;
}

static void hash_put(hostalloc_t *a, uint64_t key, uint32_t idx) {
  hash_put_raw(a->slots, a->slots_cap, key, idx);
  a->slots_count++;
}

/* Deletion with backward shift (no tombstones). */
static void hash_del_at(hostalloc_t *a, uint64_t i) {
  uint64_t mask = a->slots_cap - 1;
  a->slots_count--;
  for (;;) {
    uint64_t j = i;
    a->slots[i].idx = NIL;
    for (;;) {
      j = (j + 1) & mask;
      if (a->slots[j].idx == NIL) return;
      uint64_t home = hash_of(a->slots[j].key) & mask;
      /* Move slot j to i if its home is not cyclically in (i, j]. */
      if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) break;
    }
    a->slots[i] = a->slots[j];
    i = j;
  }
}

static void hash_del(hostalloc_t *a, uint64_t key) {
  uint64_t i = hash_find(a, key);
  if (i != UINT64_MAX) hash_del_at(a, i);
}

static int hash_grow(hostalloc_t *a, uint64_t cap) {
  slot_t *n = (slot_t *)malloc((size_t)cap * sizeof(slot_t));
  if (!n) return 0;
  for (uint64_t i = 0; i < cap; i++) n[i].idx = NIL;
  for (uint64_t i = 0; i < a->slots_cap; i++)
    if (a->slots[i].idx != NIL) hash_put_raw(n, cap, a->slots[i].key, a->slots[i].idx);
  free(a->slots);
  a->slots = n;
  a->slots_cap = cap;
  return 1;
}

/* ---------------------------------------------------------------- descriptor pool */

/* Make room for `n` more blocks (descriptors + hash slots at load <= 1/2). */
static int reserve_slow(hostalloc_t *a, uint32_t n) {
  if (a->pool_free_count + (a->blocks_cap - a->blocks_used) < n) {
    uint64_t cap = (uint64_t)a->blocks_cap * 2;
    if (cap < 64) cap = 64;
    if (cap >= NIL) return 0;
    block_t *nb = (block_t *)realloc(a->blocks, (size_t)cap * sizeof(block_t));
    if (!nb) return 0;
    a->blocks = nb;
    a->blocks_cap = (uint32_t)cap;
  }
  if ((a->slots_count + n) * 2 > a->slots_cap) {
    uint64_t cap = a->slots_cap ? a->slots_cap : 64;
    while ((a->slots_count + n) * 2 > cap) cap *= 2;
    if (!hash_grow(a, cap)) return 0;
  }
  return 1;
}

static int reserve(hostalloc_t *a, uint32_t n) {
  if (a->pool_free_count + (a->blocks_cap - a->blocks_used) >= n && (a->slots_count + n) * 2 <= a->slots_cap)
    return 1;
  return reserve_slow(a, n);
}

static uint32_t pool_take(hostalloc_t *a) { /* after reserve() */
  uint32_t i;
  if (a->pool_free != NIL) {
    i = a->pool_free;
    a->pool_free = a->blocks[i].next_free;
    a->pool_free_count--;
  } else {
    i = a->blocks_used++;
  }
  a->n_blocks++;
  return i;
}

static void pool_release(hostalloc_t *a, uint32_t i) {
  a->blocks[i].next_free = a->pool_free;
  a->blocks[i].flags = 0;
  a->blocks[i].size = 0;
  a->pool_free = i;
  a->pool_free_count++;
  a->n_blocks--;
}

/* ---------------------------------------------------------------- free lists */

static void insert_free(hostalloc_t *a, uint32_t i) {
  block_t *b = &a->blocks[i];
  int fl, sl;
  mapping_insert(b->size, &fl, &sl);
  b->fl = (uint8_t)fl;
  b->sl = (uint8_t)sl;
  uint32_t h = a->heads[fl][sl];
  b->flags |= F_FREE;
  b->prev_free = NIL;
  b->next_free = h;
  if (h != NIL) a->blocks[h].prev_free = i;
  a->heads[fl][sl] = i;
  a->fl_bitmap |= (uint64_t)1 << fl;
  a->sl_bitmap[fl] |= 1u << sl;
  a->n_free++;
}

static void remove_free(hostalloc_t *a, uint32_t i) {
  block_t *b = &a->blocks[i];
  int fl = b->fl, sl = b->sl;
  if (b->prev_free != NIL) a->blocks[b->prev_free].next_free = b->next_free;
  else a->heads[fl][sl] = b->next_free;
  if (b->next_free != NIL) a->blocks[b->next_free].prev_free = b->prev_free;
  if (a->heads[fl][sl] == NIL) {
    a->sl_bitmap[fl] &= ~(1u << sl);
    if (!a->sl_bitmap[fl]) a->fl_bitmap &= ~((uint64_t)1 << fl);
  }
  b->flags &= ~F_FREE;
  b->prev_free = b->next_free = NIL;
  a->n_free--;
}

static uint32_t find_free(hostalloc_t *a, uint64_t size) {
  int fl, sl;
  mapping_search(size, &fl, &sl);
  if (fl >= FL_COUNT) return NIL;
  uint32_t sl_map = a->sl_bitmap[fl] & (~0u << sl);
  if (!sl_map) {
    uint64_t fl_map = (fl + 1 < 64) ? (a->fl_bitmap & (~(uint64_t)0 << (fl + 1))) : 0;
    if (!fl_map) return NIL;
    fl = ffs64(fl_map);
    sl_map = a->sl_bitmap[fl];
  }
  sl = ffs64(sl_map);
  return a->heads[fl][sl];
}

/* ---------------------------------------------------------------- block surgery */

/* Split block i (not in any free list) so that it keeps `size` bytes; the rest
 * becomes a new free block, merged with a free successor. Requires reserve(1). */
static void split_tail(hostalloc_t *a, uint32_t i, uint64_t size) {
  block_t *b = &a->blocks[i];
  if (b->size - size < MIN_BLOCK) return;
  uint32_t next = b->next_phys;
  uint64_t rest = b->size - size;
  if (next != NIL && (a->blocks[next].flags & F_FREE)) {
    /* Grow the free successor downwards. */
    block_t *n = &a->blocks[next];
    remove_free(a, next);
    n->off -= rest;
    n->size += rest;
    b->size = size;
    insert_free(a, next);
    return;
  }
  uint32_t r = pool_take(a);
  b = &a->blocks[i];
  block_t *rb = &a->blocks[r];
  rb->off = b->off + size;
  rb->size = rest;
  rb->req = 0;
  rb->flags = 0;
  rb->prev_phys = i;
  rb->next_phys = next;
  if (next != NIL) a->blocks[next].prev_phys = r;
  else a->last = r;
  b->next_phys = r;
  b->size = size;
  insert_free(a, r);
}

/* Remove block j (physically right after i) and give its bytes to i. */
static void absorb_next(hostalloc_t *a, uint32_t i, uint32_t j) {
  block_t *b = &a->blocks[i], *n = &a->blocks[j];
  b->size += n->size;
  b->next_phys = n->next_phys;
  if (n->next_phys != NIL) a->blocks[n->next_phys].prev_phys = i;
  else a->last = i;
  pool_release(a, j);
}

/* Mark a live block free and coalesce it with free neighbours. */
static void free_block(hostalloc_t *a, uint32_t i) {
  block_t *b = &a->blocks[i];
  if (a->last_slot < a->slots_cap && a->slots[a->last_slot].idx == i && a->slots[a->last_slot].key == b->off)
    hash_del_at(a, a->last_slot);
  else
    hash_del(a, b->off);
  a->last_slot = UINT64_MAX;
  a->in_use -= b->size;
  a->requested -= b->req;
  b->req = 0;
  uint32_t p = b->prev_phys, n = b->next_phys;
  if (n != NIL && (a->blocks[n].flags & F_FREE)) {
    remove_free(a, n);
    absorb_next(a, i, n);
  }
  if (p != NIL && (a->blocks[p].flags & F_FREE)) {
    remove_free(a, p);
    absorb_next(a, p, i);
    i = p;
  }
  insert_free(a, i);
}

/* Take free block i for an allocation of `size` (block size) bytes. */
static void use_block(hostalloc_t *a, uint32_t i, uint64_t size, uint64_t req) {
  remove_free(a, i);
  split_tail(a, i, size);
  block_t *b = &a->blocks[i];
  hash_put(a, b->off, i);
  b->req = req;
  a->in_use += b->size;
  a->requested += req;
  if (a->in_use > a->peak) a->peak = a->in_use;
}

/* Append [heap_end, new_end) to the heap. Requires reserve(1). */
static void add_region(hostalloc_t *a, uint64_t new_end) {
  if (new_end <= a->heap_end) return;
  uint64_t len = (new_end - a->heap_end) & ~(ALIGN - 1);
  if (len == 0) return;
  uint32_t l = a->last;
  if (l != NIL && (a->blocks[l].flags & F_FREE)) {
    remove_free(a, l);
    a->blocks[l].size += len;
    insert_free(a, l);
  } else {
    uint32_t r = pool_take(a);
    block_t *rb = &a->blocks[r];
    rb->off = a->heap_end;
    rb->size = len;
    rb->req = 0;
    rb->flags = 0;
    rb->prev_phys = l;
    rb->next_phys = NIL;
    if (l != NIL) a->blocks[l].next_phys = r;
    else a->first = r;
    a->last = r;
    insert_free(a, r);
  }
  a->heap_end += len;
}

static uint64_t tail_free(const hostalloc_t *a) {
  uint32_t l = a->last;
  return (l != NIL && (a->blocks[l].flags & F_FREE)) ? a->blocks[l].size : 0;
}

/* Make the last block free with at least `need` bytes, growing memory if needed.
 * Memory grown by others since we last looked is taken into the heap too.
 * Requires reserve(1). Returns 1 on success. */
static int heap_extend(hostalloc_t *a, uint64_t need) {
  uint64_t cur = a->ops.size(a->ops.ctx);
  if (cur > a->max_size) cur = a->max_size;
  add_region(a, cur);
  uint64_t have = tail_free(a);
  if (have >= need) return 1;
  if (!a->ops.grow) return 0;
  cur = a->ops.size(a->ops.ctx);
  uint64_t missing = need - have;
  if (missing > a->max_size) return 0;
  uint64_t min_pages = (missing + HOSTALLOC_PAGE_SIZE - 1) / HOSTALLOC_PAGE_SIZE;
  uint64_t cur_pages = cur / HOSTALLOC_PAGE_SIZE;
  uint64_t max_pages = a->max_size / HOSTALLOC_PAGE_SIZE;
  if (cur_pages + min_pages > max_pages) return 0;
  uint64_t pages = min_pages;
  if (pages < cur_pages / 8) pages = cur_pages / 8;
  if (pages < MIN_GROW_PAGES) pages = MIN_GROW_PAGES;
  if (cur_pages + pages > max_pages) pages = min_pages;
  int rc = a->ops.grow(a->ops.ctx, pages);
  if (rc != 0 && pages != min_pages) {
    pages = min_pages;
    rc = a->ops.grow(a->ops.ctx, pages);
  }
  if (rc != 0) return 0;
  uint64_t now = a->ops.size(a->ops.ctx);
  if (now > a->max_size) now = a->max_size;
  a->grow_count++;
  if (now > cur) a->grown_bytes += now - cur;
  add_region(a, now);
  return tail_free(a) >= need;
}

/* Block size for a request, or 0 if impossible. */
static uint64_t adjust(const hostalloc_t *a, uint64_t size) {
  if (size > a->max_size) return 0;
  uint64_t s = (size + ALIGN - 1) & ~(ALIGN - 1);
  return s ? s : MIN_BLOCK;
}

/* Find (or make, by growing) a free block of at least `size` bytes. */
static uint32_t get_free(hostalloc_t *a, uint64_t size) {
  uint32_t i = find_free(a, size);
  if (i != NIL) return i;
  if (!heap_extend(a, size)) return NIL;
  i = find_free(a, size);
  return i != NIL ? i : a->last;
}

static uint64_t fail(hostalloc_t *a, int code) {
  a->last_error = code;
  a->failed_count++;
  return 0;
}

/* ---------------------------------------------------------------- pointer lookup */

/* The live block starting at ptr, or NIL after reporting the error. */
static uint32_t lookup_live(hostalloc_t *a, uint64_t ptr, const char *op, int *code) {
  int c;
  if (ptr < a->heap_start || ptr >= a->heap_end) {
    c = HOSTALLOC_E_OUT_OF_HEAP;
  } else {
    uint64_t slot = hash_find(a, ptr);
    if (slot != UINT64_MAX) {
      uint32_t i = a->slots[slot].idx;
      if (!(a->blocks[i].flags & F_FREE)) {
        a->last_slot = slot; /* lets free_block delete without probing again */
        return i;
      }
      c = HOSTALLOC_E_DOUBLE_FREE;
    } else {
      /* Error path: classify by finding the containing block. O(n). */
      c = HOSTALLOC_E_INVALID_POINTER;
      for (uint32_t j = a->first; j != NIL; j = a->blocks[j].next_phys) {
        const block_t *b = &a->blocks[j];
        if (ptr >= b->off && ptr < b->off + b->size) {
          if (!(b->flags & F_FREE)) c = HOSTALLOC_E_INTERIOR_POINTER;
          else if ((ptr & (ALIGN - 1)) == 0) c = HOSTALLOC_E_DOUBLE_FREE;
          break;
        }
      }
    }
  }
  report(a, c, op, ptr);
  if (code) *code = c;
  return NIL;
}

/* ---------------------------------------------------------------- public API */

hostalloc_t *hostalloc_create(const hostalloc_memory_ops *ops, uint64_t heap_base,
                              hostalloc_error_fn on_error, void *error_ctx) {
  if (!ops || !ops->base || !ops->size) return NULL;
  uint64_t max = ops->max_size ? ops->max_size : WASM32_MAX;
  if (max > ((uint64_t)1 << MAX_HEAP_LOG2)) max = (uint64_t)1 << MAX_HEAP_LOG2;
  max &= ~(uint64_t)(HOSTALLOC_PAGE_SIZE - 1);
  uint64_t start = (heap_base + ALIGN - 1) & ~(ALIGN - 1);
  if (heap_base > UINT64_MAX - ALIGN) return NULL;
  if (start < ALIGN) start = ALIGN;
  uint64_t cur = ops->size(ops->ctx);
  if (start > cur || start > max) return NULL;
  if (cur > max) max = cur & ~(uint64_t)(HOSTALLOC_PAGE_SIZE - 1);

  hostalloc_t *a = (hostalloc_t *)calloc(1, sizeof(*a));
  if (!a) return NULL;
  a->ops = *ops;
  a->on_error = on_error;
  a->error_ctx = error_ctx;
  a->max_size = max;
  a->heap_start = a->heap_end = start;
  a->pool_free = NIL;
  a->first = a->last = NIL;
  a->last_slot = UINT64_MAX;
  for (int f = 0; f < FL_COUNT; f++)
    for (unsigned s = 0; s < SL_COUNT; s++) a->heads[f][s] = NIL;
  if (!reserve(a, RESERVE)) {
    hostalloc_destroy(a);
    return NULL;
  }
  add_region(a, cur > max ? max : cur);
  return a;
}

void hostalloc_destroy(hostalloc_t *a) {
  if (!a) return;
  free(a->blocks);
  free(a->slots);
  free(a);
}

uint64_t hostalloc_malloc(hostalloc_t *a, uint64_t size) {
  uint64_t bs = adjust(a, size);
  if (!bs) return fail(a, HOSTALLOC_E_OUT_OF_MEMORY);
  if (!reserve(a, RESERVE)) return fail(a, HOSTALLOC_E_HOST_OOM);
  uint32_t i = get_free(a, bs);
  if (i == NIL) return fail(a, HOSTALLOC_E_OUT_OF_MEMORY);
  use_block(a, i, bs, size);
  a->malloc_count++;
  a->last_error = HOSTALLOC_OK;
  return a->blocks[i].off;
}

int hostalloc_free(hostalloc_t *a, uint64_t ptr) {
  if (ptr == 0) {
    a->last_error = HOSTALLOC_OK;
    return HOSTALLOC_OK;
  }
  int code = HOSTALLOC_OK;
  uint32_t i = lookup_live(a, ptr, "free", &code);
  if (i == NIL) return code;
  free_block(a, i);
  a->free_count++;
  a->last_error = HOSTALLOC_OK;
  return HOSTALLOC_OK;
}

uint64_t hostalloc_calloc(hostalloc_t *a, uint64_t n, uint64_t size) {
  if (size != 0 && n > UINT64_MAX / size) return fail(a, HOSTALLOC_E_OVERFLOW);
  uint64_t total = n * size;
  if (total > a->max_size) return fail(a, HOSTALLOC_E_OVERFLOW);
  uint64_t p = hostalloc_malloc(a, total);
  if (!p) return 0;
  uint32_t i = hash_get(a, p);
  memset(a->ops.base(a->ops.ctx) + p, 0, (size_t)a->blocks[i].size);
  return p;
}

uint64_t hostalloc_aligned_alloc(hostalloc_t *a, uint64_t align, uint64_t size) {
  if (align == 0 || (align & (align - 1))) return fail(a, HOSTALLOC_E_INVALID_ALIGNMENT);
  if (align <= ALIGN) return hostalloc_malloc(a, size);
  uint64_t bs = adjust(a, size);
  if (!bs || align > a->max_size || bs > a->max_size - align)
    return fail(a, HOSTALLOC_E_OUT_OF_MEMORY);
  if (!reserve(a, RESERVE)) return fail(a, HOSTALLOC_E_HOST_OOM);
  uint64_t search = bs + align - ALIGN;
  uint32_t i = get_free(a, search);
  if (i == NIL) return fail(a, HOSTALLOC_E_OUT_OF_MEMORY);
  block_t *b = &a->blocks[i];
  uint64_t gap = (align - (b->off & (align - 1))) & (align - 1);
  if (gap) {
    /* Split off the front gap as a free block. The block before a free block is
     * never free, so the gap needs no merging. */
    remove_free(a, i);
    uint32_t g = pool_take(a);
    b = &a->blocks[i];
    block_t *gb = &a->blocks[g];
    gb->off = b->off;
    gb->size = gap;
    gb->req = 0;
    gb->flags = 0;
    gb->prev_phys = b->prev_phys;
    gb->next_phys = i;
    if (b->prev_phys != NIL) a->blocks[b->prev_phys].next_phys = g;
    else a->first = g;
    b->prev_phys = g;
    b->off += gap;
    b->size -= gap;
    insert_free(a, g);
    insert_free(a, i);
  }
  use_block(a, i, bs, size);
  a->malloc_count++;
  a->last_error = HOSTALLOC_OK;
  return a->blocks[i].off;
}

uint64_t hostalloc_realloc(hostalloc_t *a, uint64_t ptr, uint64_t size) {
  if (ptr == 0) return hostalloc_malloc(a, size);
  uint32_t i = lookup_live(a, ptr, "realloc", NULL);
  if (i == NIL) {
    a->failed_count++;
    return 0;
  }
  if (size == 0) {
    free_block(a, i);
    a->free_count++;
    a->last_error = HOSTALLOC_OK;
    return 0;
  }
  uint64_t bs = adjust(a, size);
  if (!bs) return fail(a, HOSTALLOC_E_OUT_OF_MEMORY);
  if (!reserve(a, RESERVE)) return fail(a, HOSTALLOC_E_HOST_OOM);
  block_t *b = &a->blocks[i];
  uint64_t old = b->size;
  if (bs <= old) { /* shrink in place */
    a->requested = a->requested - b->req + size;
    b->req = size;
    split_tail(a, i, bs);
    a->in_use -= old - a->blocks[i].size;
    a->last_error = HOSTALLOC_OK;
    return ptr;
  }
  /* grow in place into the free successor, growing memory at the end of the heap */
  uint32_t n = b->next_phys;
  int n_free = n != NIL && (a->blocks[n].flags & F_FREE);
  int can = n_free && old + a->blocks[n].size >= bs;
  if (!can && (n == NIL || (n_free && n == a->last))) can = heap_extend(a, bs - old);
  if (can) {
    n = a->blocks[i].next_phys;
    remove_free(a, n);
    absorb_next(a, i, n);
    split_tail(a, i, bs);
    b = &a->blocks[i];
    a->requested = a->requested - b->req + size;
    b->req = size;
    a->in_use += b->size - old;
    if (a->in_use > a->peak) a->peak = a->in_use;
    a->last_error = HOSTALLOC_OK;
    return ptr;
  }
  /* move */
  uint32_t j = get_free(a, bs);
  if (j == NIL) return fail(a, HOSTALLOC_E_OUT_OF_MEMORY); /* block i untouched */
  use_block(a, j, bs, size);
  uint8_t *base = a->ops.base(a->ops.ctx);
  memcpy(base + a->blocks[j].off, base + ptr, (size_t)old);
  uint64_t np = a->blocks[j].off;
  free_block(a, i);
  a->malloc_count++;
  a->free_count++;
  a->last_error = HOSTALLOC_OK;
  return np;
}

uint64_t hostalloc_usable_size(hostalloc_t *a, uint64_t ptr) {
  if (ptr == 0) return 0;
  uint32_t i = lookup_live(a, ptr, "usable_size", NULL);
  if (i == NIL) return 0;
  a->last_error = HOSTALLOC_OK;
  return a->blocks[i].size;
}

int hostalloc_last_error(const hostalloc_t *a) { return a->last_error; }

void hostalloc_stats(const hostalloc_t *a, hostalloc_stats_t *out) {
  memset(out, 0, sizeof(*out));
  out->heap_start = a->heap_start;
  out->heap_end = a->heap_end;
  out->heap_size = a->heap_end - a->heap_start;
  out->in_use_bytes = a->in_use;
  out->peak_in_use_bytes = a->peak;
  out->requested_bytes = a->requested;
  out->free_bytes = out->heap_size - a->in_use;
  if (a->fl_bitmap) {
    int fl = fls64(a->fl_bitmap);
    int sl = fls64(a->sl_bitmap[fl]);
    for (uint32_t i = a->heads[fl][sl]; i != NIL; i = a->blocks[i].next_free)
      if (a->blocks[i].size > out->largest_free_block) out->largest_free_block = a->blocks[i].size;
  }
  out->used_blocks = a->n_blocks - a->n_free;
  out->free_blocks = a->n_free;
  out->grow_count = a->grow_count;
  out->grown_bytes = a->grown_bytes;
  out->malloc_count = a->malloc_count;
  out->free_count = a->free_count;
  out->failed_count = a->failed_count;
  out->error_count = a->error_count;
  out->inband_overhead_bytes = 0;
  out->host_metadata_bytes = sizeof(*a) + (uint64_t)a->blocks_cap * sizeof(block_t) +
                             a->slots_cap * sizeof(slot_t);
}

int hostalloc_check(const hostalloc_t *a) {
#define CHECK(c) \
  do {           \
    if (!(c)) return HOSTALLOC_E_CORRUPT; \
  } while (0)
  uint64_t pos = a->heap_start, used = 0, req = 0, nb = 0, nf = 0;
  uint32_t prev = NIL;
  for (uint32_t i = a->first; i != NIL; i = a->blocks[i].next_phys) {
    const block_t *b = &a->blocks[i];
    CHECK(i < a->blocks_used);
    CHECK(b->off == pos && b->size >= MIN_BLOCK && (b->size & (ALIGN - 1)) == 0);
    CHECK(b->prev_phys == prev);
    CHECK(hash_get(a, b->off) == ((b->flags & F_FREE) ? NIL : i));
    if (b->flags & F_FREE) {
      CHECK(prev == NIL || !(a->blocks[prev].flags & F_FREE));
      nf++;
    } else {
      used += b->size;
      req += b->req;
      CHECK(b->req <= b->size);
    }
    nb++;
    pos += b->size;
    prev = i;
    CHECK(nb <= a->blocks_used);
  }
  CHECK(prev == a->last);
  CHECK(pos == a->heap_end);
  CHECK(nb == a->n_blocks && nf == a->n_free && used == a->in_use && req == a->requested);
  CHECK(a->slots_count == nb - nf && a->in_use <= a->peak);
  uint64_t nf2 = 0;
  for (int fl = 0; fl < FL_COUNT; fl++) {
    CHECK(((a->fl_bitmap >> fl) & 1) == (a->sl_bitmap[fl] != 0));
    for (unsigned sl = 0; sl < SL_COUNT; sl++) {
      CHECK(((a->sl_bitmap[fl] >> sl) & 1) == (a->heads[fl][sl] != NIL));
      uint32_t p = NIL;
      for (uint32_t i = a->heads[fl][sl]; i != NIL; i = a->blocks[i].next_free) {
        const block_t *b = &a->blocks[i];
        int f, s;
        CHECK(b->flags & F_FREE);
        CHECK(b->prev_free == p);
        mapping_insert(b->size, &f, &s);
        CHECK(f == fl && (unsigned)s == sl);
        p = i;
        nf2++;
        CHECK(nf2 <= nf);
      }
    }
  }
  CHECK(nf2 == nf);
  return HOSTALLOC_OK;
#undef CHECK
}
