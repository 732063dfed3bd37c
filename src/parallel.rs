//! Batches of work through worker threads, with the results handed back in input order.
//!
//! The calling thread reads the input (readers such as stdin need not be `Send`) and consumes the results
//! (writers need not be either); with `N` threads it is one of them: `N - 1` workers compute, and the
//! calling thread works a batch itself whenever the workers have enough waiting, and takes the batches
//! still queued once the input is read (rather than wait while a worker gets through them at the end),
//! so `N` threads keep `N` cores busy to the last batch (a reader beside `N` workers would share a core
//! with one of them). Batches are numbered as they are read and results are passed on strictly in that
//! order, so the output is byte-identical whatever the number of threads. At most
//! [`IN_FLIGHT_PER_THREAD`] batches per thread are read ahead, so memory is bounded by the batch size,
//! never by the input size.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, SendError, Sender};

/// Batches read ahead per thread.
pub const IN_FLIGHT_PER_THREAD: usize = 4;

/// Batches waiting for each worker thread before the calling thread works one itself.
pub const QUEUED_PER_WORKER: usize = 2;

/// How items are grouped into batches: a batch is closed once its items weigh `weight` (say, bytes of
/// text) or it holds `items` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Total weight at which a batch is closed.
    pub weight: usize,
    /// Number of items at which a batch is closed.
    pub items: usize,
}

/// The number of threads of this machine (what `--threads` defaults to).
pub fn available_threads() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// Runs `work` over batches of `items` on `threads` threads, the calling one included (each with its own
/// state from `init`), and calls `sink` with every batch's result, in input order. With one thread
/// everything runs on the calling thread.
///
/// An item that is an error ends the input: the batches before it are still worked and sunk, then the
/// error is returned. An error from `sink` stops everything at once and is returned.
pub fn map_ordered<T, S, R, E>(
    items: impl Iterator<Item = Result<T, E>>,
    threads: NonZeroUsize,
    batching: Batching,
    weight: impl Fn(&T) -> usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, Vec<T>) -> R + Sync,
    mut sink: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    R: Send,
{
    let mut reader = BatchReader { items, batching, weight, error: None, done: false };
    if threads.get() == 1 {
        let mut state = init();
        while let Some(batch) = reader.next_batch() {
            sink(work(&mut state, batch))?;
        }
        return reader.error.map_or(Ok(()), Err);
    }
    let threads = threads.get();
    let in_flight = threads * IN_FLIGHT_PER_THREAD;
    std::thread::scope(|scope| {
        // The calling thread reads and sinks, and works a batch itself when the workers' queue is full.
        let workers = threads - 1;
        let (batches, batches_rx) = crossbeam_channel::bounded::<(usize, Vec<T>)>(workers * QUEUED_PER_WORKER);
        let (results_tx, results) = crossbeam_channel::unbounded::<(usize, R)>();
        for _ in 0..workers {
            let (batches_rx, results_tx) = (batches_rx.clone(), results_tx.clone());
            let (init, work) = (&init, &work);
            scope.spawn(move || {
                let mut state = init();
                for (seq, batch) in batches_rx {
                    if results_tx.send((seq, work(&mut state, batch))).is_err() {
                        break;
                    }
                }
            });
        }
        // The calling thread keeps a receiver: once it has nothing to read, it works the queued batches
        // instead of waiting for a worker to get to them.
        let queued = batches_rx;
        drop(results_tx);

        let mut own_state = None;
        let mut waiting: BTreeMap<usize, R> = BTreeMap::new();
        let (mut sent, mut sunk) = (0usize, 0usize);
        loop {
            while let Some(result) = waiting.remove(&sunk) {
                sink(result)?;
                sunk += 1;
            }
            if !reader.done && sent - sunk < in_flight {
                if let Some(batch) = reader.next_batch() {
                    if let Err(full) = batches.try_send((sent, batch)) {
                        let (seq, batch) = full.into_inner();
                        let state = own_state.get_or_insert_with(&init);
                        waiting.insert(seq, work(state, batch));
                    }
                    sent += 1;
                }
                waiting.extend(results.try_iter());
                continue;
            }
            if sunk == sent {
                break;
            }
            if let Ok((seq, batch)) = queued.try_recv() {
                let state = own_state.get_or_insert_with(&init);
                waiting.insert(seq, work(state, batch));
                waiting.extend(results.try_iter());
                continue;
            }
            let (seq, result) = results.recv().expect("a worker thread panicked");
            waiting.insert(seq, result);
        }
        drop(batches);
        reader.error.map_or(Ok(()), Err)
    })
}

