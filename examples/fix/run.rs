//! Where the sessions run: a corelane runtime, and the transports (the
//! in-process rings, or io_uring TCP through `session::tcp::foreign`, the
//! handshake-free constructor for wire formats with their own logon).
//! Each session runs as a local task on one core (a TCP endpoint is
//! `!Send`); results come back to the main thread over a channel, so it
//! can give up at a deadline.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use corelane::io;
use corelane::sched::{self, Priority, Runtime};
use corelane::session::{self, tcp};

use super::app::{self, Plan, Trader, Venue};
use super::codec::FixCodec;
use super::engine::{self, Report};
use super::msg::FixMsg;
use super::proto::{Acceptor, Initiator};
use super::state::Config;

/// The frame cap, both in the codec and in the transport.
pub const MAX_FRAME: usize = 8 * 1024;
/// Frames each ring direction holds.
const RING: usize = 1024;

/// What a session task sends back.
pub enum Done {
    /// The initiator's session.
    Initiator(Result<Box<Report<Trader>>, String>),
    /// An acceptor's session.
    Acceptor(Result<Box<Report<Venue>>, String>),
}

/// A runtime on `cpus` (one core each) with io_uring.
pub fn runtime(cpus: &[u32], pin: bool) -> Result<Runtime, String> {
    Runtime::builder()
        .cores(cpus.iter().copied())
        .pin(pin)
        .io(io::Config::default())
        .build()
        .map_err(|e| format!("runtime on CPUs {cpus:?}: {e}"))
}

fn tcp_config() -> tcp::Config {
    tcp::Config::new()
        .max_frame(MAX_FRAME)
        .handshake_timeout(Duration::from_secs(5))
}

/// Runs `f` as a local task on core `core`, sending its result to `out`.
fn on_core<F, Fut>(rt: &Runtime, core: usize, out: mpsc::Sender<Done>, f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Done> + 'static,
{
    let _task = rt.spawn_on(core, Priority::High, async move {
        let done = sched::spawn_local(Priority::High, f()).await;
        if let Ok(d) = done {
            let _ = out.send(d);
        }
    });
}

/// Initiator on core 0 and acceptor on core 1 over the in-process rings.
pub fn rings(
    rt: &Runtime,
    icfg: Config,
    acfg: Config,
    t: Trader,
    plan: Plan,
    out: mpsc::Sender<Done>,
) {
    let (i, a) = session::ring::pair::<Initiator, FixMsg>(RING);
    on_core(rt, 1, out.clone(), move || async move {
        Done::Acceptor(Ok(Box::new(
            engine::acceptor(a, acfg, Venue::default()).await,
        )))
    });
    on_core(rt, 0, out, move || async move {
        let r = engine::initiator(i, icfg, t, async |sh| app::drive(sh, plan).await).await;
        Done::Initiator(Ok(Box::new(r)))
    });
}

/// Listens on 127.0.0.1:`port` (0: any free port) on core `core` and
/// accepts FIX sessions: one local task per connection, each reported to
/// `out`; with `once`, only the first connection. Returns the address.
pub fn serve(
    rt: &Runtime,
    core: usize,
    port: u16,
    (cfg, once): (Config, bool),
    out: mpsc::Sender<Done>,
) -> Result<SocketAddr, String> {
    let (bound_tx, bound) = mpsc::channel();
    let _task = rt.spawn_on(core, Priority::High, async move {
        let accepted = sched::spawn_local(Priority::High, async move {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let mut l = match io::TcpListener::bind(addr).and_then(|l| Ok((l.local_addr()?, l))) {
                Ok((addr, l)) => {
                    let _ = bound_tx.send(Ok(addr));
                    l
                }
                Err(e) => return bound_tx.send(Err(format!("listen on {addr}: {e}"))),
            };
            loop {
                let s = match l.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = out.send(Done::Acceptor(Err(format!("accept: {e}"))));
                        return Ok(());
                    }
                };
                let chan =
                    tcp::foreign::<Acceptor, FixMsg, _>(s, FixCodec::new(MAX_FRAME), &tcp_config());
                let (cfg, out) = (cfg.clone(), out.clone());
                let session = async move {
                    let r = engine::acceptor(chan, cfg, Venue::default()).await;
                    let _ = out.send(Done::Acceptor(Ok(Box::new(r))));
                };
                if once {
                    session.await;
                    return Ok(());
                }
                drop(sched::spawn_local(Priority::High, session));
            }
        });
        let _ = accepted.await;
    });
    match bound.recv_timeout(Duration::from_secs(10)) {
        Ok(r) => r,
        Err(_) => Err("the listener did not start within 10 s".into()),
    }
}

/// Connects to `addr` (retrying for up to `patience`) on core `core` and
/// runs the initiator.
pub fn connect(
    rt: &Runtime,
    core: usize,
    addr: SocketAddr,
    patience: Duration,
    (cfg, t, plan): (Config, Trader, Plan),
    out: mpsc::Sender<Done>,
) {
    on_core(rt, core, out, move || async move {
        let give_up = Instant::now() + patience;
        let s = loop {
            match io::TcpStream::connect(addr).await {
                Ok(s) => break s,
                Err(e) if Instant::now() >= give_up => {
                    return Done::Initiator(Err(format!("connect {addr}: {e}")));
                }
                Err(_) => sched::sleep(Duration::from_millis(100)).await,
            }
        };
        let chan = tcp::foreign::<Initiator, FixMsg, _>(s, FixCodec::new(MAX_FRAME), &tcp_config());
        let r = engine::initiator(chan, cfg, t, async |sh| app::drive(sh, plan).await).await;
        Done::Initiator(Ok(Box::new(r)))
    });
}
