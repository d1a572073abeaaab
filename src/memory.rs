//! Giving memory back to the operating system after a large buffer is freed.
//!
//! mimalloc (the global allocator of the `rendez` binary) keeps freed memory of a thread's
//! heap, and of its arenas, committed until the thread allocates again after a delay: an idle
//! worker that has just dropped a large request body, or a blocking thread that has just run
//! Argon2id (19 MiB), would otherwise keep it resident. `mi_collect(true)` frees the calling
//! thread's empty pages and purges the arenas at once. It is declared here rather than through
//! `libmimalloc-sys`'s `extended` feature, which would add a crate for one function; the symbol
//! is in the mimalloc library that crate already links.

// Loads the crate (and the C library it links) into every binary of the crate, tests too.
extern crate mimalloc;

unsafe extern "C" {
    fn mi_collect(force: bool);
}

/// Returns the calling thread's free memory (and the arenas') to the operating system. Costs
/// a walk of the thread's heap: call it after freeing something large, not per request.
pub fn give_back() {
    // SAFETY: mi_collect takes no pointers and may be called from any thread at any time; on a
    // thread whose allocations went elsewhere (tests use the system allocator) it finds nothing.
    unsafe { mi_collect(true) }
}
