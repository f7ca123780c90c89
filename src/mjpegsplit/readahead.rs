// SPDX-License-Identifier: MIT OR Apache-2.0

//! Pull mode: a thread that reads the next blocks while the task scans the
//! current one, so that reading (a copy out of the page cache) and scanning
//! run on two cores. Blocks come in order from an offset the task sets;
//! a new offset (a seek, a flush) starts a new generation and older blocks
//! are dropped.

use gst::prelude::*;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// Blocks read ahead of the task.
const DEPTH: usize = 2;

/// A block read at `offset`, for generation `generation`.
type Block = (u64, u64, Result<gst::Buffer, gst::FlowError>);

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
}

pub struct ReadAhead {
    shared: Arc<Shared>,
    blocks: Receiver<Block>,
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
        });
        let (tx, rx) = sync_channel(DEPTH);
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("mjpegsplit-read".into())
            .spawn(move || read_loop(&s, &tx, &pad, block))
            .ok();
        ReadAhead {
            shared,
            blocks: rx,
            thread,
            generation: 0,
            offset: u64::MAX,
        }
    }

    /// The block at `offset`: read ahead if it was, else asked for now.
    pub fn next(&mut self, offset: u64) -> Result<gst::Buffer, gst::FlowError> {
        if offset != self.offset {
            self.seek(offset);
        }
        let mut retried = false;
        loop {
            match self.blocks.recv() {
                Ok((generation, at, result)) if generation == self.generation && at == offset => {
                    match &result {
                        Ok(b) => self.offset = offset + b.size() as u64,
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
                Ok(_) => continue,
                Err(_) => return Err(gst::FlowError::Flushing),
            }
        }
    }

    /// Read from `offset` on (new generation).
    fn seek(&mut self, offset: u64) {
        self.generation += 1;
        self.offset = offset;
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
        // A reader blocked handing over a stale block sees the new
        // generation once `next` has taken (and dropped) that block.
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
        while self.blocks.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            while !t.is_finished() {
                while self.blocks.try_recv().is_ok() {}
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

fn read_loop(shared: &Shared, tx: &SyncSender<Block>, pad: &gst::Pad, block: u32) {
    let (mut generation, mut offset) = (u64::MAX, 0);
    loop {
        {
            let mut c = shared.command.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if c.stop {
                    return;
                }
                if c.generation != generation {
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
        let result = pull(pad, offset, block);
        let failed = result.is_err();
        let size = result.as_ref().map_or(0, |b| b.size() as u64);
        if tx.send((generation, offset, result)).is_err() {
            return;
        }
        offset += size;
        if failed || size == 0 {
            // Wait for a new offset.
            let mut c = shared.command.lock().unwrap_or_else(|e| e.into_inner());
            if c.generation == generation {
                c.idle = true;
            }
        }
    }
}
