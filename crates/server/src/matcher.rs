//! The in-memory matcher: per tenant, every active entry of every list, ready to answer checks
//! in microseconds.
//!
//! **How it follows list changes.** A tenant's matcher is an immutable [`TenantMatcher`] behind
//! an `ArcSwap`. A change (import, revocation, new list, new settings) bumps the tenant's
//! `list_version` in the database; [`Matchers::refresh`] then reads a consistent snapshot (one
//! read transaction), builds a *new* matcher aside (in the blocking pool), and swaps the
//! pointer. Checks load the pointer without any lock, so they never wait for a rebuild, and each
//! check sees exactly one list version: no torn results mid-import. The price is a full rebuild
//! per change (about a second per million entries), which is fine because list changes are
//! rare next to checks; incremental add/remove under a lock would make checks wait instead.
//! Changes made through this node's API are applied before the API call returns; changes made
//! elsewhere (`schoon admin` on the same database, other nodes) are picked up by a poll of the
//! versions every `matcher.poll_interval_ms` (the staleness bound).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use index::{Md5Set, PdqIndex, Sha1Set, Sha256Set};
use pdq::Hash256;
use schoon_core::{Category, EntryId, HashList, ListId, ListKind, SignalValue, TenantId, policy};
use store::{Snapshot, Store, StoreResult};
use tokio::sync::Mutex;

/// A list as the matcher needs it.
#[derive(Debug, Clone)]
pub struct ListInfo {
    /// Id.
    pub id: ListId,
    /// Name.
    pub name: Arc<str>,
    /// Known or allow.
    pub kind: ListKind,
    /// PDQ radius.
    pub pdq_radius: u32,
    /// Minimum PDQ quality.
    pub min_quality: u32,
}

/// One entry's metadata, by position.
#[derive(Debug, Clone, Copy)]
struct EntryMeta {
    id: EntryId,
    list: u32,
    category: Category,
}

/// One matching entry.
#[derive(Debug, Clone)]
pub struct MatchRef {
    /// Entry id.
    pub entry_id: EntryId,
    /// The entry's list.
    pub list: ListInfo,
    /// Entry category.
    pub category: Category,
    /// Hamming distance (0 for exact).
    pub distance: u32,
}

/// What one checked signal matched.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Matches on `known` lists.
    pub known: Vec<MatchRef>,
    /// Matches on `allow` lists (any of them suppresses the hits).
    pub allow: Vec<MatchRef>,
    /// Lists skipped because the caller's PDQ quality is below their minimum.
    pub below_quality: Vec<ListInfo>,
}

impl Outcome {
    /// Whether an allow-list entry suppresses the known matches.
    pub fn suppressed(&self) -> bool {
        !self.allow.is_empty()
    }
}

/// All active entries of one tenant, as of one list version. Immutable once built.
pub struct TenantMatcher {
    /// The tenant's list version this was built from.
    pub version: i64,
    lists: Vec<ListInfo>,
    entries: Vec<EntryMeta>,
    md5: Md5Set,
    sha1: Sha1Set,
    sha256: Sha256Set,
    pdq: PdqIndex,
    max_radius: u32,
}

impl TenantMatcher {
    /// An empty matcher (no lists).
    pub fn empty() -> TenantMatcher {
        TenantMatcher {
            version: -1,
            lists: Vec::new(),
            entries: Vec::new(),
            md5: Md5Set::new(),
            sha1: Sha1Set::new(),
            sha256: Sha256Set::new(),
            pdq: PdqIndex::new(),
            max_radius: 0,
        }
    }

