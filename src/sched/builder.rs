//! [`Builder`]: how a runtime is configured and started.

use super::clock;
use super::inbox::Doorbell;
use super::park::SignalPark;
use super::remote::{Config, Remote, Shared};
use super::runtime::{Exit, Runtime};
use super::worker::{Parts, Worker};
use super::CLASSES;
use crate::queue::{mpsc, spmc};
use crate::sync::Arc;
use crate::topology::{self, CpuId, Topology};
use std::fmt;
use std::time::Duration;

/// What a core does when it has nothing to run.
///
/// # Examples
///
/// ```
/// use corelane::sched::{Idle, Runtime};
/// use std::time::Duration;
///
/// let rt = Runtime::builder()
///     .cores([0])
///     .pin(false)
///     .idle(Idle::Spin(Duration::from_micros(20)))
///     .build()?;
/// assert_eq!(rt.block_on(async { 1 }), 1);
/// # Ok::<(), corelane::sched::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// Sleep on the core's doorbell (an eventfd) until a wake or the next
    /// timer. Costs nothing while idle; a wake costs a syscall and the
    /// kernel's wake-up latency (tens of µs across vCPUs under KVM).
    Park,
    /// Spin for this long (checking the inbox, timers and other cores'
    /// stealable work), then park. The default, with 50 µs.
    Spin(Duration),
    /// Never sleep: the lowest wake latency, one CPU at 100% forever.
    BusyPoll,
}

/// Why a runtime could not be built.
///
/// # Examples
///
/// ```
/// use corelane::sched::{Error, Runtime};
///
/// match Runtime::builder().cores([4096]).build() {
///     Err(Error::BadCpu { cpu, reason }) => println!("CPU {cpu}: {reason}"),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `.cores(..)` was given no CPU.
    NoCores,
    /// A CPU id that cannot host a core.
    BadCpu {
        /// The CPU.
        cpu: CpuId,
        /// Why: not online, not in the process's affinity mask, or listed twice.
        reason: &'static str,
    },
    /// The kernel refused to pin a core's thread to its CPU.
    PinRefused {
        /// The CPU.
        cpu: CpuId,
        /// What the kernel said.
        source: topology::Error,
    },
    /// A core's thread could not be spawned.
    Spawn {
        /// The core index.
        core: usize,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A core's doorbell (an eventfd) could not be created.
    Doorbell(std::io::Error),
    /// The machine's topology could not be read (needed for the default
    /// core list).
    Topology(topology::Error),
    /// A setting is out of range (a zero tick, say).
    Config(&'static str),
    /// A core could not make its io_uring and
    /// [`io::Config::required`](crate::io::Config::required) was set.
    #[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
    Io {
        /// The core index.
        core: usize,
        /// Why.
        cause: crate::io::Unavailable,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoCores => f.write_str("no CPU to run a core on"),
            Error::BadCpu { cpu, reason } => write!(f, "CPU {cpu} cannot host a core: {reason}"),
            Error::PinRefused { cpu, source } => {
                write!(f, "pinning a core to CPU {cpu} was refused: {source}")
            }
            Error::Spawn { core, source } => {
                write!(f, "spawning the thread of core {core} failed: {source}")
            }
            Error::Doorbell(e) => write!(f, "creating a core's doorbell (eventfd) failed: {e}"),
            Error::Topology(e) => write!(f, "reading the CPU topology failed: {e}"),
            Error::Config(what) => write!(f, "invalid runtime setting: {what}"),
            #[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
            Error::Io { core, cause } => write!(f, "core {core} has no io_uring: {cause}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::PinRefused { source, .. } | Error::Topology(source) => Some(source),
            Error::Spawn { source, .. } | Error::Doorbell(source) => Some(source),
            _ => None,
        }
    }
}

/// Configures a [`Runtime`]; see [`Runtime::builder`].
///
/// # Examples
///
/// ```
/// use corelane::sched::{Idle, Runtime};
/// use std::time::Duration;
///
/// let rt = Runtime::builder()
///     .cores([0])
///     .pin(false)
///     .idle(Idle::Park)
///     .stealing(false)
///     .tick(Duration::from_micros(100))
///     .quantum(Duration::from_micros(50))
///     .starvation_bound(Duration::from_millis(1))
///     .build()?;
/// assert_eq!(rt.cores(), 1);
/// # Ok::<(), corelane::sched::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    cpus: Option<Vec<CpuId>>,
    pin: bool,
    idle: Idle,
    stealing: bool,
    tick: Duration,
    quantum: Duration,
    starvation: Duration,
    inbox_capacity: usize,
    #[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
    io: crate::io::Config,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            cpus: None,
            pin: true,
            idle: Idle::Spin(Duration::from_micros(50)),
            stealing: true,
            tick: Duration::from_micros(100),
            quantum: Duration::from_micros(50),
            starvation: Duration::from_millis(1),
            inbox_capacity: 1024,
            #[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
            io: crate::io::Config::default(),
        }
    }
}

