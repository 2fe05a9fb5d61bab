//! Allocation helpers for the large arrays of the index.
//!
//! Queries touch ~1 500 random cache lines spread over a gigabyte at 10 M hashes; with
//! 4 KiB pages nearly each of them also needs a page walk. Asking Linux for transparent
//! huge pages (`MADV_HUGEPAGE`) on the big arrays removes most TLB misses (measured: see
//! the crate docs). Elsewhere this is a no-op.

use crate::snapshot::Plain;

/// Arrays smaller than this keep normal pages.
const HUGE_MIN: usize = 4 << 20;

/// A vector of `n` zero values from `alloc_zeroed` (pages are touched once, by whoever
/// fills them), advised to use huge pages when large.
pub(crate) fn zeroed_vec<T: Plain>(n: usize) -> Vec<T> {
    let layout = match std::alloc::Layout::array::<T>(n) {
        Ok(l) if l.size() > 0 => l,
        _ => return Vec::new(),
    };
    // SAFETY: the layout has a non-zero size; the memory is zeroed, and the all-zero bit
    // pattern is a valid `T` (`Plain`); capacity and length equal the allocated count and
    // the allocation uses the global allocator with `T`'s layout, as `Vec` requires.
    let mut v = unsafe {
        let p = std::alloc::alloc_zeroed(layout) as *mut T;
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Vec::from_raw_parts(p, n, n)
    };
    advise_huge(&mut v);
    v
}

/// Advises the kernel to back the (page-aligned interior of the) slice with huge pages.
pub(crate) fn advise_huge<T>(s: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        let len = std::mem::size_of_val(s);
        if len < HUGE_MIN {
            return;
        }
        const PAGE: usize = 2 << 20;
        let start = s.as_mut_ptr() as usize;
        let a = start.next_multiple_of(PAGE);
        let b = (start + len) / PAGE * PAGE;
        if b > a {
            // SAFETY: madvise with MADV_HUGEPAGE only changes the paging policy of memory
            // this process owns (inside the slice); it never changes its contents.
            unsafe {
                libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (s, HUGE_MIN);
    }
}
