//! An open-addressing hash map for the hot path's integer keys (packed words, trie edges).
//!
//! Key and value sit side by side in one slot and collisions probe the next slots, so a lookup usually
//! reads one cache line (a general-purpose map reads a control byte and then a bucket, two lines apart).
//! The slots live in a [`Buffer`], on huge pages when the table is large, and a free slot is all zero
//! bits, so a new table costs nothing until it is touched.

use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::memory::{AtomicWords, Buffer};
use crate::parallel::{self, Pieces, Tickets};

/// A key of a [`FlatMap`]: a plain integer, stored in a slot of `u64` words next to its `u32` value.
pub trait FlatKey: Copy + Eq + Send + Sync {
    /// Words the key takes at the start of a slot (1 or 2).
    const KEY_WORDS: usize;
    /// Words per slot (a power of two): the key's words and one for the value.
    const WORDS: usize;
    /// A hash whose top bits are well mixed (they pick the slot).
    fn hash(self) -> u64;
    /// The key as stored in a slot's first [`FlatKey::KEY_WORDS`] words (any further word zero); never all
    /// zero, which marks a free slot.
    fn stored(self) -> [u64; 2];
    /// The key stored as `words` (a word past [`FlatKey::KEY_WORDS`] is ignored).
    fn from_stored(words: [u64; 2]) -> Self;
}

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// `u64::MAX` cannot be a key (it is stored as zero).
impl FlatKey for u64 {
    const KEY_WORDS: usize = 1;
    const WORDS: usize = 2;
    fn hash(self) -> u64 {
        (self ^ (self >> 29)).wrapping_mul(MIX)
    }
    fn stored(self) -> [u64; 2] {
        [!self, 0]
    }
    fn from_stored(words: [u64; 2]) -> Self {
        !words[0]
    }
}

/// `0` cannot be a key.
impl FlatKey for u128 {
    const KEY_WORDS: usize = 2;
    const WORDS: usize = 4;
    fn hash(self) -> u64 {
        let (low, high) = (self as u64, (self >> 64) as u64);
        (low.wrapping_mul(MIX).rotate_left(23) ^ high).wrapping_mul(MIX)
    }
    fn stored(self) -> [u64; 2] {
        [self as u64, (self >> 64) as u64]
    }
    fn from_stored(words: [u64; 2]) -> Self {
        u128::from(words[0]) | u128::from(words[1]) << 64
    }
}

/// How full a table may be: `full / of` of its slots.
#[derive(Debug, Clone, Copy)]
struct Load {
    full: usize,
    of: usize,
}

/// Tables that grow key by key stay at most three quarters full: lookups of absent keys, which probe up to
/// the next free slot, are frequent while counting.
const GROWN_LOAD: Load = Load { full: 3, of: 4 };

/// A table filled in bulk by [`FlatMap::extend`] (a vocabulary's trie, then only read) may be seven
/// eighths full: half the memory of the grown rule at some sizes, for slightly longer probes.
const PACKED_LOAD: Load = Load { full: 7, of: 8 };

/// A hash map from [`FlatKey`]s to `u32` values: linear probing over a power-of-two table kept at most
/// three quarters full (seven eighths when filled in bulk), no removal (only [`FlatMap::clear`]).
#[derive(Debug, Clone)]
pub struct FlatMap<K> {
    words: Buffer<u64>,
    /// `64 - log2(slots)`: a hash shifted right by it is a slot index.
    shift: u32,
    len: usize,
    keys: PhantomData<K>,
}

impl<K: FlatKey> Default for FlatMap<K> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<K: FlatKey> FlatMap<K> {
    /// Index of the value's word in a slot.
    const VALUE: usize = K::WORDS - 1;