    /// Builds from a snapshot (CPU work: run it in the blocking pool).
    pub fn build(snap: Snapshot) -> Result<TenantMatcher, index::IndexError> {
        let lists: Vec<ListInfo> = snap.lists.iter().map(list_info).collect();
        let list_pos: HashMap<ListId, u32> = lists
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id, i as u32))
            .collect();
        let max_radius = lists.iter().map(|l| l.pdq_radius).max().unwrap_or(0);
        let mut entries = Vec::with_capacity(snap.entries.len());
        let (mut md5, mut sha1, mut sha256, mut pdq_entries) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for e in &snap.entries {
            let Some(&list) = list_pos.get(&e.list_id) else {
                continue;
            };
            let pos = entries.len() as u32;
            entries.push(EntryMeta {
                id: e.id,
                list,
                category: e.category,
            });
            match e.value {
                SignalValue::Pdq(bytes) => pdq_entries.push((pos, Hash256::from_bytes(bytes))),
                SignalValue::Md5(b) => md5.push((b, pos)),
                SignalValue::Sha1(b) => sha1.push((b, pos)),
                SignalValue::Sha256(b) => sha256.push((b, pos)),
            }
        }
        let pdq = PdqIndex::build(pdq_entries)?;
        let (md5, sha1, sha256) = (
            Md5Set::build(md5),
            Sha1Set::build(sha1),
            Sha256Set::build(sha256),
        );
        Ok(TenantMatcher {
            version: snap.version,
            lists,
            entries,
            md5,
            sha1,
            sha256,
            pdq,
            max_radius,
        })
    }

    /// Number of active entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The tenant's lists.
    pub fn lists(&self) -> &[ListInfo] {
        &self.lists
    }

    fn match_ref(&self, pos: u32, distance: u32) -> Option<(MatchRef, &ListInfo)> {
        let m = self.entries.get(pos as usize)?;
        let list = self.lists.get(m.list as usize)?;
        Some((
            MatchRef {
                entry_id: m.id,
                list: list.clone(),
                category: m.category,
                distance,
            },
            list,
        ))
    }

    /// Matches one signal. `quality` is the caller's PDQ quality, if known.
    pub fn check(&self, value: &SignalValue, quality: Option<u32>) -> Outcome {
        let mut out = Outcome::default();
        let mut push = |r: MatchRef| match r.list.kind {
            ListKind::Known => out.known.push(r),
            ListKind::Allow => out.allow.push(r),
        };
        match value {
            SignalValue::Pdq(bytes) => {
                if self.pdq.is_empty() {
                    return out;
                }
                let q = Hash256::from_bytes(*bytes);
                let mut skipped = vec![false; self.lists.len()];
                for m in self.pdq.query(&q, self.max_radius) {
                    let Some((r, list)) = self.match_ref(m.id, m.distance) else {
                        continue;
                    };
                    if m.distance > list.pdq_radius {
                        continue;
                    }
                    if !policy::quality_allows(quality, list.min_quality) {
                        if let Some(s) = skipped.get_mut(r.list_index(&self.lists)) {
                            *s = true;
                        }
                        continue;
                    }
                    push(r);
                }
                out.below_quality = self
                    .lists
                    .iter()
                    .zip(&skipped)
                    .filter(|(_, s)| **s)
                    .map(|(l, _)| l.clone())
                    .collect();
            }
            exact => {
                let positions = match exact {
                    SignalValue::Md5(b) => self.md5.lookup(b),
                    SignalValue::Sha1(b) => self.sha1.lookup(b),
                    SignalValue::Sha256(b) => self.sha256.lookup(b),
                    SignalValue::Pdq(_) => Vec::new(),
                };
                for pos in positions {
                    if let Some((r, _)) = self.match_ref(pos, 0) {
                        push(r);
                    }
                }
            }
        }
        out
    }
}

impl MatchRef {
    fn list_index(&self, lists: &[ListInfo]) -> usize {
        lists
            .iter()
            .position(|l| l.id == self.list.id)
            .unwrap_or(usize::MAX)
    }
}

fn list_info(l: &HashList) -> ListInfo {
    ListInfo {
        id: l.id,
        name: Arc::from(l.name.as_str()),
        kind: l.kind,
        pdq_radius: l.pdq_radius,
        min_quality: l.min_quality,
    }
}

struct Slot {
    current: ArcSwap<TenantMatcher>,
    rebuild: Mutex<()>,
}

/// The matchers of all tenants.
pub struct Matchers {
    store: Arc<dyn Store>,
    slots: RwLock<HashMap<TenantId, Arc<Slot>>>,
}

impl Matchers {
    /// No tenant loaded yet.
    pub fn new(store: Arc<dyn Store>) -> Matchers {
        Matchers {
            store,
            slots: RwLock::new(HashMap::new()),
        }
    }

    fn slot(&self, tenant: TenantId) -> Arc<Slot> {
        if let Some(s) = self.slots.read().ok().and_then(|m| m.get(&tenant).cloned()) {
            return s;
        }
        let mut map = match self.slots.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(tenant)
            .or_insert_with(|| {
                Arc::new(Slot {
                    current: ArcSwap::from_pointee(TenantMatcher::empty()),
                    rebuild: Mutex::new(()),
                })
            })
            .clone()
    }

