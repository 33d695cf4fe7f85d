//! The scheduler's protocols as the loom models in
//! `loom-tests/tests/sched.rs` drive them (loom builds only; not part of
//! the API). Each hook runs the real code: the real `Doorbell`, `mpsc`
//! inbox, send path (`remote::send`, `remote::deliver`), task metadata
//! (`Meta`'s abort halves), steal step (`worker::steal_half`) and, for the
//! wake and abort models, the real worker loop (`Worker::main`) on a
//! one-core runtime.
//!
//! What the models cannot cover: `async-task`'s own state word (a
//! `Runnable`'s scheduled/running/completed bits) uses std atomics, not
//! loom's, so loom runs each of its transitions as one indivisible step
//! and explores no interleaving inside them; the models check what our
//! code does around them (where a wake goes, that it is not lost, that
//! the task is scheduled again once).

use super::inbox::Msg;
use super::park::{Park, SignalPark};
use super::remote::{self, Config, Shared};
use super::task::{JoinHandle, Kind, Meta};
use super::worker::{self, Parts, Worker};
use super::{CoreStats, Idle, Priority, CLASSES};
use crate::queue::{mpsc, spmc};
use crate::sync::Arc;
use std::future::Future;
use std::time::Duration;

/// A runtime's shared half with one core (index 0): parked when idle, no
/// stealing. Returns it with a producer of the core's inbox (what another
/// core holds) and the inbox's consumer.
fn one_core(inbox_capacity: usize) -> (Arc<Shared>, mpsc::Producer<Msg>, mpsc::Consumer<Msg>) {
    one_core_idle(inbox_capacity, Idle::Park)
}

fn one_core_idle(
    inbox_capacity: usize,
    idle: Idle,
) -> (Arc<Shared>, mpsc::Producer<Msg>, mpsc::Consumer<Msg>) {
    let config = Config {
        idle,
        stealing: false,
        tick: Duration::from_micros(100),
        quantum: super::clock::from_duration(Duration::from_micros(50)),
        starvation: super::clock::from_duration(Duration::from_millis(1)),
        inbox_capacity,
        steal_capacity: 2,
    };
    let (tx, rx) = mpsc::channel::<Msg>(inbox_capacity);
    let doorbell = super::inbox::Doorbell::new().expect("the loom doorbell cannot fail");
    let remote = remote::Remote::new(doorbell, tx.clone());
    let shared = Arc::new(Shared::new(Box::new([remote]), config));
    (shared, tx, rx)
}

fn id(m: Msg) -> u32 {
    match m {
        Msg::Deregister(v) | Msg::Abort(v) => v,
        Msg::Run(_) | Msg::CancelTimer(_) => unreachable!("the inbox models send ids only"),
    }
}

/// Model 1: core 0's inbox and doorbell, held by the core's thread.
pub struct Inbox {
    shared: Arc<Shared>,
    rx: mpsc::Consumer<Msg>,
    peer: mpsc::Producer<Msg>,
}

/// A sender to an [`Inbox`]: another core (its own producer) or a thread
/// outside the runtime (the shared producer behind the mutex).
pub struct Sender {
    shared: Arc<Shared>,
    peer: Option<mpsc::Producer<Msg>>,
}

impl Inbox {
    /// An inbox ring of `capacity` (a full ring spills into the overflow
    /// list, as at run time).
    pub fn new(capacity: usize) -> Inbox {
        let (shared, peer, rx) = one_core(capacity);
        Inbox { shared, rx, peer }
    }

    /// A sender with a producer of its own, as another core sends
    /// (`Worker::send`).
    pub fn peer(&self) -> Sender {
        Sender {
            shared: self.shared.clone(),
            peer: Some(self.peer.clone()),
        }
    }

    /// A sender outside the runtime (`remote::send` from a thread that is
    /// no core: the shared producer behind its mutex).
    pub fn foreign(&self) -> Sender {
        Sender {
            shared: self.shared.clone(),
            peer: None,
        }
    }

    /// Takes one item, from the ring first, then the overflow list (as
    /// `Worker::drain_inbox`).
    pub fn try_recv(&mut self) -> Option<u32> {
        if let Ok(m) = self.rx.pop() {
            return Some(id(m));
        }
        let remote = &self.shared.cores[0];
        if remote.has_overflow() {
            return remote.take_overflow(1).pop().map(id);
        }
        None
    }

    /// The core's park step as `Worker::park` takes it: announce
    /// (`prepare_park`), re-check the inbox and the overflow list (the
    /// inbox part of `Worker::has_work`), sleep on the doorbell (the real
    /// `SignalPark`, no timer) only if both are empty (else a yield to
    /// loom, as there), `finish_park`. Returns whether it slept.
    pub fn park(&mut self) -> bool {
        let remote = &self.shared.cores[0];
        remote.doorbell.prepare_park();
        let empty = self.rx.is_empty() && !remote.has_overflow();
        if empty {
            SignalPark.park(&remote.doorbell, None);
        } else {
            // As `Worker::park`: a slot may be claimed and not yet written.
            crate::sync::loom_yield();
        }
        remote.doorbell.finish_park();
        empty
    }
}

impl Sender {
    /// Sends one item (`Msg::Deregister(v)`, a message with no task in
    /// it) and rings the doorbell.
    pub fn send(&mut self, v: u32) {
        let msg = Msg::Deregister(v);
        match &mut self.peer {
            Some(tx) => {
                let pushed = tx.push(msg);
                remote::deliver(&self.shared.cores[0], pushed);
            }
            None => remote::send(&self.shared, 0, msg),
        }
    }
}