    /// A map that holds `capacity` keys without growing.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_slots(Self::slots_for(capacity, GROWN_LOAD))
    }

    /// The fewest slots (a power of two) that hold `keys` keys at most `load` full.
    fn slots_for(keys: usize, load: Load) -> usize {
        (keys.saturating_mul(load.of) / load.full + 1).next_power_of_two().max(8)
    }

    /// An empty table of `slots` slots (a power of two).
    fn with_slots(slots: usize) -> Self {
        let words = Buffer::zeroed(slots * K::WORDS);
        Self { words, shift: 64 - slots.trailing_zeros(), len: 0, keys: PhantomData }
    }

    fn slots(&self) -> usize {
        self.words.len() / K::WORDS
    }

    /// Slot `index` of the table `words`.
    fn slot(words: &[u64], index: usize) -> &[u64] {
        &words[index * K::WORDS..][..K::WORDS]
    }

    fn is_free(slot: &[u64]) -> bool {
        slot[..K::KEY_WORDS].iter().all(|&w| w == 0)
    }

    /// The slot holding the key stored as `stored` (whose hash is `hash`), or the free slot where it
    /// would go. The table is borrowed once for the whole probe (each borrow of a mapped buffer checks
    /// its layout again).
    fn find(&self, hash: u64, stored: [u64; 2]) -> usize {
        let words = &*self.words;
        let mask = words.len() / K::WORDS - 1;
        let mut index = (hash >> self.shift) as usize;
        loop {
            let slot = Self::slot(words, index);
            if slot[..K::KEY_WORDS] == stored[..K::KEY_WORDS] || Self::is_free(slot) {
                return index;
            }
            index = (index + 1) & mask;
        }
    }

    /// The value of `key`.
    #[inline]
    pub fn get(&self, key: K) -> Option<u32> {
        let index = self.find(key.hash(), key.stored());
        let slot = Self::slot(&self.words, index);
        (!Self::is_free(slot)).then_some(slot[Self::VALUE] as u32)
    }

    /// The first word of `key`'s home slot, to fetch ahead of a lookup.
    #[inline]
    pub fn first_word(&self, key: K) -> &u64 {
        &self.words[(key.hash() >> self.shift) as usize * K::WORDS]
    }

    /// The slot of `key`, claimed for it (the map grown first if need be) when absent, and whether it was.
    fn claim(&mut self, key: K) -> (usize, bool) {
        self.claim_within(key, GROWN_LOAD)
    }

    /// [`FlatMap::claim`], growing the table only once it would be more than `load` full.
    fn claim_within(&mut self, key: K, load: Load) -> (usize, bool) {
        let stored = key.stored();
        assert!(stored != [0, 0], "the free-slot marker cannot be a key");
        let hash = key.hash();
        let mut index = self.find(hash, stored);
        let fresh = Self::is_free(Self::slot(&self.words, index));
        if fresh {
            if (self.len + 1) * load.of > self.slots() * load.full {
                self.rehash(self.slots() * 2);
                index = self.find(hash, stored);
            }
            self.words[index * K::WORDS..][..K::KEY_WORDS].copy_from_slice(&stored[..K::KEY_WORDS]);
            self.len += 1;
        }
        (index, fresh)
    }

    /// The value of `key`, inserting `make()` first if it is absent.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> u32) -> u32 {
        let (index, fresh) = self.claim(key);
        let value = &mut self.words[index * K::WORDS + Self::VALUE];
        if fresh {
            *value = u64::from(make());
        }
        *value as u32
    }

    /// Sets the value of `key`.
    pub fn insert(&mut self, key: K, value: u32) {
        let (index, _) = self.claim(key);
        self.words[index * K::WORDS + Self::VALUE] = u64::from(value);
    }

    /// Inserts many keys at once (see [`BulkFill`]), on up to `threads` threads.
    pub fn extend(&mut self, entries: impl Iterator<Item = (K, u32)> + Clone, threads: NonZeroUsize) {
        let fill = BulkFill::new(std::mem::take(self), entries);
        parallel::in_parts(threads, |_, _| fill.work_all());
        *self = fill.into_map();
    }

    /// Makes room for `additional` more keys without growing.
    pub fn reserve(&mut self, additional: usize) {
        self.make_room(self.len + additional, GROWN_LOAD);
    }

    /// Grows the table, if need be, to hold `keys` keys at most `load` full.
    fn make_room(&mut self, keys: usize, load: Load) {
        let wanted = Self::slots_for(keys, load);
        if wanted > self.slots() {
            self.rehash(wanted);
        }
    }

    /// Moves every key to a table of `slots` slots.
    fn rehash(&mut self, slots: usize) {
        *self = Regrow::new(std::mem::take(self), slots).into_map();
    }

    /// Makes room for `additional` more keys, as [`FlatMap::reserve`] does, but hands back the move to a
    /// bigger table as a job that threads can share ([`Regrow`]) instead of doing it; `None` when the
    /// table has room. The map is empty until the job's [`Regrow::into_map`] is put back.
    pub fn regrow_for(&mut self, additional: usize) -> Option<Regrow<K>> {
        let slots = Self::slots_for(self.len + additional, GROWN_LOAD);
        (slots > self.slots()).then(|| Regrow::new(std::mem::take(self), slots))
    }

    /// The map with the entries `spilled` by a fill or a move by ranges of slots inserted (in key order,
    /// so the same entries always give the same table; a key set aside twice keeps its order and its last
    /// value), growing only past `load`.
    fn with_spilled(mut self, mut spilled: Vec<(K, u32)>, load: Load) -> Self {
        spilled.sort_by_key(|&(key, _)| key.stored());
        for (key, value) in spilled {
            let (index, _) = self.claim_within(key, load);
            self.words[index * K::WORDS + Self::VALUE] = u64::from(value);
        }
        self
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every key, keeping the table's size.
    pub fn clear(&mut self) {
        if self.len > 0 {
            self.words.fill(0);
            self.len = 0;
        }
    }

    /// Every key and its value, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (K, u32)> + '_ {
        self.iter_part(0, 1)
    }

    /// The keys and values of part `part` of the slots cut into `parts` (threads can share the work).
    pub fn iter_part(&self, part: usize, parts: usize) -> impl Iterator<Item = (K, u32)> + '_ {
        let slots = parallel::part_of(self.words.len() / K::WORDS, part, parts);
        let slots = self.words[slots.start * K::WORDS..slots.end * K::WORDS]
            .chunks_exact(K::WORDS)
            .filter(|s| !Self::is_free(s));
        slots.map(|s| (K::from_stored([s[0], s[1]]), s[Self::VALUE] as u32))
    }
}