    /// The tenant's current matcher (lock-free). Loads it first if this tenant was never
    /// loaded on this node.
    pub async fn get(&self, tenant: TenantId) -> StoreResult<Arc<TenantMatcher>> {
        let slot = self.slot(tenant);
        let m = slot.current.load_full();
        if m.version >= 0 {
            return Ok(m);
        }
        self.refresh(tenant).await?;
        Ok(slot.current.load_full())
    }

    /// Brings the tenant's matcher up to the database's list version (no-op when current).
    /// Concurrent calls coalesce: one rebuild runs, the others wait for it and find it current.
    pub async fn refresh(&self, tenant: TenantId) -> StoreResult<()> {
        let slot = self.slot(tenant);
        let _guard = slot.rebuild.lock().await;
        let loaded = slot.current.load().version;
        let current = self
            .store
            .tenant(tenant)
            .await?
            .map(|t| t.list_version)
            .unwrap_or(-1);
        if current == loaded && loaded >= 0 {
            return Ok(());
        }
        let snap = self.store.snapshot(tenant).await?;
        let started = std::time::Instant::now();
        let built = tokio::task::spawn_blocking(move || TenantMatcher::build(snap))
            .await
            .map_err(|e| store::StoreError::Invalid(format!("matcher build task failed: {e}")))?
            .map_err(|e| store::StoreError::Corrupt(format!("matcher build: {e}")))?;
        tracing::info!(
            tenant,
            version = built.version,
            entries = built.len(),
            ms = started.elapsed().as_millis() as u64,
            "matcher rebuilt"
        );
        slot.current.store(Arc::new(built));
        Ok(())
    }

    /// Refreshes every tenant whose database version differs from the loaded one.
    pub async fn refresh_changed(&self) -> StoreResult<()> {
        for (tenant, version) in self.store.list_versions().await? {
            let loaded = self.slot(tenant).current.load().version;
            if loaded != version {
                self.refresh(tenant).await?;
            }
        }
        Ok(())
    }

    /// Total entries loaded across tenants (for metrics).
    pub fn total_entries(&self) -> usize {
        self.slots
            .read()
            .map(|m| m.values().map(|s| s.current.load().len()).sum())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use schoon_core::ActiveEntry;

    fn list(id: ListId, kind: ListKind, radius: u32, q: u32) -> HashList {
        HashList {
            id,
            tenant_id: 1,
            name: format!("l{id}"),
            kind,
            pdq_radius: radius,
            min_quality: q,
            created_at: Utc::now(),
        }
    }

    fn pdq_with_bits(n: usize) -> SignalValue {
        let mut b = [0u8; 32];
        for i in 0..n {
            b[i / 8] |= 1 << (i % 8);
        }
        SignalValue::Pdq(b)
    }

    #[test]
    fn per_list_radius_quality_allow_and_exact_chains() {
        let md5 = SignalValue::Md5([7; 16]);
        let snap = Snapshot {
            version: 3,
            lists: vec![
                list(1, ListKind::Known, 31, 50),
                list(2, ListKind::Known, 10, 80),
                list(3, ListKind::Allow, 0, 0),
            ],
            entries: vec![
                ActiveEntry {
                    id: 10,
                    list_id: 1,
                    value: pdq_with_bits(0),
                    category: Category::Baseline,
                },
                ActiveEntry {
                    id: 11,
                    list_id: 2,
                    value: pdq_with_bits(0),
                    category: Category::National,
                },
                ActiveEntry {
                    id: 12,
                    list_id: 1,
                    value: md5,
                    category: Category::Baseline,
                },
                ActiveEntry {
                    id: 13,
                    list_id: 3,
                    value: md5,
                    category: Category::Baseline,
                },
            ],
        };
        let m = TenantMatcher::build(snap).unwrap();
        assert_eq!(m.version, 3);
        // distance 20: inside list 1's radius, outside list 2's
        let o = m.check(&pdq_with_bits(20), None);
        assert_eq!(o.known.iter().map(|r| r.entry_id).collect::<Vec<_>>(), [10]);
        assert_eq!(o.known[0].distance, 20);
        // distance 5, quality 60: list 2 skipped for quality and flagged
        let o = m.check(&pdq_with_bits(5), Some(60));
        assert_eq!(o.known.len(), 1);
        assert_eq!(o.below_quality.len(), 1);
        assert_eq!(o.below_quality[0].id, 2);
        // exact value on a known and an allow list: suppressed
        let o = m.check(&md5, None);
        assert_eq!(o.known.len(), 1);
        assert_eq!(o.allow.len(), 1);
        assert!(o.suppressed());
        assert!(m.check(&SignalValue::Md5([8; 16]), None).known.is_empty());
    }
}
