//! Large memory on transparent huge pages where the system allows, and zeroed buffers for the hot path's
//! tables.
//!
//! Classification reads its tables (word cache, n-gram trie, log-probabilities) at random, and they
//! are tens of megabytes. With 4 KiB pages nearly every such read also misses the TLB, and the page walk
//! costs about as much as the read itself; and every 4 KiB page is a fault when first touched. The
//! binary's [`Allocator`] therefore gives every large allocation an anonymous memory map advised
//! `MADV_HUGEPAGE`, which Linux backs with 2 MiB pages when transparent huge pages are in `madvise` or
//! `always` mode (elsewhere the advice is ignored). The kernel hands the pages over zeroed, as they are
//! first touched, so a big [`Buffer`] costs nothing until it is used.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use bytemuck::Pod;

/// A fixed-length, zero-initialised slice of plain values, allocated zeroed: a large one, from the
/// [`Allocator`], is not written until it is used.
pub struct Buffer<T> {
    values: Box<[T]>,
}

impl<T: Pod> Buffer<T> {
    /// `len` zero values.
    pub fn zeroed(len: usize) -> Self {
        let layout = Layout::array::<T>(len).expect("a buffer's size fits in memory");
        if layout.size() == 0 {
            return Self { values: vec![T::zeroed(); len].into_boxed_slice() };
        }
        // SAFETY: the layout has a non-zero size.
        let values = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
        if values.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: `len` values of `T`, allocated by the global allocator with the layout of `[T; len]`, and
        // zero bytes are a valid `T` (`Pod`).
        Self { values: unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(values, len)) } }
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
        &self.values
    }
}

impl<T: Pod> DerefMut for Buffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.values
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
        write!(f, "Buffer({} values)", self.len())
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
        // The memory of a buffer stays where it is when the buffer moves (a boxed slice's).
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

/// The `narrative` binary's global allocator: the system's, except on Linux for allocations of
/// [`Allocator::LARGE`] bytes or more (large [`Buffer`]s among them), which get anonymous maps of their
/// own (in whole huge pages), advised for transparent huge pages, and grow or shrink by `mremap`, which
/// moves no byte. Training's growing tables (the 1M-sentence corpus's 16 million n-grams' stats and sums, the
/// sorted names) otherwise came from glibc's heap 4 KiB page at a time, a fault each, and were copied into
/// fresh pages at every doubling; on this VM a fault costs about 1 ms per megabyte, more when two threads
/// fault at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocator;

impl Allocator {
    /// Allocations of at least this many bytes (one huge page) are mapped.
    pub const LARGE: usize = 2 << 20;

    /// Whether `layout` is mapped: large, and aligned no further than a page is.
    fn maps(layout: Layout) -> bool {
        cfg!(target_os = "linux") && layout.size() >= Self::LARGE && layout.align() <= 4096
    }

    /// The length of the map of `size` bytes: whole huge pages, so that every page of it can be one.
    fn map_len(size: usize) -> usize {
        size.div_ceil(Self::LARGE) * Self::LARGE
    }
}

// SAFETY: mapped blocks are at least `layout.size()` bytes, page-aligned (so aligned for any layout that
// `maps`), and released or resized only through the layout they were made with, which `maps` tells apart
// from the system allocator's blocks; every other block is the system allocator's.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::maps(layout) { map(Self::map_len(layout.size())) } else { unsafe { System.alloc(layout) } }
    }

    /// A map's pages are zeroed by the kernel as they are first touched: nothing to clear.
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Self::maps(layout) { map(Self::map_len(layout.size())) } else { unsafe { System.alloc_zeroed(layout) } }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if Self::maps(layout) {
            unsafe { unmap(ptr, Self::map_len(layout.size())) }
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded up to `layout.align()`, does not overflow.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (Self::maps(layout), Self::maps(new_layout)) {
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            (true, true) => unsafe { remap(ptr, Self::map_len(layout.size()), Self::map_len(new_size)) },
            // Across the threshold: a new block, the bytes both hold copied.
            _ => {
                let new = unsafe { self.alloc(new_layout) };
                if !new.is_null() {
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                new
            }
        }
    }
}

/// A new private anonymous map of `len` bytes advised for huge pages, or null if the system refuses it.
#[cfg(target_os = "linux")]
fn map(len: usize) -> *mut u8 {
    use nix::sys::mman::{MapFlags, MmapAdvise, ProtFlags, madvise, mmap_anonymous};
    let Some(len) = std::num::NonZeroUsize::new(len) else { return std::ptr::null_mut() };
    // SAFETY: a fresh map, placed by the kernel, that nothing else refers to.
    match unsafe { mmap_anonymous(None, len, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_PRIVATE) } {
        Ok(map) => {
            // Only a hint: without transparent huge pages the kernel refuses or ignores it.
            // SAFETY: advice on the map just made.
            let _ = unsafe { madvise(map, len.get(), MmapAdvise::MADV_HUGEPAGE) };
            map.as_ptr().cast()
        }
        Err(_) => std::ptr::null_mut(),
    }
}

