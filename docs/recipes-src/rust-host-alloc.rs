//! A Rust plugin built directly against the wasm-hostalloc ABI (docs/abi.md): a `#[global_allocator]`
//! over the host imports, so Rust's own dlmalloc is never linked. Recipe of docs/faq.md and
//! docs/toolchains.md.
//!
//!   /usr/bin/rustc --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib -O \
//!     -C strip=debuginfo rust-host-alloc.rs -o rust-host-alloc.raw.wasm
//!   npx wasm-hostalloc transform rust-host-alloc.raw.wasm -o rust-host-alloc.wasm   # status: adopted
//!
//! rustc exports `memory`, `__heap_base` and `__data_end` by default (stack-first layout).

use std::alloc::{GlobalAlloc, Layout};

#[link(wasm_import_module = "env")]
extern "C" {
    fn host_malloc(size: usize) -> *mut u8;
    fn host_free(ptr: *mut u8);
    fn host_calloc(count: usize, size: usize) -> *mut u8;
    fn host_realloc(ptr: *mut u8, size: usize) -> *mut u8;
    fn host_aligned_alloc(align: usize, size: usize) -> *mut u8;
}

/// Every block the host returns is 16-aligned (docs/abi.md); larger alignments go through
/// host_aligned_alloc.
const HOST_ALIGN: usize = 16;

struct HostAlloc;

unsafe impl GlobalAlloc for HostAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= HOST_ALIGN {
            host_malloc(layout.size())
        } else {
            host_aligned_alloc(layout.align(), layout.size())
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= HOST_ALIGN {
            return host_calloc(1, layout.size());
        }
        let p = host_aligned_alloc(layout.align(), layout.size());
        if !p.is_null() {
            std::ptr::write_bytes(p, 0, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        host_free(ptr)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= HOST_ALIGN {
            return host_realloc(ptr, new_size);
        }
        // host_realloc only promises 16-byte alignment: move over-aligned blocks by hand.
        let new = host_aligned_alloc(layout.align(), new_size);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            host_free(ptr);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: HostAlloc = HostAlloc;

/// Returns a new NUL-terminated string "hello, <name>" built from `len` bytes at `name`.
/// The host frees it with host_free (the same allocator serves both sides).
#[no_mangle]
pub unsafe extern "C" fn greet(name: *const u8, len: usize) -> *mut u8 {
    let name = std::slice::from_raw_parts(name, len);
    let mut s = b"hello, ".to_vec();
    s.extend_from_slice(name);
    s.push(0);
    let out = s.into_boxed_slice();
    Box::into_raw(out) as *mut u8
}

/// Takes ownership of a host-allocated buffer of `len` bytes: sums them, then frees it.
#[no_mangle]
pub unsafe extern "C" fn consume(buf: *mut u8, len: usize) -> u32 {
    let v = Vec::from_raw_parts(buf, len, len);
    let mut words: Vec<String> = Vec::new();
    for chunk in v.chunks(4) {
        words.push(format!("{:?}", chunk));
    }
    v.iter().fold(words.len() as u32, |h, &b| h.wrapping_mul(31).wrapping_add(b as u32))
}
