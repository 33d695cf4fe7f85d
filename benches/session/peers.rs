//! The peer session-type crates of `benches/session.rs`, each with the same
//! Ping/Stop loop, and each one's own transport used untyped with a plain
//! enum (what the typed version costs over it).
//!
//! - `session_types` 0.3.1: blocking threads over crossbeam unbounded
//!   channels (a `Box` per message); dropping an unfinished `Chan` panics,
//!   so every run ends with `Stop` and `close`.
//! - `dialectic` 0.4.1 over `dialectic-tokio-mpsc` 0.1 (unbounded; a
//!   `Box<dyn Any>` per message, boxed futures per step), each end in a
//!   tokio `current_thread` runtime on its own pinned thread (tokio's
//!   multi-thread runtime tends to run both ends on one worker).

use std::future::Future;
use std::sync::{Arc, Barrier};

use corelane::topology::CpuId;

use crate::rings::spawn_pinned;
use crate::session_rows::{run_pair, timed};

type Cpus = Option<(CpuId, CpuId)>;

/// A request of the untyped rows: what the typed loop says with its choice.
#[derive(Debug)]
enum Req {
    Ping(u64),
    Stop,
}

// ----- session_types -------------------------------------------------------------

mod st {
    pub use session_types::{session_channel, Branch, Chan, Choose, Eps, Offer, Rec, Recv};
    pub use session_types::{Send, Var, Z};

    /// The echo's protocol: a ping to answer, or the end.
    pub type Echo = Rec<Offer<Recv<u64, Send<u64, Var<Z>>>, Eps>>;
    /// The client's, inside its loop.
    pub type InLoop = Chan<
        (Choose<Send<u64, Recv<u64, Var<Z>>>, Eps>, ()),
        Choose<Send<u64, Recv<u64, Var<Z>>>, Eps>,
    >;
}

#[inline(never)]
fn st_echo(c: st::Chan<(), st::Echo>) {
    let mut c = c.enter();
    loop {
        c = match c.offer() {
            st::Branch::Left(c) => {
                let (c, v) = c.recv();
                c.send(v).zero()
            }
            st::Branch::Right(c) => return c.close(),
        };
    }
}

#[inline]
fn st_one(c: st::InLoop, i: u64) -> st::InLoop {
    let (c, v) = c.sel1().send(i).recv();
    assert_eq!(v, i);
    c.zero()
}

/// `session_types` round trips.
pub fn session_types_row(cpus: Cpus, samples: usize, batch: usize) -> Vec<f64> {
    let (echo, client) = st::session_channel::<st::Echo>();
    run_pair(
        cpus,
        move || st_echo(echo),
        move || {
            let (out, c) = timed(client.enter(), samples, batch, st_one);
            c.sel2().close();
            out
        },
    )
}

type CbEnds = (
    crossbeam_channel::Sender<Req>,
    crossbeam_channel::Receiver<u64>,
);

#[inline]
fn cb_one((tx, rx): CbEnds, i: u64) -> CbEnds {
    tx.send(Req::Ping(i)).expect("ping");
    assert_eq!(rx.recv().expect("pong"), i);
    (tx, rx)
}

/// Crossbeam unbounded channels, untyped: `session_types`' transport
/// without the session (and without its `Box` per message).
pub fn crossbeam_row(cpus: Cpus, samples: usize, batch: usize) -> Vec<f64> {
    let (ping_tx, ping_rx) = crossbeam_channel::unbounded::<Req>();
    let (pong_tx, pong_rx) = crossbeam_channel::unbounded::<u64>();
    run_pair(
        cpus,
        move || {
            while let Ok(Req::Ping(v)) = ping_rx.recv() {
                pong_tx.send(v).expect("pong");
            }
        },
        move || {
            let (out, (tx, _rx)) = timed((ping_tx, pong_rx), samples, batch, cb_one);
            tx.send(Req::Stop).expect("stop");
            out
        },
    )
}

// ----- dialectic -----------------------------------------------------------------

mod dl {
    use dialectic::prelude::*;