impl Builder {
    /// The CPUs to run one core each on, in core-index order. Default: one
    /// per physical core of the process's affinity mask (its first SMT
    /// sibling), in topology order.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    pub fn cores<I>(mut self, cpus: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<CpuId>,
    {
        self.cpus = Some(cpus.into_iter().map(Into::into).collect());
        self
    }

    /// Whether each core's thread is pinned to its CPU (default: yes).
    /// Unpinned cores still get one thread each; the CPU ids then only
    /// name them.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    pub fn pin(mut self, yes: bool) -> Self {
        self.pin = yes;
        self
    }

    /// What an idle core does (default: [`Idle::Spin`] for 50 µs).
    ///
    /// # Examples
    ///
    /// See [`Idle`].
    pub fn idle(mut self, idle: Idle) -> Self {
        self.idle = idle;
        self
    }

    /// Whether idle cores steal `Send` tasks spawned with
    /// [`spawn`](super::spawn) from busy ones (default: yes).
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    pub fn stealing(mut self, yes: bool) -> Self {
        self.stealing = yes;
        self
    }

    /// The tick of each core's timer wheel (default 100 µs): sleeps end at
    /// most one tick (plus one loop pass) after their deadline.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// How long a task may run before [`yield_if_needed`](super::yield_if_needed)
    /// yields (default 50 µs).
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    pub fn quantum(mut self, quantum: Duration) -> Self {
        self.quantum = quantum;
        self
    }

    /// The longest a ready task of a lower class waits while higher
    /// classes keep its core busy before it gets one poll (default 1 ms).
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    pub fn starvation_bound(mut self, bound: Duration) -> Self {
        self.starvation = bound;
        self
    }

    /// Slots of each core's inbox ring (default 1024; a full inbox spills
    /// into a list, nothing is lost).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corelane::sched::Runtime::builder().cores([0]).pin(false).inbox_capacity(64).build()?;
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn inbox_capacity(mut self, slots: usize) -> Self {
        self.inbox_capacity = slots;
        self
    }

    /// The io_uring driver each core makes on its thread (default:
    /// [`io::Config::default`](crate::io::Config::default), io where the
    /// kernel allows; [`io::Config::off`](crate::io::Config::off) for none).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::{io, sched::Runtime};
    ///
    /// let rt = Runtime::builder().io(io::Config::off()).build()?;
    /// assert!(rt.stats().cores.iter().all(|c| c.io.is_none()));
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    #[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
    pub fn io(mut self, cfg: crate::io::Config) -> Self {
        self.io = cfg;
        self
    }

    /// Starts one thread per core.
    ///
    /// # Errors
    ///
    /// [`Error`]: a bad CPU id, pinning refused, a thread or eventfd that
    /// could not be created, a zero tick. Never panics; on error every
    /// thread already started is stopped and joined.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    pub fn build(self) -> Result<Runtime, Error> {
        clock::init();
        crate::sync::barrier_init();
        if self.tick.is_zero() {
            return Err(Error::Config("the wheel tick must be non-zero"));
        }
        if self.inbox_capacity == 0 {
            return Err(Error::Config("the inbox capacity must be non-zero"));
        }
        let topo = Topology::detect();
        let cpus = self.pick_cpus(topo.as_ref().ok())?;
        let n = cpus.len();
        let config = Config {
            idle: self.idle,
            stealing: self.stealing && n > 1,
            tick: self.tick,
            quantum: clock::from_duration(self.quantum),
            starvation: clock::from_duration(self.starvation),
            inbox_capacity: self.inbox_capacity,
            steal_capacity: 256,
            #[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
            io: self.io.clone(),
        };
        let mut inboxes = Vec::with_capacity(n);
        let mut remotes = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::channel::<super::inbox::Msg>(config.inbox_capacity);
            remotes.push((Doorbell::new().map_err(Error::Doorbell)?, tx.clone()));
            inboxes.push((tx, rx));
        }
        let mut steals: Vec<(Vec<spmc::Producer<_>>, Vec<spmc::Consumer<_>>)> = (0..n)
            .map(|_| {
                (0..CLASSES)
                    .map(|_| spmc::channel(config.steal_capacity))
                    .unzip()
            })
            .collect();
        let shared = Arc::new(Shared::new(
            remotes
                .into_iter()
                .map(|(d, tx)| Remote::new(d, tx))
                .collect(),
            config,
        ));
        let order = steal_order(&cpus, topo.as_ref().ok());
        let mut parts = Vec::with_capacity(n);
        let producers: Vec<mpsc::Producer<_>> = inboxes.iter().map(|(tx, _)| tx.clone()).collect();
        let steal_rx: Vec<Vec<spmc::Consumer<_>>> =
            steals.iter().map(|(_, rx)| rx.clone()).collect();
        for (index, (_, rx)) in inboxes.into_iter().enumerate() {
            let (tx, own_rx) = std::mem::take(&mut steals[index]);
            let victims = order[index]
                .iter()
                .map(|&v| (v, to_array(steal_rx[v].clone())))
                .collect();
            parts.push(Parts {
                index,
                shared: shared.clone(),
                inbox: rx,
                peers: producers.clone(),
                steal_tx: to_array(tx),
                steal_rx: to_array(own_rx),
                victims,
                park: Box::new(SignalPark),
            });
        }
        drop(producers);
        drop(steal_rx);
        Runtime::start(shared, parts, cpus, self.pin)
    }

    fn pick_cpus(&self, topo: Option<&Topology>) -> Result<Vec<CpuId>, Error> {
        let allowed = topology::allowed_cpus().ok();
        let Some(cpus) = &self.cpus else {
            let topo = match topo {
                Some(t) => t,
                None => {
                    return Err(Error::Topology(
                        Topology::detect().expect_err("detection failed a moment ago"),
                    ))
                }
            };
            let picked: Vec<CpuId> = topo
                .cores()
                .iter()
                .filter_map(|c| {
                    c.cpus
                        .iter()
                        .find(|cpu| allowed.as_ref().is_none_or(|a| a.contains(*cpu)))
                })
                .collect();
            return if picked.is_empty() {
                Err(Error::NoCores)
            } else {
                Ok(picked)
            };
        };
        if cpus.is_empty() {
            return Err(Error::NoCores);
        }
        for (i, &cpu) in cpus.iter().enumerate() {
            if cpus[..i].contains(&cpu) {
                return Err(Error::BadCpu {
                    cpu,
                    reason: "listed twice",
                });
            }
            if let Some(t) = topo {
                if !t.online().contains(cpu) {
                    return Err(Error::BadCpu {
                        cpu,
                        reason: "no such CPU online",
                    });
                }
            }
            if self.pin && allowed.as_ref().is_some_and(|a| !a.contains(cpu)) {
                return Err(Error::BadCpu {
                    cpu,
                    reason: "not in this process's affinity mask",
                });
            }
        }
        Ok(cpus.clone())
    }
}

