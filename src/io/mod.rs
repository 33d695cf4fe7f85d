//! The raw io_uring server loop: one ring per core of a
//! [`sched::Runtime`](crate::sched::Runtime), used as that core's park
//! step.
//!
//! A core with nothing to run waits in one `io_uring_enter` for a
//! completion, its doorbell (a multishot poll on the core's eventfd, armed
//! in the ring) or the next timer of its wheel. Each loop pass reaps every
//! completion, runs the tasks they woke, and queues their submissions for
//! the next enter; a core that stays busy enters at least once per
//! scheduler tick without blocking (with `GETEVENTS`, which
//! `DEFER_TASKRUN` needs).
//!
//! - **Ring setup** (probed on each core's thread at start):
//!   `SINGLE_ISSUER | DEFER_TASKRUN`, else `COOP_TASKRUN | TASKRUN_FLAG`,
//!   else plain; the choice is in [`Runtime::stats`](crate::sched::Runtime::stats)
//!   (`CoreStats::io`). A file table for direct descriptors when the
//!   kernel allows.
//! - **Ops** live in a slab keyed by `user_data` (slot, kind, generation);
//!   the slab owns an op's memory until its terminal completion, so every
//!   future here is cancel safe: dropping one cancels its op (a queued
//!   send excepted: it belongs to the stream and goes out regardless).
//! - **Receives** are multishot, into a per-core provided buffer ring;
//!   data surfaces as [`bytes::Bytes`] without a copy and the buffer goes
//!   back to the ring once the last `Bytes` has dropped, on any thread (the
//!   core finds it at its next reclaim scan, before each wait).
//! - **Sends** are queued, one in flight per stream, and resumed by the
//!   driver when short: a `Bytes` ([`TcpStream::send`]), a batch of them
//!   in one `SENDMSG` op without a copy ([`TcpStream::send_vectored`]), or
//!   a borrowed slice copied into a pooled buffer
//!   ([`TcpStream::write_all`]).
//! - [`TcpListener`] (multishot accept), [`TcpStream`], and [`Server`]:
//!   one `SO_REUSEPORT` listener per core and a handler task per
//!   connection.
//!
//! Linux only (feature `io`, on by default). Where io_uring is
//! unavailable (seccomp, `kernel.io_uring_disabled`, an old kernel) the
//! runtime still runs; io calls fail with an `Unsupported` error wrapping
//! [`Unavailable`], which names the cause
//! ([`Config::required`] makes `build` fail instead).
//!
//! ```
//! use corelane::{io, sched::{self, Priority, Runtime}};
//!
//! let rt = Runtime::builder().build()?;
//! let server = match io::Server::builder("127.0.0.1:0".parse()?).serve(&rt, |mut s: io::TcpStream| async move {
//!     while let Ok(Some(b)) = s.recv().await {
//!         if s.send(b).await.is_err() {
//!             break;
//!         }
//!     }
//! }) {
//!     Ok(s) => s,
//!     Err(e) => {
//!         println!("no io_uring here: {e}");
//!         return Ok(());
//!     }
//! };
//! let addr = server.local_addr();
//! // Streams are `!Send` (they belong to their core's ring): a client runs
//! // in a local task.
//! let reply = rt.block_on(async move {
//!     sched::spawn_local(Priority::Normal, async move {
//!         let mut c = io::TcpStream::connect(addr).await?;
//!         c.write_all(b"hello").await?;
//!         let mut got = Vec::new();
//!         while got.len() < 5 {
//!             match c.recv().await? {
//!                 Some(b) => got.extend_from_slice(&b),
//!                 None => break,
//!             }
//!         }
//!         Ok::<_, std::io::Error>(got)
//!     })
//!     .await
//! })??;
//! assert_eq!(reply, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod buf_ring;
pub(crate) mod driver;
mod net;
mod server;

pub use net::{TcpListener, TcpStream};
pub use server::{Server, ServerBuilder, ServerHandle};

