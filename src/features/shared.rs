//! A word cache that the threads classifying with one vocabulary fill together: a word stemmed on one
//! thread is not stemmed again on another.
//!
//! An open-addressing table like [`FlatMap`](super::FlatMap)'s for packed words, whose slots are claimed
//! with one compare-and-swap and then only read: no locks, no removal. A slot is four atomic words: the
//! key's two words, a state word (free, being written, or the code), and one unused word that keeps
//! slots aligned to halves of a cache line. The table takes words until it holds its limit, then no more:
//! the words seen first, nearly all the frequent ones, stay for the rest of the run, and later words are
//! cached by each thread (see [`WordCache`](super::WordCache)).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::FlatKey;
use crate::memory::AtomicWords;

/// State word of a free slot.
const FREE: u64 = 0;
/// State word of a slot whose key is being written.
const WRITING: u64 = u64::MAX;
/// Set in the state word of a slot that holds a key, with the code in the low 32 bits.
const HOLDS: u64 = 1 << 32;

/// Words per slot.
const WORDS: usize = 4;

/// Where a probe for a key ends.
enum Probe<'t> {
    /// A slot holds the key, with this code.
    Holds(u32),
    /// This free slot, where the key would go.
    Free(&'t [AtomicU64]),
}

/// A table from packed words (non-zero `u128`s) to `u32` codes that threads read and fill at once.
#[derive(Debug)]
pub struct SharedWords {
    slots: AtomicWords,
    /// `64 - log2(slots)`: a hash shifted right by it is a slot index.
    shift: u32,
    len: AtomicUsize,
    limit: usize,
}

impl SharedWords {
    /// A table that takes up to `limit` words, at most half full (short probes).
    pub fn new(limit: usize) -> Self {
        let slots = (limit.max(4) * 2).next_power_of_two();
        Self { slots: AtomicWords::zeroed(slots * WORDS), shift: 64 - slots.trailing_zeros(), len: 0.into(), limit }
    }

    /// The slot `index` and the index of the slot after it.
    fn slot(&self, index: usize) -> (&[AtomicU64], usize) {
        let words = self.slots.words();
        (&words[index * WORDS..][..WORDS], (index + 1) & (words.len() / WORDS - 1))
    }

    fn home(&self, key: u128) -> usize {
        (key.hash() >> self.shift) as usize
    }

    /// The first word of `key`'s home slot, to fetch ahead of a lookup.
    pub fn first_word(&self, key: u128) -> &AtomicU64 {
        &self.slot(self.home(key)).0[0]
    }

    /// The code of `key` (a packed word, not 0), if a thread has cached it.
    pub fn get(&self, key: u128) -> Option<u32> {
        match self.probe(key) {
            Probe::Holds(code) => Some(code),
            Probe::Free(_) => None,
        }
    }

    /// Caches `code` for `key` (a packed word, not 0); false when the table is full, so that the caller
    /// keeps it itself. A key cached by another thread meanwhile keeps that thread's code, which is the
    /// same.
    pub fn insert(&self, key: u128, code: u32) -> bool {
        if self.len.load(Ordering::Relaxed) >= self.limit {
            return false;
        }
        let [low, high] = key.stored();
        // A slot is claimed by one thread only; one that another thread got first is probed past.
        while let Probe::Free(slot) = self.probe(key) {
            if slot[2].compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Acquire).is_ok() {
                slot[0].store(low, Ordering::Relaxed);
                slot[1].store(high, Ordering::Relaxed);
                slot[2].store(HOLDS | u64::from(code), Ordering::Release);
                self.len.fetch_add(1, Ordering::Relaxed);
                return true;
            }
        }
        true
    }

    /// Where `key` is: the code of the slot that holds it, or the first free slot of its probe. A slot
    /// whose key is being written is probed past: it may be this key, and caching a key twice is harmless.
    fn probe(&self, key: u128) -> Probe<'_> {
        let [low, high] = key.stored();
        let mut index = self.home(key);
        loop {
            let (slot, next) = self.slot(index);
            // Acquire: a slot seen holding a key is seen with the key's words written.
            match slot[2].load(Ordering::Acquire) {
                FREE => return Probe::Free(slot),
                WRITING => {}
                state => {
                    if slot[0].load(Ordering::Relaxed) == low && slot[1].load(Ordering::Relaxed) == high {
                        return Probe::Holds(state as u32);
                    }
                }
            }
            index = next;
        }
    }

    /// Number of words cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}

/// A fresh, empty table with the same limit: what is cached is only ever a shortcut.
impl Clone for SharedWords {
    fn clone(&self) -> Self {
        Self::new(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_fill_one_table_and_each_finds_every_word() {
        let words = SharedWords::new(20_000);
        let key = |i: u128| (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834) | 1;
        std::thread::scope(|scope| {
            for t in 0..4u128 {
                let words = &words;
                // Overlapping ranges: most words are inserted by two threads.
                scope.spawn(move || {
                    for i in t * 2_000..t * 2_000 + 4_000 {
                        assert!(words.insert(key(i), i as u32));
                    }
                });
            }
        });
        // Every word at least once: two threads that cache one word at the same moment may claim a slot
        // each (16,000 insertions of 10,000 words).
        assert!((10_000..16_000).contains(&words.len()), "{} words", words.len());
        assert!((0..10_000).all(|i| words.get(key(i)) == Some(i as u32)));
        assert_eq!(words.get(key(10_000)), None);
    }

    #[test]
    fn a_full_table_takes_no_more_words_and_still_answers() {
        let words = SharedWords::new(100);
        assert!((1..=100u128).all(|k| words.insert(k, k as u32)));
        assert!(!words.insert(101, 101));
        assert_eq!((words.get(7), words.get(101)), (Some(7), None));
        assert_eq!(words.clone().len(), 0);
    }
}
