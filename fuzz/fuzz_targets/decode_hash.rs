//! Decode + RGB conversion + PDQ (with dihedral variants) + digests on arbitrary bytes,
//! under the default limits a service uses. Any panic, overflow, OOM (above
//! `-rss_limit_mb`) or slow unit (above `-timeout`) is a finding.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use media::{Limits, MediaError, MediaHasher};

thread_local! {
    // Reused like a service worker reuses it, so buffer-reuse bugs show up too.
    static HASHER: RefCell<MediaHasher> = RefCell::new(MediaHasher::new(Limits::default()));
}

fuzz_target!(|data: &[u8]| {
    HASHER.with(|h| {
        let mut h = h.borrow_mut();
        match h.hash_bytes(data, true) {
            Ok(out) => {
                // Invariants that must hold for anything that decodes.
                assert!(out.width > 0 && out.height > 0);
                assert!(u64::from(out.width) * u64::from(out.height) <= Limits::DEFAULT_MAX_PIXELS);
                assert!(out.quality <= 100);
                assert_eq!(out.dihedral.map(|d| d[0]), Some(out.pdq));
                assert_eq!(out.digests.size, data.len() as u64);
            }
            Err(e) => {
                // Every error renders and has a kind.
                let _ = e.to_string();
                assert!(!e.kind().is_empty());
                assert!(
                    !matches!(e, MediaError::Io(_)),
                    "no I/O on a byte slice: {e}"
                );
            }
        }
    });
});