/// Runs `work(part, parts)` for every part `0..parts` of a job cut into one part per thread, part 0 on
/// the calling thread and the others on threads of their own, and returns the results in part order.
pub fn in_parts<R: Send>(threads: NonZeroUsize, work: impl Fn(usize, usize) -> R + Sync) -> Vec<R> {
    let parts = threads.get();
    each_on_a_thread((0..parts).collect(), |part| work(part, parts))
}

/// Runs `work(job)` for every job `0..jobs` on up to `threads` threads (the calling one included), each
/// thread taking the next job as it comes free, so jobs of uneven size keep every thread busy; returns the
/// results in job order.
pub fn map_jobs<R: Send>(threads: NonZeroUsize, jobs: usize, work: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let threads = threads.min(NonZeroUsize::new(jobs).unwrap_or(NonZeroUsize::MIN));
    let tickets = Tickets::new(jobs);
    let mut done: Vec<(usize, R)> = in_parts(threads, |_, _| {
        let mut mine = Vec::new();
        while let Some(job) = tickets.take() {
            mine.push((job, work(job)));
        }
        mine
    })
    .into_iter()
    .flatten()
    .collect();
    done.sort_unstable_by_key(|&(job, _)| job);
    done.into_iter().map(|(_, result)| result).collect()
}

/// Runs `work` on every piece of a job, the first on the calling thread and the others on threads of their
/// own, and returns the results in piece order (pieces may hold `&mut` parts of one whole).
pub fn each_on_a_thread<P: Send, R: Send>(pieces: Vec<P>, work: impl Fn(P) -> R + Sync) -> Vec<R> {
    std::thread::scope(|scope| {
        let work = &work;
        let mut pieces = pieces.into_iter();
        let first = pieces.next();
        let others: Vec<_> = pieces.map(|piece| scope.spawn(move || work(piece))).collect();
        let first = first.map(work);
        let rest = others.into_iter().map(|thread| thread.join().expect("a piece's thread does not panic"));
        first.into_iter().chain(rest).collect()
    })
}

/// Part `part` of `0..len` cut into `parts` nearly equal, consecutive ranges (as [`in_parts`] hands out).
pub fn part_of(len: usize, part: usize, parts: usize) -> std::ops::Range<usize> {
    len * part / parts..len * (part + 1) / parts
}

/// Runs `here` on the calling thread and `beside` on another one at the same time, or, with one thread,
/// `beside` first (so that whatever `beside` frees is free before `here` runs).
pub fn side_by_side<A, B: Send>(
    threads: NonZeroUsize,
    here: impl FnOnce() -> A,
    beside: impl FnOnce() -> B + Send,
) -> (A, B) {
    if threads.get() == 1 {
        let b = beside();
        return (here(), b);
    }
    std::thread::scope(|scope| {
        let thread = scope.spawn(beside);
        let a = here();
        (a, thread.join().expect("the thread beside does not panic"))
    })
}

/// A job cut into pieces that any number of threads may take at once, each piece by one thread.
pub trait Pieces: Send + Sync {
    /// Works one piece that no thread has taken yet; false once none is left.
    fn work_piece(&self) -> bool;

