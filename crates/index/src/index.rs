//! [`Index`]: everything `schoon index build` writes and `schoon match` loads — the PDQ
//! index, the three digest sets and a small metadata table saying which list (and
//! category, source, date) each entry came from.

use std::collections::HashMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use pdq::Hash256;

use crate::bits::Bitset;
use crate::digest::{Md5Set, Sha1Set, Sha256Set};
use crate::error::{IndexError, SnapshotError};
use crate::lists::{ListEntry, ListError, ListErrorKind, ListReader, Signal, SignalKind};
use crate::pdq_index::PdqIndex;
use crate::snapshot::{Kind, SNAPSHOT_VERSION, SnapReader, SnapWriter, open_file, write_atomic};

/// Entry id: dense, assigned in the order entries are added, stable across save/load.
pub type EntryId = u32;

const NONE: u32 = u32::MAX;

/// An exact digest to look up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Digest {
    /// MD5.
    Md5([u8; 16]),
    /// SHA-1.
    Sha1([u8; 20]),
    /// SHA-256.
    Sha256([u8; 32]),
}

/// A PDQ match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdqHit {
    /// The matching entry.
    pub entry: EntryId,
    /// Hamming distance.
    pub distance: u32,
}

/// A PDQ match from an 8-variant query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DihedralHit {
    /// The matching entry.
    pub entry: EntryId,
    /// Smallest distance over the variants.
    pub distance: u32,
    /// Variant (0..8) that reached it.
    pub variant: u8,
}

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryInfo<'a> {
    /// The entry id.
    pub id: EntryId,
    /// Name of the list it came from.
    pub list: &'a str,
    /// Signal type.
    pub kind: SignalKind,
    /// Category from the list.
    pub category: Option<&'a str>,
    /// Source from the list.
    pub source: Option<&'a str>,
    /// Date added, verbatim.
    pub added_at: Option<&'a str>,
}

/// Counts for one list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListInfo {
    /// List name.
    pub name: String,
    /// Live entries per type (md5, sha1, sha256, pdq).
    pub md5: usize,
    /// SHA-1 entries.
    pub sha1: usize,
    /// SHA-256 entries.
    pub sha256: usize,
    /// PDQ entries.
    pub pdq: usize,
    /// PhotoDNA records seen and skipped (unsupported for matching).
    pub photodna_skipped: u64,
}

/// Summary of an index (`schoon index info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexInfo {
    /// Snapshot format version.
    pub version: u32,
    /// Build time, seconds since the Unix epoch.
    pub built_at: u64,
    /// Live entries of all types.
    pub entries: usize,
    /// Live MD5 entries.
    pub md5: usize,
    /// Live SHA-1 entries.
    pub sha1: usize,
    /// Live SHA-256 entries.
    pub sha256: usize,
    /// Live PDQ entries.
    pub pdq: usize,
    /// PhotoDNA records skipped.
    pub photodna_skipped: u64,
    /// Per list.
    pub lists: Vec<ListInfo>,
    /// Bytes held in memory.
    pub memory_bytes: usize,
}

#[derive(Clone, Debug, Default)]
struct Strings {
    items: Vec<String>,
    map: HashMap<String, u32>,
}

impl Strings {
    fn intern(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = s else { return NONE };
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.items.len() as u32;
        self.items.push(s.to_string());
        self.map.insert(s.to_string(), i);
        i
    }
    fn get(&self, i: u32) -> Option<&str> {
        self.items.get(i as usize).map(String::as_str)
    }
}

fn kind_code(k: SignalKind) -> u8 {
    match k {
        SignalKind::Md5 => 0,
        SignalKind::Sha1 => 1,
        SignalKind::Sha256 => 2,
        SignalKind::Pdq => 3,
        SignalKind::PhotoDna => 4,
    }
}

fn kind_from(c: u8) -> Option<SignalKind> {
    Some(match c {
        0 => SignalKind::Md5,
        1 => SignalKind::Sha1,
        2 => SignalKind::Sha256,
        3 => SignalKind::Pdq,
        _ => return None,
    })
}

/// Outcome of [`IndexBuilder::import`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Entries added.
    pub added: u64,
    /// PhotoDNA records skipped.
    pub photodna_skipped: u64,
    /// Bad lines skipped (only with `skip_bad`).
    pub bad: Vec<ListError>,
}