/// Unmaps the map of `len` bytes at `ptr` (made by [`map`] or [`remap`]).
///
/// # Safety
/// `ptr` and `len` are those of a live map, which nothing refers to afterwards.
#[cfg(target_os = "linux")]
unsafe fn unmap(ptr: *mut u8, len: usize) {
    if let Some(ptr) = NonNull::new(ptr) {
        // Fails only for a range that is not a map, which the caller rules out.
        let _ = unsafe { nix::sys::mman::munmap(ptr.cast(), len) };
    }
}

/// The map of `len` bytes at `ptr` resized to `new_len` bytes, moved if it must be (its pages go along,
/// unchanged, advice included), or null if the system refuses.
///
/// # Safety
/// `ptr` and `len` are those of a live map; on success the old address is not used again.
#[cfg(target_os = "linux")]
unsafe fn remap(ptr: *mut u8, len: usize, new_len: usize) -> *mut u8 {
    use nix::sys::mman::{MRemapFlags, mremap};
    if len == new_len {
        return ptr;
    }
    let Some(map) = NonNull::new(ptr) else { return std::ptr::null_mut() };
    match unsafe { mremap(map.cast(), len, new_len, MRemapFlags::MREMAP_MAYMOVE, None) } {
        Ok(map) => map.as_ptr().cast(),
        Err(_) => std::ptr::null_mut(),
    }
}

// Elsewhere nothing is mapped (`Allocator::maps` is false): these are never called.
#[cfg(not(target_os = "linux"))]
fn map(_: usize) -> *mut u8 {
    std::ptr::null_mut()
}

#[cfg(not(target_os = "linux"))]
unsafe fn unmap(_: *mut u8, _: usize) {}

#[cfg(not(target_os = "linux"))]
unsafe fn remap(_: *mut u8, _: usize, _: usize) -> *mut u8 {
    std::ptr::null_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn atomic_words_are_zeroed_and_shared_between_threads() {
        for len in [3, Allocator::LARGE / 8 + 5] {
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
        for len in [0, 3, Allocator::LARGE / 8 + 5] {
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
        let large = Buffer::<f64>::from_slice(&vec![1.5; Allocator::LARGE / 8]);
        assert!(large.iter().all(|&v| v == 1.5));
    }

    #[test]
    fn the_allocator_keeps_a_blocks_bytes_as_it_grows_and_shrinks_across_the_large_size() {
        let pattern = |i: usize| (i % 251) as u8;
        let check = |block: *mut u8, len: usize| {
            // SAFETY: `block` holds at least `len` initialised bytes.
            let bytes = unsafe { std::slice::from_raw_parts(block, len) };
            assert!(bytes.iter().enumerate().all(|(i, &b)| b == pattern(i)), "{len} bytes kept");
        };
        let fill = |block: *mut u8, from: usize, to: usize| {
            for i in from..to {
                // SAFETY: `block` has room for `to` bytes.
                unsafe { block.add(i).write(pattern(i)) };
            }
        };
        let (small, large, larger) = (1000, Allocator::LARGE + 123, 3 * Allocator::LARGE + 5);
        let layout = |size| Layout::from_size_align(size, 8).unwrap();
        // SAFETY: every block is used within its size and released with the layout it has.
        unsafe {
            let block = Allocator.alloc(layout(small));
            fill(block, 0, small);
            let block = Allocator.realloc(block, layout(small), large);
            check(block, small);
            fill(block, small, large);
            let block = Allocator.realloc(block, layout(large), larger);
            check(block, large);
            if cfg!(target_os = "linux") {
                assert_eq!(block as usize % 4096, 0, "a large block is a map of its own");
            }
            fill(block, large, larger);
            let block = Allocator.realloc(block, layout(larger), large + 1);
            check(block, large + 1);
            let block = Allocator.realloc(block, layout(large + 1), small);
            check(block, small);
            Allocator.dealloc(block, layout(small));

            let zeroed = Allocator.alloc_zeroed(layout(larger));
            assert!(std::slice::from_raw_parts(zeroed, larger).iter().all(|&b| b == 0));
            Allocator.dealloc(zeroed, layout(larger));
        }
    }
}
