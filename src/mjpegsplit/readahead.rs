// SPDX-License-Identifier: MIT OR Apache-2.0

//! Pull mode: a thread that reads the next blocks while the task scans the
//! current one, so that reading (a copy out of the page cache) and scanning
//! run on two cores. Blocks come in order from an offset the task sets;
//! a new offset (a seek, a flush) starts a new generation and older blocks
//! are dropped.
//!
//! Blocks are handed over in batches: waking the other thread costs about
//! as much as reading a block of a hundred KiB, and blocks are that small
//! when frames are (`pull.rs` sizes them to the frames, so that frames go
//! out without a copy). A batch goes when it holds `BATCH_BYTES` or when
//! reading stops (the end, an error). After a slow read (a source that is
//! not a file in the page cache) each block goes as soon as it is read, for
//! the next `UNBATCHED` reads: a source whose reads are slow now and then
//! never has bytes it gave wait behind its next slow read.
//!
//! When the task falls behind (the batch before is still waiting for it),
//! the thread lists where the JPEG walk must stop in the new batch's blocks
//! while they are still in its cache ([`Hints`]): the task then walks them
//! at a fraction of the cost, and the two threads balance themselves.

use crate::jpeg::Hints;
use gst::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Batches ready ahead of the task, besides the one being read and the one
/// the task takes blocks from.
const DEPTH: usize = 1;

/// A batch goes once it holds this many bytes.
const BATCH_BYTES: usize = 512 * 1024;

/// Reads handed over one by one after a slow one.
const UNBATCHED: u32 = 64;

/// A read that took this long is a slow one.
const SLOW_READ: Duration = Duration::from_millis(2);

/// A block read at `offset`, for generation `generation`, with its hints
/// if they were found.
type Block = (
    u64,
    u64,
    Result<(gst::Buffer, Option<Hints>), gst::FlowError>,
);

#[derive(Default)]
struct Command {
    generation: u64,
    offset: u64,
    /// The reader waits until told an offset (after an error or the end).
    idle: bool,
    stop: bool,
}

struct Shared {
    command: Mutex<Command>,
    wake: Condvar,
    /// Bytes per read.
    block: AtomicU32,
}

pub struct ReadAhead {
    shared: Arc<Shared>,
    batches: Receiver<Vec<Block>>,
    /// What is left of the batch being taken from.
    pending: std::collections::VecDeque<Block>,
    thread: Option<JoinHandle<()>>,
    /// What the task expects next.
    generation: u64,
    offset: u64,
}

impl ReadAhead {
    /// Start reading `block` bytes at a time from `pad` (pull_range), from
    /// the offset the first [`ReadAhead::next`] asks for.
    pub fn start(pad: gst::Pad, block: u32) -> ReadAhead {
        let shared = Arc::new(Shared {
            command: Mutex::new(Command {
                idle: true,
                ..Default::default()
            }),
            wake: Condvar::new(),
            block: AtomicU32::new(block),
        });
        let (tx, rx) = sync_channel(DEPTH);
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("mjpegsplit-read".into())
            .spawn(move || {
                // A bug must not stall playback without a word.
                let read = std::panic::AssertUnwindSafe(|| read_loop(&s, &tx, &pad));
                if std::panic::catch_unwind(read).is_err()
                    && let Some(element) = pad.parent_element()
                {
                    let msg = gst::message::Error::builder(
                        gst::StreamError::Failed,
                        "Internal error in mjpegsplit's reading thread (a bug: please report it)",
                    )
                    .src(&element)
                    .build();
                    let _ = element.post_message(msg);
                }
            })
            .ok();
        ReadAhead {
            shared,
            batches: rx,
            pending: Default::default(),
            thread,
            generation: 0,
            offset: u64::MAX,
        }
    }

    /// Read `block` bytes at a time from now on.
    pub fn set_block(&self, block: u32) {
        self.shared.block.store(block, Ordering::Relaxed);
    }

    /// The next block handed over, waiting for a batch if none is left.
    fn take(&mut self) -> Option<Block> {
        if self.pending.is_empty() {
            self.pending.extend(self.batches.recv().ok()?);
        }
        self.pending.pop_front()
    }