pub(crate) use driver::{current, install, IoPark};

/// Per-core io settings, given to
/// [`sched::Builder::io`](crate::sched::Builder::io).
///
/// ```
/// use corelane::{io, sched::Runtime};
///
/// let cfg = io::Config::default().buffers(256).buffer_size(16 * 1024);
/// let rt = Runtime::builder().io(cfg).build()?;
/// # Ok::<(), corelane::sched::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) enabled: bool,
    pub(crate) required: bool,
    pub(crate) sq_entries: u32,
    pub(crate) cq_entries: u32,
    pub(crate) buffers: u16,
    pub(crate) buffer_size: usize,
    pub(crate) recv_cap: usize,
    pub(crate) recv_budget: usize,
    pub(crate) direct_descriptors: u32,
    pub(crate) send_grace: std::time::Duration,
}

impl Default for Config {
    /// io on where available; 512 submission entries, 8192 completion
    /// entries; 1024 receive buffers of 4 KiB per core (made on the first
    /// receive), at most 16 of them queued on one connection; a
    /// 16384-slot direct-descriptor table; a dropped stream's last send
    /// gets 10 s to go out.
    fn default() -> Config {
        Config {
            enabled: true,
            required: false,
            sq_entries: 512,
            cq_entries: 8192,
            buffers: 1024,
            buffer_size: 4096,
            recv_cap: 4096,
            recv_budget: 16,
            direct_descriptors: 16384,
            send_grace: std::time::Duration::from_secs(10),
        }
    }
}

impl Config {
    /// No io_uring at all (cores park on their eventfd).
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn off() -> Config {
        Config {
            enabled: false,
            ..Config::default()
        }
    }

    /// Fail [`Builder::build`](crate::sched::Builder::build) with
    /// [`sched::Error::Io`](crate::sched::Error::Io) when a core cannot
    /// make its ring (default: run without io, io calls fail).
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn required(mut self, yes: bool) -> Config {
        self.required = yes;
        self
    }

    /// Submission queue entries (default 512; 8 to 32768, rounded up to a
    /// power of two by the kernel). The completion queue gets at least
    /// twice as many, at most 65536.
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn sq_entries(mut self, n: u32) -> Config {
        self.sq_entries = n.max(8);
        self
    }

    /// Completion queue entries (default 8192). Multishot ops complete
    /// more often than they are submitted: size it for the connection count.
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn cq_entries(mut self, n: u32) -> Config {
        self.cq_entries = n;
        self
    }

    /// Receive buffers per core (a power of two up to 32768; default 1024).
    /// The per-connection budget is at most a quarter of them.
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn buffers(mut self, n: u16) -> Config {
        self.buffers = n.clamp(1, 32768).next_power_of_two();
        self
    }

    /// Received chunks one connection may have queued (unread) before its
    /// multishot receive is paused; the rest waits in the socket until the
    /// owner reads (default 16, at most a quarter of the buffers, at
    /// least 1). This, not [`recv_cap`](Config::recv_cap), is what keeps
    /// one flooding peer from taking every buffer of its core. It is a
    /// per-connection bound: `buffers / recv_budget` connections whose
    /// handlers all stop reading can still hold every buffer (their
    /// receives then wait, none is lost); size the ring for that.
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn recv_budget(mut self, n: usize) -> Config {
        self.recv_budget = n.max(1);
        self
    }

    /// How long the last send of a dropped stream may take to go out
    /// before it is cancelled (default 10 s): a peer that stops reading
    /// cannot pin its bytes (a receive buffer, for an echo) for ever.
    /// `Duration::MAX`: never cancelled. Runtime shutdown cancels such
    /// sends at once.
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn send_grace(mut self, d: std::time::Duration) -> Config {
        self.send_grace = d;
        self
    }

    /// Size of each receive buffer (64 B to 1 MiB; default 4096). Also sets
    /// [`recv_cap`](Config::recv_cap) to it (call that after to lower it).
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn buffer_size(mut self, n: usize) -> Config {
        self.buffer_size = n.clamp(64, 1 << 20);
        self.recv_cap = self.buffer_size;
        self
    }