    /// Works pieces until every one is taken (other threads may still be working theirs).
    fn work_all(&self) {
        while self.work_piece() {}
    }
}

/// Hands out the numbers `0..len`, each once, to whichever threads ask first: how the threads working a
/// [`Pieces`] job share out its pieces.
#[derive(Debug)]
pub struct Tickets {
    next: AtomicUsize,
    len: usize,
}

impl Tickets {
    /// The numbers `0..len`, none taken yet.
    pub fn new(len: usize) -> Self {
        Self { next: AtomicUsize::new(0), len }
    }

    /// How many numbers there are, taken or not.
    pub fn count(&self) -> usize {
        self.len
    }

    /// The next number no thread has taken, if any is left.
    pub fn take(&self) -> Option<usize> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        (number < self.len).then_some(number)
    }
}

/// A job offered to a thread that would otherwise wait (see [`work_with_help`] and [`send_or_help`]).
pub type Offer = Arc<dyn Pieces>;

/// The channel of [`Offer`]s between a thread with large jobs and a thread that feeds it: it has no room,
/// so an offer is taken only by a thread waiting in [`send_or_help`] at that very moment.
pub fn offers() -> (Sender<Offer>, Receiver<Offer>) {
    crossbeam_channel::bounded(0)
}

/// Works every piece of `job`, offering it on `offers` between pieces until a thread waiting in
/// [`send_or_help`] takes it and works pieces too; returns the job once every piece is done and the helper
/// has let go of it.
pub fn work_with_help<J: Pieces + 'static>(job: J, offers: Option<&Sender<Offer>>) -> J {
    let mut job = Arc::new(job);
    let mut offering = offers;
    loop {
        // A refused offer comes back in the error and is dropped.
        if let Some(offers) = offering
            && offers.try_send(Arc::clone(&job) as Offer).is_ok()
        {
            offering = None;
        }
        if !job.work_piece() {
            break;
        }
    }
    // Every piece is taken: a helper finishes the one it holds, then drops its handle.
    loop {
        match Arc::try_unwrap(job) {
            Ok(job) => return job,
            Err(shared) => {
                job = shared;
                std::thread::yield_now();
            }
        }
    }
}

/// Sends `item` on `channel`, and while the channel is full works the pieces of any job offered on
/// `help`: a thread whose consumer is stuck in a large job helps with it instead of waiting.
pub fn send_or_help<T>(channel: &Sender<T>, item: T, help: &Receiver<Offer>) -> Result<(), SendError<T>> {
    let mut item = Some(item);
    loop {
        let mut select = crossbeam_channel::Select::new();
        let send = select.send(channel);
        select.recv(help);
        let op = select.select();
        if op.index() == send {
            return op.send(channel, item.take().expect("an item is sent once"));
        }
        match op.recv(help) {
            Ok(job) => job.work_all(),
            // No more offers can come: only the send is left.
            Err(_) => return channel.send(item.take().expect("an item is sent once")),
        }
    }
}

/// Cuts an item stream into batches and keeps the first error.
struct BatchReader<I, F, E> {
    items: I,
    batching: Batching,
    weight: F,
    error: Option<E>,
    done: bool,
}

