//! The adversarial review of the session module (issue 14): a
//! reproduction of each finding, every one seen failing before its fix
//! (a partial frame ahead of the abort, handshake_timeout(MAX) panicking,
//! a fingerprint that depended on declaration order, a read timer that
//! outlived its receive, a TCP transmit half dropped mid-send that told
//! the peer nothing). The forged `Label` and `Env` of the same review are
//! compile-fail tests now (tests/ui/session_forged_*.rs).
#![cfg(not(corelane_loom))]

#[path = "common/io.rs"]
mod io_common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BufMut;
use corelane::io::{Config as IoConfig, TcpListener, TcpStream};
use corelane::sched::{self, Priority};
use corelane::session::codec::{Bytes, BytesMut, Codec, Encoding, Framed, Pod};
use corelane::session::{
    tcp, Chan, Choose, Dual, End, Error, Fingerprint, Rec, Recv, Send, Split, Timed, Var, Z,
};

use io_common::{runtime, skip};

corelane::session_choice! {
    /// Ask for an answer, or quit.
    pub mod q {
        /// The chooser then receives the answer.
        Ask(u64) => Recv<u64, End>,
        /// Done.
        Quit(u64) => End,
    }
}

// The forged `Label` and `Env` of this review no longer compile: see
// tests/ui/session_forged_label.rs and tests/ui/session_forged_env.rs.

corelane::session_choice! {
    /// Two arms with explicit labels, declared label 1 first.
    pub mod swapped1 {
        /// Label 1.
        A(u8) = 1 => End,
        /// Label 0.
        B(u8) = 0 => End,
    }
}
corelane::session_choice! {
    /// The same arms (names, labels, messages, continuations), declared in
    /// label order.
    pub mod swapped2 {
        /// Label 0.
        B(u8) = 0 => End,
        /// Label 1.
        A(u8) = 1 => End,
    }
}

/// Finding (low): the fingerprint's docs say "choice arms in label
/// order", but the macro mixes them in declaration order, so the same
/// wire protocol declared in another order is refused by the handshake.
#[test]
fn the_fingerprint_is_canonical_in_arm_order() {
    assert_eq!(
        <Choose<swapped1::Choice> as Fingerprint>::FINGERPRINT,
        <Choose<swapped2::Choice> as Fingerprint>::FINGERPRINT
    );
}

/// A body encoding that fails after writing part of the body (as a serde
/// serialiser may), for `u64::MAX`; otherwise `Pod`.
#[derive(Clone, Copy, Default)]
struct FailsOnMax;
impl Encoding<u64> for FailsOnMax {
    fn encode(&mut self, p: u64, dst: &mut BytesMut) -> Result<(), Error> {
        if p == u64::MAX {
            dst.put_u8(0xee);
            return Err(Error::Malformed("this value does not encode"));
        }
        Pod.encode(p, dst)
    }
    fn decode(&mut self, body: Bytes) -> Result<u64, Error> {
        Pod.decode(body)
    }
}

/// Finding: `Framed::encode` truncates `dst` for a frame over `max_frame`
/// but not when the encoding fails: a header with length 0 and part of
/// the body stay in the buffer.
#[test]
fn a_failed_encode_leaves_nothing_in_the_buffer() {
    let mut c = Framed::new(FailsOnMax, 1024);
    let mut buf = BytesMut::new();
    assert!(Codec::<u64>::encode(&mut c, 0, u64::MAX, &mut buf).is_err());
    assert!(buf.is_empty(), "left behind: {:?}", &buf[..]);
}

// ---- TCP -------------------------------------------------------------

fn hello(fp: u64) -> Vec<u8> {
    let mut b = b"CLS1".to_vec();
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&fp.to_le_bytes());
    b
}

fn frame(kind: u8, label: u8, body: &[u8]) -> Vec<u8> {
    let mut f = ((body.len() + 2) as u32).to_le_bytes().to_vec();
    f.push(kind);
    f.push(label);
    f.extend_from_slice(body);
    f
}