    /// The most one receive completion of one connection carries (default:
    /// the buffer size; never more than it).
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn recv_cap(mut self, n: usize) -> Config {
        self.recv_cap = n.max(1);
        self
    }

    /// Size of the direct-descriptor table (accepted connections use it
    /// when non-zero and the kernel supports it; default 16384; 0: plain
    /// descriptors).
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn direct_descriptors(mut self, n: u32) -> Config {
        self.direct_descriptors = n;
        self
    }
}

/// Why a core has no io_uring.
///
/// ```
/// use corelane::io::Unavailable;
///
/// let e = Unavailable::Disabled { sysctl: 2 };
/// assert!(e.to_string().contains("io_uring_disabled"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unavailable {
    /// `kernel.io_uring_disabled` is set (1: only a group may use it, 2: off).
    Disabled {
        /// The sysctl's value.
        sysctl: u8,
    },
    /// `io_uring_setup` was refused (`EPERM`): a seccomp filter (Docker's
    /// default profile blocks io_uring) or a security module.
    NotPermitted {
        /// The errno.
        errno: i32,
    },
    /// The kernel has no io_uring (`ENOSYS`).
    NotSupported,
    /// The kernel predates what this driver needs (6.0: multishot receive,
    /// `EXT_ARG` waits).
    OldKernel {
        /// The kernel release (or the missing feature).
        release: String,
    },
    /// Out of memory, descriptors or locked memory.
    Resources {
        /// The errno.
        errno: i32,
    },
    /// Any other setup failure.
    Other {
        /// The errno.
        errno: i32,
    },
    /// Not on a core of a runtime.
    NotInRuntime,
    /// The runtime was built with [`Config::off`].
    Off,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let os = |e: i32| std::io::Error::from_raw_os_error(e);
        match self {
            Unavailable::Disabled { sysctl } => {
                write!(f, "io_uring is disabled by the sysctl kernel.io_uring_disabled = {sysctl}")
            }
            Unavailable::NotPermitted { errno } => write!(
                f,
                "io_uring_setup was refused ({}): a seccomp filter (e.g. Docker's default) or a security module blocks it",
                os(*errno)
            ),
            Unavailable::NotSupported => f.write_str("this kernel has no io_uring (ENOSYS)"),
            Unavailable::OldKernel { release } => {
                write!(f, "kernel {release} is too old for the io driver (needs 6.0)")
            }
            Unavailable::Resources { errno } => {
                write!(f, "io_uring setup ran out of resources: {}", os(*errno))
            }
            Unavailable::Other { errno } => write!(f, "io_uring setup failed: {}", os(*errno)),
            Unavailable::NotInRuntime => f.write_str("not on a core of a corelane runtime"),
            Unavailable::Off => f.write_str("the runtime was built without io"),
        }
    }
}

impl std::error::Error for Unavailable {}

/// Whether this machine can run the io driver: makes (and drops) a ring
/// on a short-lived thread of its own. Tests use it to skip, saying why.
///
/// Not on the calling thread: closing a ring queues kernel task work
/// that is signalled to the thread that made it, so that thread's next
/// blocking syscall (a `connect`, an `epoll_wait`) could fail with
/// `EINTR` — which it did in 43 of 100 tries here.
///
/// ```
/// match corelane::io::probe() {
///     Ok(()) => println!("io_uring available"),
///     Err(why) => println!("no io_uring: {why}"),
/// }
/// ```
pub fn probe() -> Result<(), Unavailable> {
    let try_ring = || driver::Driver::new(&Config::default().direct_descriptors(0)).map(drop);
    match std::thread::Builder::new()
        .name("corelane-io-probe".into())
        .spawn(try_ring)
    {
        Ok(t) => t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        // No thread to spare: probe here (the caller may see one EINTR).
        Err(_) => try_ring(),
    }
}