impl<T, E, I: Iterator<Item = Result<T, E>>, F: Fn(&T) -> usize> BatchReader<I, F, E> {
    fn next_batch(&mut self) -> Option<Vec<T>> {
        let mut batch = Vec::new();
        let mut weight = 0;
        while !self.done && weight < self.batching.weight && batch.len() < self.batching.items {
            match self.items.next() {
                Some(Ok(item)) => {
                    weight += (self.weight)(&item);
                    batch.push(item);
                }
                Some(Err(e)) => {
                    self.error = Some(e);
                    self.done = true;
                }
                None => self.done = true,
            }
        }
        (!batch.is_empty()).then_some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(threads: usize, items: Vec<Result<u64, String>>) -> (Vec<u64>, Result<(), String>) {
        let mut out = Vec::new();
        let result = map_ordered(
            items.into_iter(),
            NonZeroUsize::new(threads).unwrap(),
            Batching { weight: 10, items: 3 },
            |&x| x as usize,
            || 0u64,
            |calls, batch| {
                *calls += 1;
                // Uneven work, so batches finish out of order.
                std::thread::sleep(std::time::Duration::from_micros(batch[0] % 7 * 100));
                batch.iter().map(|x| x * 2).collect::<Vec<_>>()
            },
            |doubled| {
                out.extend(doubled);
                Ok(())
            },
        );
        (out, result)
    }

    #[test]
    fn parts_cover_the_job_once_and_come_back_in_order() {
        for threads in 1..=4 {
            let parts = in_parts(NonZeroUsize::new(threads).unwrap(), |part, parts| {
                (part, part_of(100, part, parts).collect::<Vec<_>>())
            });
            assert_eq!(parts.iter().map(|(part, _)| *part).collect::<Vec<_>>(), (0..threads).collect::<Vec<_>>());
            assert_eq!(
                parts.into_iter().flat_map(|(_, items)| items).collect::<Vec<_>>(),
                (0..100).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn jobs_run_once_each_and_come_back_in_order_on_any_number_of_threads() {
        for threads in 1..=4 {
            let runs = std::sync::Mutex::new(Vec::new());
            let results = map_jobs(NonZeroUsize::new(threads).unwrap(), 50, |job| {
                // Uneven work, so jobs finish out of order.
                std::thread::sleep(std::time::Duration::from_micros(job as u64 % 5 * 100));
                runs.lock().unwrap().push(job);
                job * 3
            });
            assert_eq!(results, (0..50).map(|job| job * 3).collect::<Vec<_>>());
            let mut runs = runs.into_inner().unwrap();
            runs.sort_unstable();
            assert_eq!(runs, (0..50).collect::<Vec<_>>(), "every job runs once");
        }
        assert!(map_jobs(NonZeroUsize::new(2).unwrap(), 0, |job| job).is_empty());
    }

    #[test]
    fn side_by_side_runs_beside_first_on_one_thread_and_elsewhere_on_two() {
        let caller = std::thread::current().id();
        let order = std::sync::Mutex::new(Vec::new());
        let on = |threads| {
            order.lock().unwrap().clear();
            side_by_side(
                NonZeroUsize::new(threads).unwrap(),
                || order.lock().unwrap().push("here"),
                || {
                    order.lock().unwrap().push("beside");
                    std::thread::current().id()
                },
            )
            .1
        };
        assert_eq!(on(1), caller);
        assert_eq!(*order.lock().unwrap(), ["beside", "here"]);
        assert_ne!(on(2), caller);
    }

    #[test]
    fn results_come_back_in_input_order_with_any_number_of_threads() {
        let items: Vec<Result<u64, String>> = (0..500).map(Ok).collect();
        let expected: Vec<u64> = (0..500).map(|x| x * 2).collect();
        for threads in [1, 2, 3, 8] {
            let (out, result) = run(threads, items.clone());
            assert_eq!(result, Ok(()));
            assert_eq!(out, expected, "{threads} threads");
        }
    }

    /// Runs `work` over `items` batches of one item on two threads (the calling one and a worker).
    fn on_two_threads(items: u64, work: impl Fn(Vec<u64>) -> Vec<u64> + Sync) -> Result<(), String> {
        let one_item = Batching { weight: usize::MAX, items: 1 };
        let two = NonZeroUsize::new(2).unwrap();
        map_ordered((0..items).map(Ok), two, one_item, |_| 1, || (), |(), batch| work(batch), |_| Ok(()))
    }

    #[test]
    fn the_calling_thread_is_one_of_the_threads() {
        let seen = std::sync::Mutex::new(std::collections::HashSet::new());
        let result = on_two_threads(200, |batch| {
            seen.lock().unwrap().insert(std::thread::current().id());
            std::thread::sleep(std::time::Duration::from_micros(200));
            batch
        });
        assert_eq!(result, Ok(()));
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), 2, "one worker and the calling thread");
        assert!(seen.contains(&std::thread::current().id()));
    }

    #[test]
    fn the_calling_thread_works_the_queued_batches_once_the_input_is_read() {
        // The worker is slow: once everything is read, the calling thread takes the batches still queued
        // for it instead of waiting, so the worker works only the batch it holds (at most one).
        let caller = std::thread::current().id();
        let on_worker = std::sync::atomic::AtomicUsize::new(0);
        let result = on_two_threads(6, |batch| {
            if std::thread::current().id() != caller {
                on_worker.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            batch
        });
        assert_eq!(result, Ok(()));
        assert!(on_worker.into_inner() <= 1, "the worker was left the queued batches");
    }

    /// Pieces numbered from 0, each recording the thread that worked it.
    struct Numbered {
        pieces: Tickets,
        workers: std::sync::Mutex<Vec<std::thread::ThreadId>>,
    }

    impl Pieces for Numbered {
        fn work_piece(&self) -> bool {
            if self.pieces.take().is_none() {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
            self.workers.lock().unwrap().push(std::thread::current().id());
            true
        }
    }

    #[test]
    fn a_thread_waiting_to_send_helps_with_the_job_that_holds_up_its_consumer() {
        let job = || Numbered { pieces: Tickets::new(100), workers: Default::default() };
        let (items, queued) = crossbeam_channel::bounded::<u32>(1);
        let (offer, help) = offers();
        let feeder = std::thread::current().id();
        let done = std::thread::scope(|scope| {
            let consumer = scope.spawn(move || {
                // Busy with a job while the feeder's second item cannot go in: the feeder helps.
                let done = work_with_help(job(), Some(&offer));
                let got: Vec<u32> = queued.iter().collect();
                (done, got)
            });
            send_or_help(&items, 1, &help).unwrap();
            send_or_help(&items, 2, &help).unwrap();
            drop(items);
            consumer.join().unwrap()
        });
        let (done, got) = done;
        assert_eq!(got, [1, 2]);
        let workers = done.workers.into_inner().unwrap();
        assert_eq!(workers.len(), 100, "every piece worked once");
        assert!(workers.contains(&feeder), "the waiting feeder worked pieces");
        assert!(workers.iter().any(|&w| w != feeder), "the job's owner worked pieces");
        // With no one to help, the owner works every piece itself.
        let alone = work_with_help(job(), None).workers.into_inner().unwrap();
        assert!(alone.len() == 100 && alone.iter().all(|&w| w == feeder));
    }

    #[test]
    fn an_input_error_comes_after_everything_before_it() {
        let mut items: Vec<Result<u64, String>> = (0..100).map(Ok).collect();
        items.insert(50, Err("bad row".into()));
        for threads in [1, 4] {
            let (out, result) = run(threads, items.clone());
            assert_eq!(result, Err("bad row".into()));
            assert_eq!(out, (0..50).map(|x| x * 2).collect::<Vec<_>>(), "{threads} threads");
        }
    }

    #[test]
    fn a_sink_error_stops_the_run() {
        for threads in [1, 3] {
            let mut calls = 0;
            let result = map_ordered(
                (0..10_000u64).map(Ok::<u64, String>),
                NonZeroUsize::new(threads).unwrap(),
                Batching { weight: usize::MAX, items: 10 },
                |_| 1,
                || (),
                |(), batch| batch.len(),
                |_| {
                    calls += 1;
                    if calls == 3 { Err("disk full".to_owned()) } else { Ok(()) }
                },
            );
            assert_eq!(result, Err("disk full".into()));
            assert_eq!(calls, 3);
        }
    }
}