/// Runs `server` as the acceptor of `S` on one core, with a raw std
/// client (on a thread) that sends the preamble of `Dual<S>` and then
/// runs `peer`.
fn raw_client<S, R>(
    cfg: tcp::Config,
    server: impl FnOnce(Result<Chan<S, tcp::Tcp<u64, Framed>>, Error>) -> R
        + std::marker::Send
        + 'static,
    peer: impl FnOnce(std::net::TcpStream) + std::marker::Send + 'static,
) -> R::Output
where
    S: Fingerprint + 'static,
    S::Dual: Fingerprint,
    R: std::future::Future + 'static,
    R::Output: std::marker::Send + 'static,
{
    let rt = runtime(1, IoConfig::default());
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let t = std::thread::spawn(move || {
        let addr = addr_rx.recv().unwrap();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(&hello(<Dual<S> as Fingerprint>::FINGERPRINT))
            .unwrap();
        let mut reply = [0u8; 17];
        s.read_exact(&mut reply).unwrap();
        assert_eq!(reply[16], 1, "accepted");
        peer(s);
    });
    let out = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            addr_tx.send(l.local_addr().unwrap()).unwrap();
            let s = l.accept().await.unwrap();
            let c = tcp::accept::<S, u64, _>(s, Framed::pod(4096), &cfg).await;
            server(c).await
        })
        .await
        .unwrap()
    });
    t.join().unwrap();
    out
}

/// Finding: `connect` / `accept` compute `Instant::now() +
/// handshake_timeout` unchecked: `handshake_timeout(Duration::MAX)` (a
/// natural "no deadline") panics in the task.
#[test]
fn a_huge_handshake_timeout_does_not_panic() {
    if skip() {
        return;
    }
    let cfg = tcp::Config::new().handshake_timeout(Duration::MAX);
    let r = raw_client::<Recv<u64, End>, _>(
        cfg,
        |c| async move {
            let (v, c) = c?.recv().await?;
            c.close();
            Ok::<u64, Error>(v)
        },
        |mut s| s.write_all(&frame(0, 0, &7u64.to_le_bytes())).unwrap(),
    );
    assert_eq!(r.unwrap(), 7);
}

/// Finding: the read timeout's timer lives in the connection and is only
/// reset when a frame arrives. A receive that ends without a frame (here
/// `recv_until`'s own deadline; a cancelled `recv` is the same) leaves it
/// armed, so the next receive is timed from the first one's start, not
/// "from when it starts waiting" as `Config::read_timeout` says.
#[test]
fn the_read_timeout_counts_from_each_receive() {
    if skip() {
        return;
    }
    let cfg = tcp::Config::new().read_timeout(Some(Duration::from_millis(400)));
    let r = raw_client::<Recv<u64, End>, _>(
        cfg,
        |c| async move {
            let c = c?;
            // 1. A short wait that ends with nothing (t = 0 .. 100 ms).
            let c = match c
                .recv_until(Instant::now() + Duration::from_millis(100))
                .await?
            {
                Timed::TimedOut(c) => c,
                Timed::Ready(_) => panic!("the peer is silent for 700 ms"),
            };
            // 2. Other work (t = 100 .. 500 ms).
            sched::sleep(Duration::from_millis(400)).await;
            // 3. A receive from t = 500 ms: its read deadline is 900 ms; the
            // frame comes at about 700 ms.
            let started = Instant::now();
            let r = c.recv().await;
            let waited = started.elapsed();
            let (v, c) = r
                .map_err(|e| (e, waited))
                .unwrap_or_else(|(e, w)| panic!("the receive failed with {e:?} after {w:?}"));
            c.close();
            Ok::<u64, Error>(v)
        },
        |mut s| {
            std::thread::sleep(Duration::from_millis(700));
            s.write_all(&frame(0, 0, &7u64.to_le_bytes())).unwrap();
            std::thread::sleep(Duration::from_millis(200));
        },
    );
    assert_eq!(r.unwrap(), 7);
}

/// Finding: a send over TCP whose body encoding fails leaves a partial
/// frame in the write buffer, and the abort that follows goes out behind
/// it: the peer reads a malformed frame instead of the abort.
#[test]
fn a_failed_encode_then_abort_reaches_the_peer_as_cancelled() {
    if skip() {
        return;
    }
    type Client = Send<u64, Send<u64, End>>;
    let rt = runtime(1, IoConfig::default());
    let r = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = l.local_addr().unwrap();
            let server = sched::spawn_local(Priority::Normal, async move {
                let s = l.accept().await.unwrap();
                let codec = Framed::new(FailsOnMax, 4096);
                let c = tcp::accept::<Dual<Client>, u64, _>(s, codec, &tcp::Config::new()).await?;
                let (v, c) = c.recv().await?;
                assert_eq!(v, 1);
                c.recv().await.map(|(v, c)| {
                    c.close();
                    v
                })
            });
            let s = TcpStream::connect(addr).await.unwrap();
            let codec = Framed::new(FailsOnMax, 4096);
            let c = tcp::connect::<Client, u64, _>(s, codec, &tcp::Config::new())
                .await
                .unwrap();
            let c = c.send(1).await.unwrap();
            assert!(matches!(c.send(u64::MAX).await, Err(Error::Malformed(_))));
            server.await.unwrap()
        })
        .await
        .unwrap()
    });
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
}