/// Bytes of table in each range of slots of a bulk fill: a range stays in the cache while its entries are
/// written into it.
const FILL_RANGE_BYTES: usize = 256 << 10;

/// Keys being inserted in bulk into a [`FlatMap`] range of slots by range of slots, so that each write
/// lands in a part of the table that is in the cache, instead of anywhere in it: several times faster
/// for a table much larger than the cache. The table is sized for them at up to seven eighths full (a
/// table filled in bulk is then mostly read) and cut into ranges of slots that threads may fill side by
/// side (as [`Pieces`]); a key whose probe runs past the end of its range is set aside and inserted
/// last ([`BulkFill::into_map`]).
#[derive(Debug)]
pub struct BulkFill<K> {
    table: AtomicWords,
    shift: u32,
    /// Keys in the table before the fill.
    len: usize,
    /// The entries grouped by range, each in the order given, a slot's words each.
    ordered: Buffer<u64>,
    /// The entries of range `r` are `ordered` entries `starts[r]..starts[r + 1]`.
    starts: Vec<usize>,
    ranges: Tickets,
    added: AtomicUsize,
    spilled: Mutex<Vec<(K, u32)>>,
}

impl<K: FlatKey> BulkFill<K> {
    /// Starts a fill of `map` with `entries` (a key already in the map, or twice in `entries`, gets the
    /// last value).
    pub fn new(mut map: FlatMap<K>, entries: impl Iterator<Item = (K, u32)> + Clone) -> Self {
        map.make_room(map.len + entries.clone().count(), PACKED_LOAD);
        // A counting sort on the top bits of the home slot, which name its range: a few hundred ranges
        // at most for a large table, so the entries are written to that many places at a time, each
        // in the cache (a sort into slot order would write to tens of thousands, each a cache miss).
        let ranges = (map.slots() * K::WORDS * 8 / FILL_RANGE_BYTES).clamp(1, 1 << 16);
        let bits = ranges.trailing_zeros();
        let bucket = |key: K| if bits == 0 { 0 } else { (key.hash() >> (64 - bits)) as usize };
        let mut starts = vec![0usize; ranges + 1];
        for (key, _) in entries.clone() {
            starts[bucket(key) + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let range_starts = starts.clone();
        // The entries, a slot's words each, in a buffer on huge pages (a large model has millions).
        let mut ordered = Buffer::<u64>::zeroed(starts[ranges] * K::WORDS);
        let ordered_words = &mut *ordered;
        for (key, value) in entries {
            let at = &mut starts[bucket(key)];
            let entry = &mut ordered_words[*at * K::WORDS..][..K::WORDS];
            entry[..K::KEY_WORDS].copy_from_slice(&key.stored()[..K::KEY_WORDS]);
            entry[FlatMap::<K>::VALUE] = u64::from(value);
            *at += 1;
        }
        let FlatMap { words, shift, len, .. } = map;
        Self {
            table: AtomicWords::from_buffer(words),
            shift,
            len,
            ordered,
            starts: range_starts,
            ranges: Tickets::new(ranges),
            added: AtomicUsize::new(0),
            spilled: Mutex::new(Vec::new()),
        }
    }

    /// The keys of the entries given to the fill, range by range.
    pub fn keys(&self) -> impl Iterator<Item = K> + '_ {
        self.ordered.chunks_exact(K::WORDS).map(|entry| K::from_stored([entry[0], entry[1]]))
    }

    /// Fills range `range` of the slots with its entries (once, by one thread: its slots need no more than
    /// plain loads and stores).
    fn fill_range(&self, range: usize) {
        let words = self.table.words();
        let per_range = words.len() / K::WORDS / self.ranges.count();
        let end = (range + 1) * per_range;
        let (mut added, mut spilled) = (0, Vec::new());
        let entries = &self.ordered[self.starts[range] * K::WORDS..self.starts[range + 1] * K::WORDS];
        for entry in entries.chunks_exact(K::WORDS) {
            let key = K::from_stored([entry[0], entry[1]]);
            match place::<K>(words, (key.hash() >> self.shift) as usize, end, entry) {
                Some(fresh) => added += usize::from(fresh),
                None => spilled.push((key, entry[FlatMap::<K>::VALUE] as u32)),
            }
        }
        self.added.fetch_add(added, Ordering::Relaxed);
        if !spilled.is_empty() {
            self.spilled.lock().expect("no thread panics holding it").extend(spilled);
        }
    }

    /// The filled map, once no thread fills it any more: the keys set aside are inserted now (in key
    /// order, so the same entries always give the same table; a key set aside twice keeps its order).
    pub fn into_map(self) -> FlatMap<K> {
        let len = self.len + self.added.into_inner();
        let map = FlatMap { words: self.table.into_buffer(), shift: self.shift, len, keys: PhantomData };
        map.with_spilled(self.spilled.into_inner().expect("no thread panics holding it"), PACKED_LOAD)
    }
}

/// Writes the slot `entry` (its key's words and its value) into the first slot from `index` on, before
/// `end`, that is free or holds the same key; whether that slot was free, or `None` if none is.
fn place<K: FlatKey>(words: &[AtomicU64], mut index: usize, end: usize, entry: &[u64]) -> Option<bool> {
    let key = &entry[..K::KEY_WORDS];
    while index < end {
        let slot = &words[index * K::WORDS..][..K::WORDS];
        let held = |w: usize| slot[w].load(Ordering::Relaxed);
        let free = (0..K::KEY_WORDS).all(|w| held(w) == 0);
        if free || (0..K::KEY_WORDS).all(|w| held(w) == key[w]) {
            for (w, &word) in key.iter().enumerate() {
                slot[w].store(word, Ordering::Relaxed);
            }
            slot[FlatMap::<K>::VALUE].store(entry[FlatMap::<K>::VALUE], Ordering::Relaxed);
            return Some(free);
        }
        index += 1;
    }
    None
}

/// A [`FlatMap`] being moved to a bigger table range of slots by range, by any number of threads at once
/// (see [`parallel::work_with_help`]): training's table of n-grams grows to hundreds of megabytes, and the
/// thread feeding the one that owns it would otherwise wait. The old table is cut into ranges of slots,
/// each moved by one thread into the matching range of the new one (a key's home there is its old home
/// times the growth, and its probe never leaves the range); a key that sits past its home's range, or
/// wrapped round from the end of the table, is set aside and inserted last ([`Regrow::into_map`]). The
/// result is the same table whichever threads move which ranges.
#[derive(Debug)]
pub struct Regrow<K> {
    old: Buffer<u64>,
    old_shift: u32,
    table: AtomicWords,
    shift: u32,
    len: usize,
    ranges: Tickets,
    spilled: Mutex<Vec<(K, u32)>>,
}

impl<K: FlatKey> Regrow<K> {
    /// Starts moving `map` to a table of `slots` slots (a power of two, larger than the map's).
    fn new(map: FlatMap<K>, slots: usize) -> Self {
        assert!(slots > map.slots() && slots.is_power_of_two(), "a table only grows, by powers of two");
        let ranges = (map.words.len() * 8 / FILL_RANGE_BYTES).clamp(1, 1 << 16);
        Self {
            old_shift: map.shift,
            table: AtomicWords::zeroed(slots * K::WORDS),
            shift: 64 - slots.trailing_zeros(),
            len: map.len,
            ranges: Tickets::new(ranges),
            old: map.words,
            spilled: Mutex::new(Vec::new()),
        }
    }

