//! A small in-memory cache with time-to-live, reading time from the injected [`Clock`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::clock::Clock;

/// Entries expire `ttl` after insertion; at `capacity` expired entries are dropped first, then
/// the entries closest to expiry.
pub(crate) struct TtlCache<K, V> {
    map: Mutex<HashMap<K, (DateTime<Utc>, V)>>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            clock,
        }
    }

    /// A live entry.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let now = self.clock.now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((expires, v)) if *expires > now => Some(v.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn insert(&self, key: K, value: V, ttl: chrono::Duration) {
        if ttl <= chrono::Duration::zero() {
            return;
        }
        let now = self.clock.now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.retain(|_, (exp, _)| *exp > now);
            if map.len() >= self.capacity {
                // Drop the tenth closest to expiry.
                let mut exp: Vec<(DateTime<Utc>, K)> =
                    map.iter().map(|(k, (e, _))| (*e, k.clone())).collect();
                exp.sort_by_key(|(e, _)| *e);
                for (_, k) in exp.into_iter().take(self.capacity.div_ceil(10)) {
                    map.remove(&k);
                }
            }
        }
        map.insert(key, (now + ttl, value));
    }

    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub(crate) fn clear(&self) {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::Duration;

    #[test]
    fn expiry_and_capacity() {
        let clock = ManualClock::new(DateTime::from_timestamp(0, 0).expect("t"));
        let c: TtlCache<u32, &str> = TtlCache::new(3, Arc::new(clock.clone()));
        c.insert(1, "a", Duration::minutes(10));
        c.insert(2, "b", Duration::minutes(5));
        clock.advance(Duration::minutes(6));
        assert_eq!(c.get(&1), Some("a"));
        assert_eq!(c.get(&2), None, "expired");
        c.insert(2, "b", Duration::minutes(20));
        c.insert(3, "c", Duration::minutes(30));
        c.insert(4, "d", Duration::minutes(40));
        assert!(c.len() <= 3);
        assert_eq!(c.get(&1), None, "closest to expiry evicted");
        assert_eq!(c.get(&4), Some("d"));
    }
}