    /// The block at `offset`: read ahead if it was, else asked for now.
    pub fn next(&mut self, offset: u64) -> Result<(gst::Buffer, Option<Hints>), gst::FlowError> {
        if offset != self.offset {
            self.seek(offset);
        }
        let mut retried = false;
        loop {
            match self.take() {
                Some((generation, at, result)) if generation == self.generation && at == offset => {
                    match &result {
                        Ok((b, _)) => self.offset = offset + b.size() as u64,
                        // Read while a flush went on before this request:
                        // ask again once (still flushing: it is for us).
                        Err(gst::FlowError::Flushing) if !retried => {
                            retried = true;
                            self.seek(offset);
                            continue;
                        }
                        // The reader stopped: it waits for a new offset.
                        Err(_) => self.offset = u64::MAX,
                    }
                    return result;
                }
                // An older generation.
                Some(_) => continue,
                None => return Err(gst::FlowError::Flushing),
            }
        }
    }

    /// Read from `offset` on (new generation).
    fn seek(&mut self, offset: u64) {
        self.generation += 1;
        self.offset = offset;
        self.pending.clear();
        {
            let mut c = self
                .shared
                .command
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            c.generation = self.generation;
            c.offset = offset;
            c.idle = false;
        }
        // A reader blocked handing over a stale batch sees the new
        // generation once `next` has taken (and dropped) that batch.
        self.shared.wake.notify_all();
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        {
            let mut c = self
                .shared
                .command
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            c.stop = true;
        }
        self.shared.wake.notify_all();
        // Unblock a send, then wait for the thread.
        while self.batches.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            while !t.is_finished() {
                while self.batches.try_recv().is_ok() {}
                std::thread::yield_now();
            }
            let _ = t.join();
        }
    }
}

/// `pull_range`, where an empty buffer is the end: a pull source with
/// nothing at an offset would give the same again when asked again.
pub fn pull(pad: &gst::Pad, offset: u64, size: u32) -> Result<gst::Buffer, gst::FlowError> {
    match pad.pull_range(offset, size) {
        Ok(b) if b.size() == 0 => Err(gst::FlowError::Eos),
        result => result,
    }
}

fn read_loop(shared: &Shared, tx: &SyncSender<Vec<Block>>, pad: &gst::Pad) {
    // Generation 0 is no request: it waits for the task's first.
    let (mut generation, mut offset) = (0, 0);
    let (mut batch, mut batch_bytes) = (Vec::new(), 0);
    // Reads left that go one by one (after a slow one).
    let mut unbatched = 0;
    loop {
        {
            let mut c = shared.command.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if c.stop {
                    return;
                }
                if c.generation != generation {
                    // What was read for the old offset is of no use.
                    batch.clear();
                    batch_bytes = 0;
                    generation = c.generation;
                    offset = c.offset;
                    break;
                }
                if !c.idle {
                    break;
                }
                c = shared.wake.wait(c).unwrap_or_else(|e| e.into_inner());
            }
        }
        let began = Instant::now();
        let result = pull(pad, offset, shared.block.load(Ordering::Relaxed)).map(|b| (b, None));
        unbatched = if began.elapsed() >= SLOW_READ {
            UNBATCHED
        } else {
            unbatched.saturating_sub(1)
        };
        let size = result.as_ref().map_or(0, |(b, _)| b.size());
        batch.push((generation, offset, result));
        offset += size as u64;
        batch_bytes += size;
        // An error or the end: reading stops (an empty read is the end).
        let stopped = size == 0;
        if batch_bytes >= BATCH_BYTES || unbatched > 0 || stopped {
            batch_bytes = 0;
            let full = match tx.try_send(std::mem::take(&mut batch)) {
                Ok(()) => None,
                Err(TrySendError::Full(full)) => Some(full),
                Err(TrySendError::Disconnected(_)) => return,
            };
            if let Some(mut full) = full {
                // The task is behind: help it while waiting for it.
                for (_, at, result) in &mut full {
                    if let Ok((b, hints)) = result
                        && let Ok(map) = b.map_readable()
                    {
                        *hints = Some(Hints::find(&map, *at));
                    }
                }
                if tx.send(full).is_err() {
                    return;
                }
            }
        }
        if stopped {
            // Wait for a new offset.
            let mut c = shared.command.lock().unwrap_or_else(|e| e.into_inner());
            if c.generation == generation {
                c.idle = true;
            }
        }
    }
}
