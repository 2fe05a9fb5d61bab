//! A warmed-up `Hasher` hashes without allocating (it reuses its scratch buffers), so a service
//! hashing many images does not churn the allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn no_allocation_after_warm_up() {
    let sizes = [(640, 480), (333, 517), (64, 64), (5, 300), (1000, 77)];
    let images: Vec<Vec<u8>> = sizes
        .iter()
        .map(|&(w, h)| {
            (0..w * h * 3)
                .map(|i| ((i * 2_654_435_761usize) >> 13) as u8)
                .collect()
        })
        .collect();
    for backend in [pdq::Backend::Auto, pdq::Backend::Portable] {
        let mut hasher = pdq::Hasher::with_backend(backend);
        // warm-up on the largest extents
        for (img, &(w, h)) in images.iter().zip(&sizes) {
            hasher.dihedral_rgb8(img, w, h).expect("hash");
        }
        let before = ALLOCS.load(Ordering::Relaxed);
        for _ in 0..3 {
            for (img, &(w, h)) in images.iter().zip(&sizes) {
                hasher.hash_rgb8(img, w, h).expect("hash");
                hasher.dihedral_rgb8(img, w, h).expect("hash");
                hasher.float_rgb8(img, w, h).expect("hash");
            }
        }
        assert_eq!(ALLOCS.load(Ordering::Relaxed) - before, 0, "{backend:?}");
    }
}