    /// The map in its new table, once every range is moved (any left are moved now).
    pub fn into_map(self) -> FlatMap<K> {
        self.work_all();
        let spilled = self.spilled.into_inner().expect("no thread panics holding it");
        let len = self.len - spilled.len();
        let map = FlatMap { words: self.table.into_buffer(), shift: self.shift, len, keys: PhantomData };
        map.with_spilled(spilled, GROWN_LOAD)
    }

    /// Moves the keys of range `range` of the old slots (once, by one thread).
    fn move_range(&self, range: usize) {
        let words = self.table.words();
        let per_range = self.old.len() / K::WORDS / self.ranges.count();
        let old_range = range * per_range..(range + 1) * per_range;
        let growth = words.len() / self.old.len();
        let end = old_range.end * growth;
        let mut spilled = Vec::new();
        let slots = self.old[old_range.start * K::WORDS..old_range.end * K::WORDS].chunks_exact(K::WORDS);
        for (index, slot) in (old_range.start..).zip(slots).filter(|(_, slot)| !FlatMap::<K>::is_free(slot)) {
            let key = K::from_stored([slot[0], slot[1]]);
            let hash = key.hash();
            // Not past its home's range, nor wrapped round from the end of the table.
            if (old_range.start..=index).contains(&((hash >> self.old_shift) as usize)) {
                // The keys of the range whose homes are at or past any old slot fill at most the slots
                // from there to the range's end, and their new homes have `growth` times as many.
                place::<K>(words, (hash >> self.shift) as usize, end, slot)
                    .expect("a range's keys fit in its new range");
            } else {
                spilled.push((key, slot[FlatMap::<K>::VALUE] as u32));
            }
        }
        if !spilled.is_empty() {
            self.spilled.lock().expect("no thread panics holding it").extend(spilled);
        }
    }
}

impl<K: FlatKey> Pieces for BulkFill<K> {
    /// Fills the next range of slots no thread has taken.
    fn work_piece(&self) -> bool {
        self.ranges.take().map(|range| self.fill_range(range)).is_some()
    }
}

impl<K: FlatKey> Pieces for Regrow<K> {
    /// Moves the next range of old slots no thread has taken.
    fn work_piece(&self) -> bool {
        self.ranges.take().map(|range| self.move_range(range)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        #[test]
        fn behaves_like_a_hash_map(ops in prop::collection::vec((0u64..300, any::<u32>()), 0..2000)) {
            let mut flat = FlatMap::<u64>::default();
            let mut reference = HashMap::new();
            for (key, value) in ops {
                if value % 3 == 0 {
                    flat.insert(key, value);
                    reference.insert(key, value);
                } else {
                    let got = flat.get_or_insert_with(key, || value);
                    prop_assert_eq!(got, *reference.entry(key).or_insert(value));
                }
                prop_assert_eq!(flat.len(), reference.len());
            }
            for key in 0..310 {
                prop_assert_eq!(flat.get(key), reference.get(&key).copied());
            }
            let mut all: Vec<(u64, u32)> = flat.iter().collect();
            all.sort_unstable();
            let mut expected: Vec<(u64, u32)> = reference.into_iter().collect();
            expected.sort_unstable();
            prop_assert_eq!(all, expected);
        }
    }

    #[test]
    fn bulk_inserts_equal_single_ones() {
        let entries: Vec<(u64, u32)> =
            (0..50_000u64).map(|i| (i.wrapping_mul(0x2545_f491) ^ i << 40, i as u32)).collect();
        let mut bulk = FlatMap::<u64>::with_capacity(10);
        bulk.insert(entries[7].0, 99);
        bulk.extend(entries.iter().copied(), NonZeroUsize::MIN);
        assert_eq!(bulk.len(), entries.len());
        assert!(entries.iter().all(|&(key, value)| bulk.get(key) == Some(value)));
        assert_eq!(bulk.get(u64::MAX - 1), None);
    }

    #[test]
    fn threads_fill_one_table_as_one_thread_does() {
        // 200,000 keys in 16 ranges of slots: some probe past the end of their range and are set aside.
        let entries: Vec<(u64, u32)> =
            (0..200_000u64).map(|i| (i.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 3, i as u32)).collect();
        let mut before = FlatMap::<u64>::with_capacity(4);
        before.insert(entries[9].0, 7);
        let mut serial = before.clone();
        serial.extend(entries.iter().copied(), NonZeroUsize::MIN);
        let fill = BulkFill::new(before, entries.iter().copied());
        let mut keys: Vec<u64> = fill.keys().collect();
        keys.sort_unstable();
        let mut given: Vec<u64> = entries.iter().map(|&(key, _)| key).collect();
        given.sort_unstable();
        assert_eq!(keys, given, "the fill's keys are the entries' keys");
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| fill.work_all());
            }
            fill.work_all();
        });
        assert!(!fill.spilled.lock().unwrap().is_empty(), "no key was set aside: the test misses a path");
        let parallel = fill.into_map();
        // The key present before gets the value it has among the entries.
        assert_eq!(parallel.len(), entries.len());
        assert!(entries.iter().all(|&(key, value)| parallel.get(key) == Some(value)));
        let sorted = |map: &FlatMap<u64>| {
            let mut all: Vec<(u64, u32)> = map.iter().collect();
            all.sort_unstable();
            all
        };
        assert_eq!(sorted(&parallel), sorted(&serial));
        assert_eq!(parallel.get(u64::MAX - 1), None);
    }

    #[test]
    fn threads_move_a_table_to_a_bigger_one_as_one_thread_does() {
        // A table of 2^16 slots three quarters full, in four ranges of slots: keys whose probe crosses
        // from one range into the next, or wraps from the end to the start, are set aside.
        let entries: Vec<(u64, u32)> =
            (1..=49_000u64).map(|i| (i.wrapping_mul(0x2545_f491_4f6c_dd1d), i as u32)).collect();
        let mut map = FlatMap::<u64>::default();
        for &(key, value) in &entries {
            map.insert(key, value);
        }
        assert_eq!(map.slots(), 1 << 16);
        let moved = |threads: usize, slots: usize| {
            let mut map = map.clone();
            let regrow = map.regrow_for(slots * 3 / 4 - 1 - map.len()).expect("the table must grow");
            assert!(map.is_empty(), "the keys are in the move");
            std::thread::scope(|scope| {
                for _ in 1..threads {
                    scope.spawn(|| regrow.work_all());
                }
                regrow.work_all();
            });
            assert!(!regrow.spilled.lock().unwrap().is_empty(), "no key was set aside: the test misses a path");
            regrow.into_map()
        };
        for slots in [1 << 17, 1 << 19] {
            let one = moved(1, slots);
            assert_eq!((one.slots(), one.len()), (slots, entries.len()));
            assert!(entries.iter().all(|&(key, value)| one.get(key) == Some(value)));
            assert_eq!(one.get(7), None);
            for threads in [2, 4] {
                let many = moved(threads, slots);
                assert_eq!(many.iter().collect::<Vec<_>>(), one.iter().collect::<Vec<_>>(), "{threads} threads");
            }
            // Ranges moved last to first, as threads might: each stays within its own slots.
            let mut map = map.clone();
            let regrow = map.regrow_for(slots * 3 / 4 - 1 - map.len()).expect("the table must grow");
            assert!(regrow.ranges.count() > 1);
            (0..regrow.ranges.count()).rev().for_each(|range| regrow.move_range(range));
            while regrow.ranges.take().is_some() {}
            assert_eq!(regrow.into_map().iter().collect::<Vec<_>>(), one.iter().collect::<Vec<_>>(), "backwards");
        }
        // Growing key by key moves the table the same way.
        let mut grown = map.clone();
        grown.reserve(1 << 16);
        assert_eq!(grown.iter().collect::<Vec<_>>(), moved(1, 1 << 18).iter().collect::<Vec<_>>());
    }

    #[test]
    fn a_key_twice_in_a_bulk_fill_is_counted_once_and_keeps_its_last_value() {
        let mut entries: Vec<(u64, u32)> = (1..=60_000u64).map(|i| (i.wrapping_mul(0x9e37_79b9), i as u32)).collect();
        entries.extend((1..=60_000u64).step_by(7).map(|i| (i.wrapping_mul(0x9e37_79b9), 0)));
        let mut map = FlatMap::<u64>::default();
        map.extend(entries.iter().copied(), NonZeroUsize::MIN);
        assert_eq!(map.len(), 60_000);
        assert!(
            (1..=60_000u64)
                .all(|i| map.get(i.wrapping_mul(0x9e37_79b9)) == Some(if i % 7 == 1 { 0 } else { i as u32 }))
        );
    }

    #[test]
    fn a_bulk_filled_table_is_packed_and_still_grows_on_insert() {
        // 56,000 keys fill 65,536 slots to 85%: under the 7/8 of bulk tables, over the 3/4 of growing ones
        // (key by key, the table would have doubled).
        let entries: Vec<(u64, u32)> = (1..=56_000u64).map(|i| (i.wrapping_mul(0x9e37_79b9), i as u32)).collect();
        let mut bulk = FlatMap::<u64>::default();
        bulk.extend(entries.iter().copied(), NonZeroUsize::MIN);
        assert_eq!(bulk.slots(), 1 << 16);
        assert!(entries.iter().all(|&(key, value)| bulk.get(key) == Some(value)));
        // A key inserted one by one grows the table back to the 3/4 rule, keeping every value.
        bulk.insert(7, 7);
        assert_eq!(bulk.slots(), 1 << 17);
        assert!(entries.iter().all(|&(key, value)| bulk.get(key) == Some(value)) && bulk.get(7) == Some(7));
    }

    #[test]
    fn wide_keys_grow_clear_and_reserve() {
        let mut map = FlatMap::<u128>::with_capacity(4);
        for i in 1..=10_000u128 {
            map.insert(i << 64 | i, i as u32);
        }
        assert_eq!(map.len(), 10_000);
        assert!((1..=10_000u128).all(|i| map.get(i << 64 | i) == Some(i as u32)));
        assert_eq!(map.get(1), None);
        let size = map.slots();
        map.clear();
        assert!(map.is_empty() && map.slots() == size && map.get(1 << 64 | 1).is_none());
        map.reserve(100_000);
        assert!(map.slots() * 3 >= 100_000 * 4);
        assert_eq!(map.iter().count(), 0);
    }

    #[test]
    #[should_panic(expected = "free-slot marker")]
    fn the_free_marker_is_not_a_key() {
        FlatMap::<u64>::default().insert(u64::MAX, 1);
    }
}