fn to_array<T>(v: Vec<T>) -> [T; CLASSES] {
    v.try_into()
        .unwrap_or_else(|_| unreachable!("one per class"))
}

/// For each core, the other cores nearest first: same L2, then same L3,
/// then same NUMA node, then the rest (index order within a rank).
fn steal_order(cpus: &[CpuId], topo: Option<&Topology>) -> Vec<Vec<usize>> {
    let rank = |a: CpuId, b: CpuId| -> u8 {
        let Some(t) = topo else { return 3 };
        match t.shared_cache(a, b).map(|c| c.level) {
            Some(l) if l <= 2 => 0,
            Some(_) => 1,
            None => {
                let node = |c| t.cpu(c).and_then(|c| c.numa_node);
                if node(a).is_some() && node(a) == node(b) {
                    2
                } else {
                    3
                }
            }
        }
    };
    (0..cpus.len())
        .map(|i| {
            let mut others: Vec<usize> = (0..cpus.len()).filter(|&j| j != i).collect();
            others.sort_by_key(|&j| (rank(cpus[i], cpus[j]), j));
            others
        })
        .collect()
}

pub(crate) fn spawn_threads(
    shared: &Arc<Shared>,
    parts: Vec<Parts>,
    cpus: &[CpuId],
    pin: bool,
    exit: &std::sync::Arc<Exit>,
) -> Result<Vec<std::thread::JoinHandle<()>>, Error> {
    let n = parts.len();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let gate = std::sync::Arc::new(Gate::default());
    let (report_tx, report_rx) = std::sync::mpsc::channel::<(usize, Result<(), Error>)>();
    let mut threads = Vec::with_capacity(n);
    for p in parts {
        let (index, cpu) = (p.index, cpus[p.index]);
        let (barrier, gate2, exit, report) = (
            barrier.clone(),
            gate.clone(),
            exit.clone(),
            report_tx.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name(format!("corelane-core-{index}"))
            .spawn(move || {
                let _exit = exit.guard();
                let pinned = if pin {
                    topology::pin_current_thread(cpu)
                        .map_err(|source| Error::PinRefused { cpu, source })
                } else {
                    Ok(())
                };
                // The ring is made here, on the core's own thread, after
                // pinning (a single-issuer ring belongs to its creator).
                #[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
                let (pinned, io) = match pinned {
                    Ok(()) => make_io(&p, index),
                    Err(e) => (Err(e), None),
                };
                let _ = report.send((index, pinned));
                if gate2.wait() {
                    #[allow(unused_mut)]
                    let mut w = Worker::new(p);
                    #[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
                    if let Some(io) = io {
                        w.set_io(io);
                    }
                    w.main(&barrier);
                }
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(source) => {
                gate.open(false);
                threads
                    .into_iter()
                    .for_each(|t: std::thread::JoinHandle<()>| {
                        let _ = t.join();
                    });
                return Err(Error::Spawn {
                    core: index,
                    source,
                });
            }
        }
    }
    drop(report_tx);
    let mut failure = None;
    for _ in 0..n {
        match report_rx.recv() {
            Ok((_, Err(e))) => {
                failure.get_or_insert(e);
            }
            Ok((_, Ok(()))) => {}
            Err(_) => break,
        }
    }
    if let Some(e) = failure {
        gate.open(false);
        threads.into_iter().for_each(|t| {
            let _ = t.join();
        });
        let _ = shared;
        return Err(e);
    }
    gate.open(true);
    Ok(threads)
}

/// Makes core `index`'s io driver if io is on: `(Ok, Some)` with a ring,
/// `(Ok, None)` without one (the cause is kept for io calls to report),
/// `(Err, None)` when io is required and the ring cannot be made.
#[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
fn make_io(p: &Parts, index: usize) -> (Result<(), Error>, Option<crate::io::IoPark>) {
    let cfg = &p.shared.config.io;
    if !cfg.enabled {
        return (Ok(()), None);
    }
    match crate::io::install(cfg) {
        Ok(park) => (Ok(()), Some(park)),
        Err(cause) if cfg.required => (Err(Error::Io { core: index, cause }), None),
        Err(_) => (Ok(()), None),
    }
}

/// Holds the core threads until every one has started and pinned.
#[derive(Default)]
struct Gate {
    state: std::sync::Mutex<Option<bool>>,
    cv: std::sync::Condvar,
}

impl Gate {
    fn open(&self, go: bool) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(go);
        self.cv.notify_all();
    }

    fn wait(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(go) = *s {
                return go;
            }
            s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}