/// Why an import was aborted (nothing of that list was kept).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// A bad line (all-or-nothing mode) or a read error.
    #[error(transparent)]
    Line(#[from] ListError),
    /// The index is full.
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Collects entries, then builds all structures in bulk (much faster than adding one by
/// one to a built index).
#[derive(Debug, Default)]
pub struct IndexBuilder {
    lists: Strings,
    strings: Strings,
    e_list: Vec<u32>,
    e_cat: Vec<u32>,
    e_src: Vec<u32>,
    e_add: Vec<u32>,
    e_kind: Vec<u8>,
    photodna: Vec<u64>,
    pdq: Vec<(u32, Hash256)>,
    md5: Vec<([u8; 16], u32)>,
    sha1: Vec<([u8; 20], u32)>,
    sha256: Vec<([u8; 32], u32)>,
}

impl IndexBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    fn list_id(&mut self, list: &str) -> u32 {
        let id = self.lists.intern(Some(list));
        if self.photodna.len() <= id as usize {
            self.photodna.resize(id as usize + 1, 0);
        }
        id
    }

    /// Declares a list (so it shows in `info` even when empty).
    pub fn add_list(&mut self, list: &str) {
        self.list_id(list);
    }

    /// Adds one entry of `list`. Returns its id, or `None` for PhotoDNA (counted, skipped).
    pub fn add(&mut self, list: &str, e: &ListEntry) -> Result<Option<EntryId>, IndexError> {
        let l = self.list_id(list);
        if let Signal::PhotoDna(_) = e.signal {
            self.photodna[l as usize] += 1;
            return Ok(None);
        }
        if self.e_list.len() >= NONE as usize {
            return Err(IndexError::Full);
        }
        let id = self.e_list.len() as u32;
        self.e_list.push(l);
        self.e_cat.push(self.strings.intern(e.category.as_deref()));
        self.e_src.push(self.strings.intern(e.source.as_deref()));
        self.e_add.push(self.strings.intern(e.added_at.as_deref()));
        self.e_kind.push(kind_code(e.signal.kind()));
        match &e.signal {
            Signal::Md5(d) => self.md5.push((*d, id)),
            Signal::Sha1(d) => self.sha1.push((*d, id)),
            Signal::Sha256(d) => self.sha256.push((*d, id)),
            Signal::Pdq(h) => self.pdq.push((id, *h)),
            Signal::PhotoDna(_) => {}
        }
        Ok(Some(id))
    }

    /// Imports a whole list. With `skip_bad == false` the first bad line aborts the import
    /// and everything this call added is rolled back (the builder is as before); with
    /// `skip_bad == true` bad lines are collected in the report and skipped.
    pub fn import(
        &mut self,
        list: &str,
        reader: ListReader<'_>,
        skip_bad: bool,
    ) -> Result<ImportReport, ImportError> {
        self.add_list(list);
        let l = self.list_id(list) as usize;
        let mark = (
            self.e_list.len(),
            self.pdq.len(),
            self.md5.len(),
            self.sha1.len(),
            self.sha256.len(),
            self.photodna[l],
        );
        let mut report = ImportReport::default();
        for item in reader {
            let res = match item {
                Ok(e) => match self.add(list, &e) {
                    Ok(Some(_)) => {
                        report.added += 1;
                        Ok(())
                    }
                    Ok(None) => {
                        report.photodna_skipped += 1;
                        Ok(())
                    }
                    Err(e) => Err(ImportError::Index(e)),
                },
                Err(bad) if skip_bad && !matches!(bad.kind, ListErrorKind::Io(_)) => {
                    report.bad.push(bad);
                    Ok(())
                }
                Err(bad) => Err(ImportError::Line(bad)),
            };
            if let Err(e) = res {
                self.e_list.truncate(mark.0);
                self.e_cat.truncate(mark.0);
                self.e_src.truncate(mark.0);
                self.e_add.truncate(mark.0);
                self.e_kind.truncate(mark.0);
                self.pdq.truncate(mark.1);
                self.md5.truncate(mark.2);
                self.sha1.truncate(mark.3);
                self.sha256.truncate(mark.4);
                self.photodna[l] = mark.5;
                return Err(e);
            }
        }
        Ok(report)
    }

    /// Builds the index.
    pub fn finish(self) -> Result<Index, IndexError> {
        let pdq = PdqIndex::build(self.pdq)?;
        Ok(Index {
            built_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            lists: self.lists,
            strings: self.strings,
            e_list: self.e_list,
            e_cat: self.e_cat,
            e_src: self.e_src,
            e_add: self.e_add,
            e_kind: self.e_kind,
            removed: Bitset::default(),
            photodna: self.photodna,
            pdq,
            md5: Md5Set::build(self.md5),
            sha1: Sha1Set::build(self.sha1),
            sha256: Sha256Set::build(self.sha256),
        })
    }
}

/// All lists of one deployment, ready to match.
#[derive(Clone, Debug)]
pub struct Index {
    built_at: u64,
    lists: Strings,
    strings: Strings,
    e_list: Vec<u32>,
    e_cat: Vec<u32>,
    e_src: Vec<u32>,
    e_add: Vec<u32>,
    e_kind: Vec<u8>,
    removed: Bitset,
    photodna: Vec<u64>,
    pdq: PdqIndex,
    md5: Md5Set,
    sha1: Sha1Set,
    sha256: Sha256Set,
}

impl Default for Index {
    fn default() -> Self {
        Self::new()
    }
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        // An empty builder cannot fail.
        IndexBuilder::new()
            .finish()
            .unwrap_or_else(|_| unreachable!("empty build"))
    }

    /// Builds an index from `(list name, entry)` pairs. PhotoDNA entries are counted per
    /// list and skipped.
    pub fn build<I, L>(entries: I) -> Result<Index, IndexError>
    where
        I: IntoIterator<Item = (L, ListEntry)>,
        L: AsRef<str>,
    {
        let mut b = IndexBuilder::new();
        for (l, e) in entries {
            b.add(l.as_ref(), &e)?;
        }
        b.finish()
    }

    /// Adds one entry to a built index (incremental; PhotoDNA returns `None`).
    pub fn add(&mut self, list: &str, e: &ListEntry) -> Result<Option<EntryId>, IndexError> {
        let l = self.lists.intern(Some(list));
        if self.photodna.len() <= l as usize {
            self.photodna.resize(l as usize + 1, 0);
        }
        if let Signal::PhotoDna(_) = e.signal {
            self.photodna[l as usize] += 1;
            return Ok(None);
        }
        if self.e_list.len() >= NONE as usize {
            return Err(IndexError::Full);
        }
        let id = self.e_list.len() as u32;
        if let Signal::Pdq(h) = &e.signal {
            self.pdq.insert(id, h)?;
        }
        match &e.signal {
            Signal::Md5(d) => {
                self.md5.insert(*d, id);
            }
            Signal::Sha1(d) => {
                self.sha1.insert(*d, id);
            }
            Signal::Sha256(d) => {
                self.sha256.insert(*d, id);
            }
            Signal::Pdq(_) | Signal::PhotoDna(_) => {}
        }
        self.e_list.push(l);
        self.e_cat.push(self.strings.intern(e.category.as_deref()));
        self.e_src.push(self.strings.intern(e.source.as_deref()));
        self.e_add.push(self.strings.intern(e.added_at.as_deref()));
        self.e_kind.push(kind_code(e.signal.kind()));
        Ok(Some(id))
    }

    /// Revokes an entry: it is never matched again. Returns whether it was live.
    pub fn remove(&mut self, id: EntryId) -> bool {
        if id as usize >= self.e_list.len() || !self.removed.set(id as usize) {
            return false;
        }
        if kind_from(self.e_kind[id as usize]) == Some(SignalKind::Pdq) {
            self.pdq.remove(id);
        }
        true
    }

    fn live(&self, id: EntryId) -> bool {
        (id as usize) < self.e_list.len() && !self.removed.get(id as usize)
    }

    /// Describes an entry (also a removed one, so that old hits stay explainable).
    pub fn entry(&self, id: EntryId) -> Option<EntryInfo<'_>> {
        let i = id as usize;
        Some(EntryInfo {
            id,
            list: self.lists.get(*self.e_list.get(i)?)?,
            kind: kind_from(*self.e_kind.get(i)?)?,
            category: self.strings.get(self.e_cat[i]),
            source: self.strings.get(self.e_src[i]),
            added_at: self.strings.get(self.e_add[i]),
        })
    }

    /// Whether the entry was removed.
    pub fn is_removed(&self, id: EntryId) -> bool {
        self.removed.get(id as usize)
    }

    /// The PDQ hash of a live PDQ entry.
    pub fn pdq_hash(&self, id: EntryId) -> Option<Hash256> {
        self.pdq.get(id)
    }

    /// PDQ entries within `radius` of `hash`, closest first.
    pub fn match_pdq(&self, hash: &Hash256, radius: u32) -> Vec<PdqHit> {
        self.pdq
            .query(hash, radius)
            .into_iter()
            .map(|m| PdqHit {
                entry: m.id,
                distance: m.distance,
            })
            .collect()
    }

    /// PDQ entries within `radius` of any of the 8 dihedral variants, closest first.
    pub fn match_pdq_dihedral(&self, variants: &[Hash256; 8], radius: u32) -> Vec<DihedralHit> {
        self.pdq
            .query_dihedral(variants, radius)
            .into_iter()
            .map(|m| DihedralHit {
                entry: m.id,
                distance: m.distance,
                variant: m.variant,
            })
            .collect()
    }

    /// Entries with exactly this digest.
    pub fn match_digest(&self, d: &Digest) -> Vec<EntryId> {
        let mut v = match d {
            Digest::Md5(x) => self.md5.lookup(x),
            Digest::Sha1(x) => self.sha1.lookup(x),
            Digest::Sha256(x) => self.sha256.lookup(x),
        };
        v.retain(|&id| self.live(id));
        v
    }

    /// The PDQ index (low-level access).
    pub fn pdq(&self) -> &PdqIndex {
        &self.pdq
    }

    /// Drops removed entries from all structures (ids stay the same).
    pub fn compact(&mut self) {
        self.pdq.compact();
        let keep = |s: &Self, id: u32| s.live(id);
        self.md5 = Md5Set::build(
            self.md5
                .iter()
                .filter(|e| keep(self, e.1))
                .collect::<Vec<_>>(),
        );
        self.sha1 = Sha1Set::build(
            self.sha1
                .iter()
                .filter(|e| keep(self, e.1))
                .collect::<Vec<_>>(),
        );
        self.sha256 = Sha256Set::build(
            self.sha256
                .iter()
                .filter(|e| keep(self, e.1))
                .collect::<Vec<_>>(),
        );
    }

    /// Counts per type and list.
    pub fn info(&self) -> IndexInfo {
        let mut lists: Vec<ListInfo> = self
            .lists
            .items
            .iter()
            .enumerate()
            .map(|(i, name)| ListInfo {
                name: name.clone(),
                md5: 0,
                sha1: 0,
                sha256: 0,
                pdq: 0,
                photodna_skipped: self.photodna.get(i).copied().unwrap_or(0),
            })
            .collect();
        for (i, (&l, &k)) in self.e_list.iter().zip(&self.e_kind).enumerate() {
            if self.removed.get(i) {
                continue;
            }
            if let Some(li) = lists.get_mut(l as usize) {
                match kind_from(k) {
                    Some(SignalKind::Md5) => li.md5 += 1,
                    Some(SignalKind::Sha1) => li.sha1 += 1,
                    Some(SignalKind::Sha256) => li.sha256 += 1,
                    Some(SignalKind::Pdq) => li.pdq += 1,
                    _ => {}
                }
            }
        }
        let sum = |f: fn(&ListInfo) -> usize| lists.iter().map(f).sum::<usize>();
        let (md5, sha1, sha256, pdq) = (
            sum(|l| l.md5),
            sum(|l| l.sha1),
            sum(|l| l.sha256),
            sum(|l| l.pdq),
        );
        IndexInfo {
            version: SNAPSHOT_VERSION,
            built_at: self.built_at,
            entries: md5 + sha1 + sha256 + pdq,
            md5,
            sha1,
            sha256,
            pdq,
            photodna_skipped: self.photodna.iter().sum(),
            lists,
            memory_bytes: self.memory_bytes(),
        }
    }

    /// Bytes held in memory.
    pub fn memory_bytes(&self) -> usize {
        self.pdq.memory_bytes()
            + self.md5.memory_bytes()
            + self.sha1.memory_bytes()
            + self.sha256.memory_bytes()
            + (self.e_list.capacity()
                + self.e_cat.capacity()
                + self.e_src.capacity()
                + self.e_add.capacity())
                * 4
            + self.e_kind.capacity()
            + self
                .strings
                .items
                .iter()
                .map(|s| s.len() + 64)
                .sum::<usize>()
    }

    /// Writes the index to `path` (atomically).
    pub fn save(&self, path: &Path) -> Result<(), SnapshotError> {
        write_atomic(path, |f| {
            let mut w = SnapWriter::new(f, Kind::Index)?;
            w.block(
                *b"IMET",
                &[
                    self.built_at,
                    self.e_list.len() as u64,
                    self.lists.items.len() as u64,
                ],
            )?;
            w.strings(*b"LSTB", *b"LSTE", &self.lists.items)?;
            w.strings(*b"STRB", *b"STRE", &self.strings.items)?;
            w.block(*b"ELST", &self.e_list)?;
            w.block(*b"ECAT", &self.e_cat)?;
            w.block(*b"ESRC", &self.e_src)?;
            w.block(*b"EADD", &self.e_add)?;
            w.block(*b"EKND", &self.e_kind)?;
            w.block(*b"EDEL", &self.removed.words)?;
            w.block(*b"PHSK", &self.photodna)?;
            self.pdq.write_blocks(&mut w)?;
            self.md5.write_blocks(&mut w)?;
            self.sha1.write_blocks(&mut w)?;
            self.sha256.write_blocks(&mut w)?;
            w.finish().map(|_| ())
        })
    }

    /// Loads an index written by [`Index::save`]; a corrupt, truncated, foreign or
    /// differently versioned file is refused with a typed error.
    pub fn load(path: &Path) -> Result<Index, SnapshotError> {
        let started = std::time::Instant::now();
        let (f, len) = open_file(path)?;
        let mut r = SnapReader::open(f, Some(len), Kind::Index)?;
        let bad = |m: &str| SnapshotError::Corrupt(format!("index: {m}"));
        let meta: Vec<u64> = r.block(*b"IMET")?;
        if meta.len() != 3 {
            return Err(bad("metadata"));
        }
        let lists = r.strings(*b"LSTB", *b"LSTE")?;
        let strings = r.strings(*b"STRB", *b"STRE")?;
        let e_list: Vec<u32> = r.block(*b"ELST")?;
        let e_cat: Vec<u32> = r.block(*b"ECAT")?;
        let e_src: Vec<u32> = r.block(*b"ESRC")?;
        let e_add: Vec<u32> = r.block(*b"EADD")?;
        let e_kind: Vec<u8> = r.block(*b"EKND")?;
        let removed = Bitset {
            words: r.block(*b"EDEL")?,
        };
        let photodna: Vec<u64> = r.block(*b"PHSK")?;
        let n = e_list.len();
        if meta[1] != n as u64 || meta[2] != lists.len() as u64 {
            return Err(bad("counts"));
        }
        if [e_cat.len(), e_src.len(), e_add.len(), e_kind.len()]
            .iter()
            .any(|&l| l != n)
            || photodna.len() > lists.len()
            || removed.words.len() > n.div_ceil(64)
        {
            return Err(bad("table sizes"));
        }
        let ns = strings.len() as u32;
        let ok_str = |v: &[u32]| v.iter().all(|&x| x == NONE || x < ns);
        if e_list.iter().any(|&l| l as usize >= lists.len())
            || !ok_str(&e_cat)
            || !ok_str(&e_src)
            || !ok_str(&e_add)
            || e_kind.iter().any(|&k| kind_from(k).is_none())
        {
            return Err(bad("entry metadata"));
        }
        let pdq = PdqIndex::read_blocks(&mut r)?;
        let md5 = Md5Set::read_blocks(&mut r)?;
        let sha1 = Sha1Set::read_blocks(&mut r)?;
        let sha256 = Sha256Set::read_blocks(&mut r)?;
        r.finish()?;
        tracing::debug!(
            entries = e_list.len(),
            bytes = len,
            secs = started.elapsed().as_secs_f64(),
            "loaded index"
        );
        let mk = |items: Vec<String>| {
            let map = items
                .iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), i as u32))
                .collect();
            Strings { items, map }
        };
        Ok(Index {
            built_at: meta[0],
            lists: mk(lists),
            strings: mk(strings),
            e_list,
            e_cat,
            e_src,
            e_add,
            e_kind,
            removed,
            photodna,
            pdq,
            md5,
            sha1,
            sha256,
        })
    }
}
