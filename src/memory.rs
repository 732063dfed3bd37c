//! Zeroed buffers for the hot path's large tables, on transparent huge pages where the system allows.
//!
//! Classification reads its tables (word cache, n-gram trie, log-probabilities) at random, and they
//! are tens of megabytes. With 4 KiB pages nearly every such read also misses the TLB, and the page walk
//! costs about as much as the read itself. A large buffer is therefore an anonymous memory map advised
//! `MADV_HUGEPAGE`, which Linux backs with 2 MiB pages when transparent huge pages are in `madvise` or
//! `always` mode (elsewhere the advice is ignored). The kernel hands the pages over zeroed, as they are
//! first touched, so a big table costs nothing until it is used.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use bytemuck::Pod;
use memmap2::MmapMut;

/// A fixed-length, zero-initialised slice of plain values.
pub struct Buffer<T> {
    memory: Memory<T>,
}

enum Memory<T> {
    Heap(Vec<T>),
    Mapped { map: MmapMut, len: usize, values: PhantomData<T> },
}

impl<T: Pod> Buffer<T> {
    /// Buffers of at least this many bytes are mapped (one huge page).
    pub const MAPPED_BYTES: usize = 2 << 20;

    /// `len` zero values.
    pub fn zeroed(len: usize) -> Self {
        let bytes = len.checked_mul(size_of::<T>()).expect("a buffer's size fits in memory");
        if bytes >= Self::MAPPED_BYTES
            && let Ok(map) = MmapMut::map_anon(bytes)
        {
            #[cfg(unix)]
            // Only a hint: without transparent huge pages the kernel refuses or ignores it.
            let _ = map.advise(memmap2::Advice::HugePage);
            return Self { memory: Memory::Mapped { map, len, values: PhantomData } };
        }
        Self { memory: Memory::Heap(vec![T::zeroed(); len]) }
    }

    /// A buffer holding the values of `values`, which knows its length.
    pub fn from_exact_iter(values: impl ExactSizeIterator<Item = T>) -> Self {
        let mut buffer = Self::zeroed(values.len());
        for (slot, value) in buffer.iter_mut().zip(values) {
            *slot = value;
        }
        buffer
    }

    /// A buffer holding a copy of `values`.
    pub fn from_slice(values: &[T]) -> Self {
        let mut buffer = Self::zeroed(values.len());
        buffer.copy_from_slice(values);
        buffer
    }
}

impl<T: Pod> Deref for Buffer<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.memory {
            Memory::Heap(values) => values,
            Memory::Mapped { map, len, .. } => &bytemuck::cast_slice(map)[..*len],
        }
    }
}

impl<T: Pod> DerefMut for Buffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.memory {
            Memory::Heap(values) => values,
            Memory::Mapped { map, len, .. } => &mut bytemuck::cast_slice_mut(map)[..*len],
        }
    }
}

impl<'a, T: Pod> IntoIterator for &'a Buffer<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Pod> Clone for Buffer<T> {
    fn clone(&self) -> Self {
        Self::from_slice(self)
    }
}

impl<T: Pod + PartialEq> PartialEq for Buffer<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Pod> Default for Buffer<T> {
    fn default() -> Self {
        Self::zeroed(0)
    }
}

impl<T: Pod> fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if matches!(self.memory, Memory::Mapped { .. }) { "mapped" } else { "heap" };
        write!(f, "Buffer({} values, {kind})", self.len())
    }
}

/// A zeroed buffer of atomic words that threads read and write at once: laid out, mapped and zeroed
/// like a [`Buffer`] (on huge pages, each page handed over as it is first touched), but every access is
/// atomic.
pub struct AtomicWords {
    /// Owns the words; never read or written but through `words`.
    memory: Buffer<u64>,
    words: NonNull<AtomicU64>,
}

// An `AtomicU64` is a `u64` in memory: same size, and the same alignment on the targets we build for.
const _: () = assert!(align_of::<AtomicU64>() == align_of::<u64>() && size_of::<AtomicU64>() == size_of::<u64>());

// SAFETY: the words are only ever reached through `&[AtomicU64]`, which threads may share.
unsafe impl Send for AtomicWords {}
// SAFETY: as above.
unsafe impl Sync for AtomicWords {}

impl AtomicWords {
    /// `len` zero words.
    pub fn zeroed(len: usize) -> Self {
        Self::from_buffer(Buffer::zeroed(len))
    }

    /// The words of `memory`, to be shared.
    pub fn from_buffer(mut memory: Buffer<u64>) -> Self {
        // The memory of a buffer stays where it is when the buffer moves (a heap vector's or a map's).
        let words = NonNull::from(&mut *memory).cast::<AtomicU64>();
        Self { memory, words }
    }

    /// The words as plain values again, once they are no longer shared.
    pub fn into_buffer(self) -> Buffer<u64> {
        self.memory
    }

    /// The words.
    pub fn words(&self) -> &[AtomicU64] {
        // SAFETY: `words` points to the `memory.len()` initialised words `memory` owns, which live as long
        // as `self`, have the layout of `AtomicU64`s (asserted above) and are never reached as plain `u64`s
        // until `into_buffer` takes `self`, so no access to them races with a non-atomic one.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr(), self.memory.len()) }
    }
}

impl fmt::Debug for AtomicWords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AtomicWords({} words)", self.memory.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn atomic_words_are_zeroed_and_shared_between_threads() {
        for len in [3, Buffer::<u64>::MAPPED_BYTES / 8 + 5] {
            let words = AtomicWords::zeroed(len);
            assert!(words.words().iter().all(|w| w.load(Ordering::Relaxed) == 0));
            std::thread::scope(|scope| {
                for t in 0..4u64 {
                    let words = &words;
                    scope.spawn(move || {
                        for w in words.words() {
                            w.fetch_add(t + 1, Ordering::Relaxed);
                        }
                    });
                }
            });
            assert!(words.words().iter().all(|w| w.load(Ordering::Relaxed) == 10), "{len} words");
        }
    }

    #[test]
    fn small_and_large_buffers_are_zeroed_writable_and_cloned() {
        for len in [0, 3, Buffer::<u64>::MAPPED_BYTES / 8 + 5] {
            let mut buffer = Buffer::<u64>::zeroed(len);
            assert_eq!(buffer.len(), len);
            assert!(buffer.iter().all(|&v| v == 0));
            if len > 0 {
                buffer[len - 1] = 7;
            }
            let copy = buffer.clone();
            assert_eq!(copy, buffer);
            assert_eq!(copy.last().copied(), (len > 0).then_some(7));
        }
        let large = Buffer::<f64>::from_slice(&vec![1.5; Buffer::<f64>::MAPPED_BYTES / 8]);
        assert!(format!("{large:?}").contains("mapped"));
        assert!(large.iter().all(|&v| v == 1.5));
    }
}
