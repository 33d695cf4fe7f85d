//! What other threads reach of a runtime: each core's [`Remote`] half (its
//! doorbell, the producer foreign threads share, the overflow list, the
//! published statistics), the runtime's [`Shared`] half and its [`Config`],
//! and the send path into a core's inbox ([`send`], [`deliver`]).
//!
//! The inbox ring and the doorbell handshake themselves are in
//! `inbox.rs`; the core's own loop, which drains what arrives here, is in
//! `worker.rs`.

use super::clock::Ticks;
use super::inbox::{Doorbell, Msg};
use super::stats::Published;
use super::task::Kind;
use super::worker::{same, with_worker};
use super::Idle;
use crate::queue::{mpsc, PushError};
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};
use std::collections::VecDeque;
use std::time::Duration;

/// What every core's executor is configured with.
pub(crate) struct Config {
    pub(crate) idle: Idle,
    pub(crate) stealing: bool,
    pub(crate) tick: Duration,
    pub(crate) quantum: Ticks,
    pub(crate) starvation: Ticks,
    pub(crate) inbox_capacity: usize,
    pub(crate) steal_capacity: usize,
    /// The io driver's settings (each core makes its ring on its thread).
    #[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
    pub(crate) io: crate::io::Config,
}

/// The part of a core other threads reach.
pub(crate) struct Remote {
    pub(crate) doorbell: Doorbell,
    /// The producer threads outside the runtime share.
    pub(crate) foreign: Mutex<Foreign>,
    /// Where a push to a full inbox goes (never lost).
    overflow: Mutex<VecDeque<Msg>>,
    overflow_len: AtomicUsize,
    /// The latest statistics this core published.
    pub(crate) published: Mutex<Published>,
    /// The last `Shared::stats_epoch` this core published for.
    pub(crate) stats_ack: AtomicU64,
}

impl Remote {
    pub(crate) fn new(doorbell: Doorbell, foreign: mpsc::Producer<Msg>) -> Remote {
        Remote {
            doorbell,
            foreign: Mutex::new(Foreign {
                tx: foreign,
                closed: false,
            }),
            overflow: Mutex::new(VecDeque::new()),
            overflow_len: AtomicUsize::new(0),
            published: Mutex::new(Published::new()),
            stats_ack: AtomicU64::new(0),
        }
    }

    fn spill(&self, msg: Msg) {
        self.overflow.lock().push_back(msg);
        // Relaxed: the doorbell's SeqCst fences order it before the
        // sender's state load and after the sleeper's announcement (the
        // mutex orders the list itself).
        self.overflow_len.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn has_overflow(&self) -> bool {
        // Relaxed: see `spill`.
        self.overflow_len.load(Ordering::Relaxed) != 0
    }

    /// Takes up to `max` spilled messages, oldest first (the core's thread).
    pub(crate) fn take_overflow(&self, max: usize) -> Vec<Msg> {
        let mut o = self.overflow.lock();
        let k = o.len().min(max);
        // Relaxed: see `spill`.
        self.overflow_len.fetch_sub(k, Ordering::Relaxed);
        o.drain(..k).collect()
    }
}

/// The producer threads outside the runtime share, and whether the core
/// has made its last drain (then nothing may enter: it would be stranded).
pub(crate) struct Foreign {
    pub(crate) tx: mpsc::Producer<Msg>,
    pub(crate) closed: bool,
}

/// The runtime's shared half (every task's metadata holds an `Arc` of it).
pub(crate) struct Shared {
    pub(crate) cores: Box<[Remote]>,
    pub(crate) config: Config,
    pub(crate) shutdown: AtomicBool,
    /// Parked cores that steal (bit per core index < 64): a hint for
    /// owners that have stealable work piling up.
    pub(crate) sleepers: AtomicU64,
    /// Bumped by `Runtime::stats` to ask every core for a fresh snapshot.
    pub(crate) stats_epoch: AtomicU64,
}

impl Shared {
    pub(crate) fn new(cores: Box<[Remote]>, config: Config) -> Shared {
        Shared {
            cores,
            config,
            shutdown: AtomicBool::new(false),
            sleepers: AtomicU64::new(0),
            stats_epoch: AtomicU64::new(0),
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        // Acquire: pairs with the Release store in `begin_shutdown`.
        self.shutdown.load(Ordering::Acquire)
    }

    /// Tells every core to stop: the flag, then every doorbell (a parked
    /// core's re-check reads the flag).
    pub(crate) fn begin_shutdown(&self) {
        // Release: pairs with the Acquire in `is_shutdown`.
        self.shutdown.store(true, Ordering::Release);
        for remote in self.cores.iter() {
            remote.doorbell.ring();
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        for remote in self.cores.iter() {
            let left: Vec<Msg> = remote.overflow.lock().drain(..).collect();
            left.into_iter().for_each(dispose);
        }
    }
}

/// Gets rid of a message that can no longer be delivered (its core has
/// exited). A local task's `Runnable` must not be dropped off its thread
/// (task rule 3): it is leaked. By the shutdown protocol no live local task
/// exists by then; this is the belt to those braces.
fn dispose(msg: Msg) {
    if let Msg::Run(r) = msg {
        if r.metadata().kind == Kind::Local {
            std::mem::forget(r);
        } else {
            drop(r);
        }
    }
}

/// Sends `msg` to `core`'s inbox from any thread, and rings its doorbell.
pub(crate) fn send(shared: &Shared, core: usize, msg: Msg) {
    with_worker(|w| match same(w, shared) {
        Some(w) => w.send(core, msg),
        None => {
            let remote = &shared.cores[core];
            let mut foreign = remote.foreign.lock();
            if foreign.closed {
                // The core has exited: nobody would ever take it.
                drop(foreign);
                return dispose(msg);
            }
            let pushed = foreign.tx.push(msg);
            // A spill happens under the lock too, so the core's last drain
            // (which holds it) sees every message that got in.
            let pushed = match pushed {
                Err(PushError::Full(msg) | PushError::Busy(msg)) => {
                    remote.spill(msg);
                    Ok(())
                }
                other => other,
            };
            drop(foreign);
            deliver(remote, pushed);
        }
    })
}

/// The rest of a send once the push into `remote`'s inbox was tried (the
/// lock of a shared producer released): a full ring spills, then the
/// doorbell rings (its fence orders the push, or the spill, before its
/// read of the core's state).
pub(crate) fn deliver(remote: &Remote, pushed: Result<(), PushError<Msg>>) {
    match pushed {
        Ok(()) => {}
        Err(PushError::Full(msg) | PushError::Busy(msg)) => remote.spill(msg),
        Err(PushError::Disconnected(msg)) => return dispose(msg),
    }
    remote.doorbell.ring();
}