    /// The client's protocol.
    pub type Client = Session! {
        loop {
            choose {
                0 => { send u64; recv u64; },
                1 => break,
            }
        }
    };
    /// The echo's.
    pub type Echo = <Client as Session>::Dual;
    pub type ClientChan = dialectic_tokio_mpsc::UnboundedChan<Client>;
    pub type EchoChan = dialectic_tokio_mpsc::UnboundedChan<Echo>;

    pub fn channel() -> (ClientChan, EchoChan) {
        Client::channel(dialectic_tokio_mpsc::unbounded_channel)
    }

    pub async fn echo(mut c: EchoChan) {
        loop {
            c = offer!(in c {
                0 => {
                    let (v, c) = c.recv().await.expect("ping");
                    c.send(v).await.expect("pong")
                },
                1 => break c.close(),
            })
            .expect("a request");
        }
    }

    #[inline]
    pub async fn one(c: ClientChan, i: u64) -> ClientChan {
        let c = c.choose::<0>().await.expect("choose");
        let (v, c) = c.send(i).await.expect("ping").recv().await.expect("pong");
        assert_eq!(v, i);
        c
    }

    pub async fn stop(c: ClientChan) {
        c.choose::<1>().await.expect("stop").close();
    }
}

/// Runs `echo` and `client` each on a tokio `current_thread` runtime built
/// on its own thread (the client's pinned to `cpus.0`, the echo's to
/// `cpus.1`), started together.
fn on_two_runtimes<R: Send + 'static>(
    cpus: Cpus,
    echo: impl Future<Output = ()> + Send + 'static,
    client: impl Future<Output = R> + Send + 'static,
) -> R {
    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime")
    }
    let start = Arc::new(Barrier::new(2));
    let e = spawn_pinned(cpus.map(|c| c.1), &start, move || rt().block_on(echo));
    let c = spawn_pinned(cpus.map(|c| c.0), &start, move || rt().block_on(client));
    e.join().expect("echo thread");
    c.join().expect("client thread")
}

/// [`timed`] for a client whose steps are async: the same warm-up and
/// batches, timed inside the client's runtime.
async fn timed_async<C, F: Future<Output = C>>(
    mut c: C,
    samples: usize,
    batch: usize,
    mut one: impl FnMut(C, u64) -> F,
) -> (Vec<f64>, C) {
    for i in 0..crate::rings::WARMUP {
        c = one(c, i).await;
    }
    let mut out = Vec::with_capacity(samples);
    let mut i = crate::rings::WARMUP;
    for _ in 0..samples {
        let t0 = std::time::Instant::now();
        for _ in 0..batch {
            c = one(c, i).await;
            i += 1;
        }
        out.push(t0.elapsed().as_nanos() as f64 / batch as f64);
    }
    (out, c)
}

/// `dialectic` round trips.
pub fn dialectic_row(cpus: Cpus, samples: usize, batch: usize) -> Vec<f64> {
    let (client, echo) = dl::channel();
    on_two_runtimes(cpus, dl::echo(echo), async move {
        let (out, c) = timed_async(client, samples, batch, dl::one).await;
        dl::stop(c).await;
        out
    })
}

type TokioEnds = (
    tokio::sync::mpsc::UnboundedSender<Req>,
    tokio::sync::mpsc::UnboundedReceiver<u64>,
);

async fn tokio_one((tx, mut rx): TokioEnds, i: u64) -> TokioEnds {
    tx.send(Req::Ping(i)).expect("ping");
    assert_eq!(rx.recv().await, Some(i));
    (tx, rx)
}

/// tokio's unbounded mpsc, untyped: dialectic's transport without the
/// session (and without its `Box<dyn Any>` per message).
pub fn tokio_mpsc_row(cpus: Cpus, samples: usize, batch: usize) -> Vec<f64> {
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<Req>();
    let (pong_tx, pong_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let echo = async move {
        while let Some(Req::Ping(v)) = ping_rx.recv().await {
            pong_tx.send(v).expect("pong");
        }
    };
    on_two_runtimes(cpus, echo, async move {
        let (out, (tx, _rx)) = timed_async((ping_tx, pong_rx), samples, batch, tokio_one).await;
        tx.send(Req::Stop).expect("stop");
        out
    })
}