corelane::session_payload! {
    /// Bulk bytes one way, a number the other.
    pub enum Bulk { B(Bytes), N(u64) }
}
corelane::session_wire!(
    enum Bulk {
        B,
        N,
    }
);

/// Finding: over TCP, dropping the transmit half of a `Split` while its
/// last send is still in flight sends no abort (`Tcp::abort` skips it),
/// and the connection stays open while the receive half lives: the
/// peer's receive half waits forever (no read timeout by default). Over
/// the rings the same drop reaches the peer (the producer disconnects).
#[test]
fn dropping_a_tcp_transmit_half_mid_send_reaches_the_peer() {
    if skip() {
        return;
    }
    type Client = Split<Rec<Send<Bytes, Var<Z>>>, Recv<u64, End>>;
    const BIG: usize = 32 << 20;
    let rt = runtime(1, IoConfig::default());
    let r = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = l.local_addr().unwrap();
            let cfg = tcp::Config::new().max_frame(BIG + 64);
            let server_cfg = cfg.clone();
            let server = sched::spawn_local(Priority::Normal, async move {
                let s = l.accept().await.unwrap();
                let c = tcp::accept::<Dual<Client>, Bulk, _>(s, Framed::pod(BIG + 64), &server_cfg)
                    .await?;
                // Not reading for a while: the client's big send stays in
                // flight.
                sched::sleep(Duration::from_millis(300)).await;
                let (_tx, rx) = c.split();
                let mut rx = rx.enter();
                let mut got = 0;
                loop {
                    match rx.recv_until(Instant::now() + Duration::from_secs(3)).await {
                        Ok(Timed::Ready((b, rx2))) => {
                            let b: Bytes = b;
                            got += b.len();
                            rx = rx2.recurse();
                        }
                        Ok(Timed::TimedOut(_)) => {
                            return Ok::<_, Error>(format!(
                                "hung: {got} bytes, then neither a frame nor an abort for 3 s"
                            ));
                        }
                        Err(e) => return Ok(format!("{e:?}")),
                    }
                }
            });
            let s = TcpStream::connect(addr).await.unwrap();
            let c = tcp::connect::<Client, Bulk, _>(s, Framed::pod(BIG + 64), &cfg)
                .await
                .unwrap();
            let (tx, rx) = c.split();
            let tx = tx.enter().send(Bytes::from(vec![7u8; BIG])).await.unwrap();
            drop(tx); // an abort, with the 32 MiB still going out
            let r = server.await.unwrap();
            drop(rx);
            r
        })
        .await
        .unwrap()
    });
    let r = r.unwrap();
    assert!(r == "Cancelled" || r == "Closed", "{r}");
}

corelane::session_choice! {
    /// Label order declared: the fingerprint is what it was before the
    /// arms were sorted.
    pub mod ordered {
        /// Label 0.
        B(u8) => End,
        /// Label 1.
        A(u64) => Recv<u8, End>,
    }
}

/// The fingerprint of a choice declared in label order, as the macro
/// mixed it before the arms were put in label order (so sorting changes
/// no existing fingerprint).
#[test]
fn sorting_the_arms_keeps_label_ordered_fingerprints() {
    use corelane::session::{fnv1a, mix, Named};
    let mut h = fnv1a(b"choice");
    for (label, name, ty, next) in [
        (
            0u64,
            "B",
            <u8 as Named>::ID,
            <End as Fingerprint>::FINGERPRINT,
        ),
        (
            1,
            "A",
            <u64 as Named>::ID,
            <Recv<u8, End> as Fingerprint>::FINGERPRINT,
        ),
    ] {
        h = mix(h, label);
        h = mix(h, fnv1a(name.as_bytes()));
        h = mix(h, ty);
        h = mix(h, next);
    }
    assert_eq!(
        <Choose<ordered::Choice> as Fingerprint>::FINGERPRINT,
        mix(fnv1a(b"choose"), h)
    );
}
