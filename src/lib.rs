//! # corelane
//!
//! Low-latency primitives for trading engines, message brokers and latency
//! microbenchmarks. Each module stands alone above [`sync`](#the-sync-shim):
//! take just the rings, just the wheel or just the topology into an existing
//! engine.
//!
//! | module | what it is for |
//! |---|---|
//! | [`queue`] | bounded lock-free rings: [`queue::spsc`], [`queue::mpsc`], [`queue::spmc`], [`queue::mpmc`]; the Disruptor-style [`queue::multicast`] ring (a consumer graph, worker groups, lossy taps); one vocabulary of blocking, deadline, async and batch calls for all of them; wait strategies ([`queue::wait`]) |
//! | [`timer`] | a hierarchical timer wheel: O(1) insert/cancel, never early, never lost, no allocation once warm |
//! | [`topology`] | cores, SMT siblings, caches, NUMA, the process affinity mask; verified pinning; placement plans; core-to-core latency |
//! | [`sched`] | a thread-per-core async runtime: strict priority classes, an inbox ring and a timer wheel per core, topology-aware stealing |
//! | `io` | (Linux, feature `io`) the raw io_uring server loop as each core's park step: `TcpListener`, `TcpStream`, `Server` |
//! | [`session`] | session-typed protocol channels: a protocol is a type, the peer follows its dual, misuse does not compile; over SPSC rings, one shared line, or io_uring TCP with a fingerprint handshake |
//!
//! ## queue
//!
//! ```
//! use corelane::queue::{spsc, wait::WaitStrategy};
//!
//! let (mut tx, mut rx) = spsc::channel::<u64>(1024);
//! let consumer = std::thread::spawn(move || {
//!     let mut sum = 0;
//!     while let Ok(v) = rx.pop_blocking(WaitStrategy::Park) {
//!         sum += v;
//!     }
//!     sum
//! });
//! for i in 0..1000 {
//!     tx.push_blocking(i, WaitStrategy::BusySpin).unwrap();
//! }
//! drop(tx); // the consumer sees Disconnected once the ring is drained
//! assert_eq!(consumer.join().unwrap(), 499_500);
//! ```
//!
//! The multicast ring: every cursor sees every item, in place; a cursor can
//! run after others (here business logic after the journal).
//!
//! ```
//! use corelane::queue::{multicast::Builder, wait::WaitStrategy};
//!
//! let mut b = Builder::new(64, || 0u64);
//! let (journal, logic) = (b.cursor(), b.cursor());
//! b.after(logic, &[journal]);
//! let (mut tx, mut h) = b.build().unwrap();
//! let (mut journal, mut logic) = (h.cursor(journal), h.cursor(logic));
//! tx.push_blocking(7, WaitStrategy::Park).unwrap();
//! assert_eq!(*journal.pop().unwrap(), 7); // released when the item drops
//! assert_eq!(*logic.pop_blocking(WaitStrategy::Park).unwrap(), 7);
//! ```
//!
//! ## timer
//!
//! ```
//! use corelane::timer::Wheel;
//!
//! let mut wheel: Wheel<&str> = Wheel::builder().capacity(64).build();
//! let ttl = wheel.insert_at(50, "order 42 expires");
//! wheel.insert_at(10, "heartbeat");
//! assert_eq!(wheel.cancel(ttl), Some("order 42 expires"));
//! let mut fired = Vec::new();
//! wheel.advance_to(100, |v| fired.push(v));
//! assert_eq!(fired, ["heartbeat"]);
//! ```
//!
//! ## topology
//!
//! ```
//! use corelane::topology::{self, PlanOptions, Topology};
//!
//! let topo = Topology::detect()?;
//! let cpu = topo.plan(1, &PlanOptions::new())?.cpus()[0];
//! std::thread::spawn(move || topology::pin_current_thread(cpu)).join().unwrap()?;
//! # Ok::<(), topology::Error>(())
//! ```
//!
//! ## session
//!
//! ```
//! use corelane::session::{self, End, Recv, Send};
//!
//! // The client's protocol; the server follows its dual, Recv<u64, Send<u64, End>>.
//! type Client = Send<u64, Recv<u64, End>>;
//! let (client, server) = session::ring::pair::<Client, u64>(1);
//! let t = std::thread::spawn(move || {
//!     let (n, server) = server.recv_blocking()?;
//!     server.send_blocking(n + 1)?.close();
//!     Ok::<(), session::Error>(())
//! });
//! let (reply, client) = client.send_blocking(41)?.recv_blocking()?;
//! client.close();
//! assert_eq!(reply, 42);
//! t.join().unwrap()?;
//! # Ok::<(), session::Error>(())
//! ```
//!
//! ## The sync shim
//!
//! `src/sync.rs` is the only file that names atomics, cells or fences. Under
//! `RUSTFLAGS="--cfg corelane_loom"` it switches to [loom](https://docs.rs/loom)
//! and every atomic protocol is model-checked by the `loom-tests/` crate.
//!
//! ## Targets
//!
//! corelane builds only for 64-bit targets. Ring positions are `usize`
//! sequence numbers that the protocols assume never wrap within a ring's
//! life (2^64 items), and the sentinel values some of them reserve (a slot
//! being written, an idle claim, an open ring) must stay out of reach of
//! real positions; at 2^32 a busy ring would get there in seconds.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_pointer_width = "64"))]
compile_error!(
    "corelane needs a 64-bit target: ring positions are usize sequence numbers that must \
     never wrap, and the sentinels some protocols reserve must stay out of their reach"
);

#[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
pub mod io;
pub mod queue;
pub mod sched;
pub mod session;
pub(crate) mod sync;
/// The wake-up cell's protocol for the loom models (loom builds only).
#[cfg(corelane_loom)]
#[doc(hidden)]
pub use queue::notify::loom_hooks as __loom;
/// The scheduler's protocols for the loom models (loom builds only).
#[cfg(corelane_loom)]
#[doc(hidden)]
pub use sched::loom_hooks as __loom_sched;
pub mod timer;
pub mod topology;