/// Model 2: the metadata of one task (no task around it), for rule 5's
/// Dekker pair.
pub struct AbortPair {
    meta: Meta,
}

impl AbortPair {
    /// A task homed on core 0 that was never polled.
    #[allow(clippy::new_without_default)]
    pub fn new() -> AbortPair {
        let (shared, _, _) = one_core(2);
        AbortPair {
            meta: Meta::new(shared, 0, Priority::Normal, Kind::Pinned),
        }
    }

    /// The wrapper's first poll, as `TaskCell::poll` takes it: publish the
    /// registry entry `(core, slot)`, then read the abort flag.
    pub fn first_poll(&self, core: u32, slot: u32) -> bool {
        self.meta.publish_registration(core, slot);
        self.meta.aborted()
    }

    /// `JoinHandle::abort`'s half: set the flag, then read the
    /// registration (`Some`: the entry to wake the task through).
    pub fn abort(&self) -> Option<(usize, u32)> {
        self.meta.request_abort()
    }
}

/// Model 3: one steal from a victim's stealable ring, as `Worker::steal`
/// takes it (half of its length, rounded up, in one claim).
pub fn steal_half<T>(rx: &mut spmc::Consumer<T>, out: &mut Vec<T>) -> usize {
    worker::steal_half(rx, out)
}

/// Models 2 (on the core) and 4: a one-core runtime whose core runs the
/// real worker loop
/// (`Worker::main`: inbox, queues, park on the doorbell, the shutdown
/// protocol), parked when idle, without stealing, its clock stopped (under
/// loom `clock::now` is 0, so every execution takes the same path).
pub struct Core {
    shared: Arc<Shared>,
    parts: Option<Parts>,
    /// A producer of the core's inbox, as another core holds one.
    peer: mpsc::Producer<Msg>,
}

/// Spawns onto a [`Core`] from another thread (see [`Core::spawner`]).
#[derive(Clone)]
pub struct Spawner(Arc<Shared>);

impl Spawner {
    /// `Handle::stats` on the core's runtime.
    pub fn stats(&self) -> super::Stats {
        super::runtime::Handle::from_shared(self.0.clone()).stats()
    }

    /// As [`Core::spawn`].
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        super::runtime::spawn_remote(&self.0, 0, Priority::Normal, fut).expect("core 0 exists")
    }
}

/// The core's thread body (see [`Core::runner`]).
pub struct Runner(Parts);

impl Core {
    /// The runtime, before its core's thread starts.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Core {
        Core::with_idle(Idle::Park)
    }

    /// [`Core::new`] with a core that busy-polls when idle (never parks:
    /// keeps the doorbell out of a model about the shutdown drain).
    pub fn busy_poll() -> Core {
        Core::with_idle(Idle::BusyPoll)
    }

    fn with_idle(idle: Idle) -> Core {
        let (shared, peer, inbox) = one_core_idle(2, idle);
        let (steal_tx, steal_rx): (Vec<_>, Vec<_>) = (0..CLASSES).map(|_| spmc::channel(2)).unzip();
        let parts = Parts {
            index: 0,
            shared: shared.clone(),
            inbox,
            peers: vec![peer.clone()],
            steal_tx: to_array(steal_tx),
            steal_rx: to_array(steal_rx),
            victims: Vec::new(),
            park: Box::new(SignalPark),
        };
        Core {
            shared,
            parts: Some(parts),
            peer,
        }
    }

    /// Spawns a task on the core from this thread, as `Runtime::spawn_on`
    /// does (a `Msg::Run` through the inbox).
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        super::runtime::spawn_remote(&self.shared, 0, Priority::Normal, fut).expect("core 0 exists")
    }

    /// A sender with a producer of its own, as another core sends
    /// (`Worker::send`: a `Msg::CancelTimer` or `Msg::Abort` from a drop
    /// in that core's shutdown phases).
    pub fn peer(&self) -> Sender {
        Sender {
            shared: self.shared.clone(),
            peer: Some(self.peer.clone()),
        }
    }

    /// A handle that spawns onto the core from any thread, as
    /// `Handle::spawn_on` does.
    pub fn spawner(&self) -> Spawner {
        Spawner(self.shared.clone())
    }

    /// What the core's thread runs (once).
    pub fn runner(&mut self) -> Runner {
        Runner(self.parts.take().expect("one runner per core"))
    }

    /// Stops the core, as `Runtime::shutdown` does (the flag, then the
    /// doorbell); its thread then runs the shutdown protocol and returns.
    pub fn shutdown(&self) {
        self.shared.begin_shutdown();
    }

    /// The counters the core published (final once its thread returned).
    pub fn stats(&self) -> CoreStats {
        self.shared.cores[0].published.lock().stats.clone()
    }
}

impl Runner {
    /// The core's thread: the worker loop until shutdown, then the
    /// shutdown protocol (one core: its barrier never waits).
    pub fn run(self) {
        Worker::new(self.0).main(&std::sync::Barrier::new(1));
    }
}

fn to_array<T>(v: Vec<T>) -> [T; CLASSES] {
    v.try_into()
        .unwrap_or_else(|_| unreachable!("one per class"))
}
