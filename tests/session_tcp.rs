//! The TCP session transport: one protocol type and one pair of handlers
//! run unchanged over the in-process rings and over io_uring TCP; the
//! handshake refuses a peer whose type is not the dual of ours; a hostile
//! raw peer (garbage preamble, silence, a huge length, a wrong label, a
//! close mid-frame, an abort) gets a typed error, never a panic or a hang.
#![cfg(not(corelane_loom))] // no io driver under the loom build

#[path = "common/io.rs"]
mod io_common;

use corelane::io::{Config as IoConfig, TcpListener, TcpStream};
use corelane::sched::{self, Priority};
use corelane::session::codec::Framed;
use corelane::session::{
    self, tcp, Chan, Dual, End, Endpoint, Error, Fingerprint, Named, Offer, Rec, Receiver, Recv,
    Sender, Var, Z,
};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use io_common::{runtime, skip};

/// Two numbers to add.
pub struct Pair {
    a: u64,
    b: u64,
}
impl Named for Pair {
    const NAME: &'static str = "Pair";
}
corelane::session_wire!(struct Pair { a, b });
corelane::session_payload! {
    /// The adder's messages.
    pub enum Msg { Pair(Pair), N(u64) }
}
corelane::session_wire!(
    enum Msg {
        Pair,
        N,
    }
);

corelane::session_choice! {
    /// The client's request.
    pub mod req {
        /// Add two numbers; the sum comes back.
        Add(Pair) => Recv<u64, Var<Z>>,
        /// Done.
        Stop(()) => End,
    }
}

type Server = Rec<Offer<req::Choice>>;
type Client = Dual<Server>;

/// The server's handler, for any transport carrying `Msg`.
async fn serve<Tr>(c: Chan<Server, Tr>) -> Result<u64, Error>
where
    Tr: Endpoint<Payload = Msg> + Sender + Receiver,
{
    let mut c = c.enter();
    let mut served = 0;
    loop {
        match c.offer().await? {
            req::Branch::Add(p, c2) => {
                c = c2.send(p.a + p.b).await?.recurse();
                served += 1;
            }
            req::Branch::Stop((), c2) => {
                c2.close();
                return Ok(served);
            }
        }
    }
}

/// The client's handler, for any transport carrying `Msg`.
async fn client<Tr>(c: Chan<Client, Tr>, n: u64) -> Result<u64, Error>
where
    Tr: Endpoint<Payload = Msg> + Sender + Receiver,
{
    let mut c = c.enter();
    let mut total = 0;
    for i in 0..n {
        let (sum, c2) = c
            .choose(req::Add, Pair { a: i, b: 2 * i })
            .await?
            .recv()
            .await?;
        assert_eq!(sum, 3 * i);
        total += sum;
        c = c2.recurse();
    }
    c.choose(req::Stop, ()).await?.close();
    Ok(total)
}

fn codec() -> Framed {
    Framed::pod(4096)
}

#[test]
fn same_protocol_and_handlers_over_rings_and_tcp() {
    if skip() {
        return;
    }
    let rt = runtime(1, IoConfig::default());
    let n = 500;
    let want: u64 = (0..n).map(|i| 3 * i).sum();
    // In-process: the rings.
    let (ring_served, ring_total) = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let (s, c) = session::ring::pair::<Server, Msg>(4);
            let server = sched::spawn_local(Priority::Normal, serve(s));
            let total = client(c, n).await.unwrap();
            (server.await.unwrap().unwrap(), total)
        })
        .await
        .unwrap()
    });
    // TCP, the same handlers.
    let (tcp_served, tcp_total) = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = l.local_addr().unwrap();
            let server = sched::spawn_local(Priority::Normal, async move {
                let s = l.accept().await.unwrap();
                let c = tcp::accept::<Server, Msg, _>(s, codec(), &tcp::Config::new()).await?;
                serve(c).await
            });
            let s = TcpStream::connect(addr).await.unwrap();
            let c = tcp::connect::<Client, Msg, _>(s, codec(), &tcp::Config::new())
                .await
                .unwrap();
            let total = client(c, n).await.unwrap();
            (server.await.unwrap().unwrap(), total)
        })
        .await
        .unwrap()
    });
    assert_eq!((ring_served, ring_total), (n, want));
    assert_eq!((tcp_served, tcp_total), (n, want));
}

#[test]
fn handshake_refuses_a_peer_whose_type_is_not_the_dual() {
    if skip() {
        return;
    }
    let rt = runtime(1, IoConfig::default());
    let (acc, ini) = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = l.local_addr().unwrap();
            let server = sched::spawn_local(Priority::Normal, async move {
                let s = l.accept().await.unwrap();
                tcp::accept::<Server, Msg, _>(s, codec(), &tcp::Config::new())
                    .await
                    .map(drop)
            });
            let s = TcpStream::connect(addr).await.unwrap();
            // The server's own type, not its dual.
            let ini = tcp::connect::<Server, Msg, _>(s, codec(), &tcp::Config::new())
                .await
                .map(drop);
            (server.await.unwrap(), ini)
        })
        .await
        .unwrap()
    });
    let want = <Client as Fingerprint>::FINGERPRINT;
    match acc {
        Err(Error::Refused { expected, got }) => {
            assert_eq!(expected, want);
            assert_eq!(got, <Server as Fingerprint>::FINGERPRINT);
        }
        other => panic!("acceptor: {other:?}"),
    }
    assert!(matches!(ini, Err(Error::Refused { .. })), "{ini:?}");
}

/// Runs the acceptor for `Server` on a core with `cfg`, lets `peer` (a raw
/// std socket on another thread) talk to it, and returns how it ended.
fn against_raw_peer(
    cfg: tcp::Config,
    peer: impl FnOnce(std::net::TcpStream) + std::marker::Send + 'static,
) -> Result<u64, Error> {
    let rt = runtime(1, IoConfig::default());
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let t = std::thread::spawn(move || {
        let addr = addr_rx.recv().unwrap();
        peer(std::net::TcpStream::connect(addr).unwrap());
    });
    let r = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            addr_tx.send(l.local_addr().unwrap()).unwrap();
            let s = l.accept().await.unwrap();
            let c = tcp::accept::<Server, Msg, _>(s, codec(), &cfg).await?;
            serve(c).await
        })
        .await
        .unwrap()
    });
    t.join().unwrap();
    r
}

/// A well-formed preamble of the client's type.
fn hello() -> Vec<u8> {
    let mut b = b"CLS1".to_vec();
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&<Client as Fingerprint>::FINGERPRINT.to_le_bytes());
    b
}

/// Sends the preamble and reads the 17-byte answer (accepted).
fn handshake(s: &mut std::net::TcpStream) {
    s.write_all(&hello()).unwrap();
    let mut reply = [0u8; 17];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply[16], 1, "accepted");
}

fn frame(kind: u8, label: u8, body: &[u8]) -> Vec<u8> {
    let mut f = ((body.len() + 2) as u32).to_le_bytes().to_vec();
    f.push(kind);
    f.push(label);
    f.extend_from_slice(body);
    f
}

#[test]
fn garbage_preamble_is_refused() {
    if skip() {
        return;
    }
    let r = against_raw_peer(tcp::Config::new(), |mut s| {
        s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let mut reply = [0u8; 17];
        s.read_exact(&mut reply).unwrap();
        assert_eq!(reply[16], 0, "refused");
    });
    assert!(matches!(r, Err(Error::Refused { got: 0, .. })), "{r:?}");
}

#[test]
fn a_silent_peer_times_out_in_the_handshake() {
    if skip() {
        return;
    }
    let cfg = tcp::Config::new().handshake_timeout(Duration::from_millis(200));
    let r = against_raw_peer(cfg, |s| {
        std::thread::sleep(Duration::from_millis(600));
        drop(s);
    });
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
}

#[test]
fn a_huge_length_is_malformed_without_buffering_it() {
    if skip() {
        return;
    }
    let r = against_raw_peer(tcp::Config::new(), |mut s| {
        handshake(&mut s);
        s.write_all(&u32::MAX.to_le_bytes()).unwrap();
        s.write_all(&[0, 0]).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    });
    assert!(matches!(r, Err(Error::Malformed(_))), "{r:?}");
}

#[test]
fn a_frame_over_the_transport_cap_is_malformed() {
    if skip() {
        return;
    }
    // The codec allows 4 KiB but the transport only 1 KiB.
    let r = against_raw_peer(tcp::Config::new().max_frame(1024), |mut s| {
        handshake(&mut s);
        let body = vec![7u8; 3000];
        let _ = s.write_all(&frame(0, 0, &body));
        std::thread::sleep(Duration::from_millis(100));
    });
    assert!(matches!(r, Err(Error::Malformed(_))), "{r:?}");
}

#[test]
fn a_wrong_label_is_a_violation() {
    if skip() {
        return;
    }
    let r = against_raw_peer(tcp::Config::new(), |mut s| {
        handshake(&mut s);
        s.write_all(&frame(0, 7, &[255])).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    });
    assert!(matches!(r, Err(Error::Violation { got: 7, .. })), "{r:?}");
}

#[test]
fn a_wrong_message_type_for_the_label_is_a_violation() {
    if skip() {
        return;
    }
    // Label 0 (Add) must carry a Pair; this one carries an N (tag 1).
    let r = against_raw_peer(tcp::Config::new(), |mut s| {
        handshake(&mut s);
        let mut body = vec![1u8];
        body.extend_from_slice(&5u64.to_le_bytes());
        s.write_all(&frame(0, 0, &body)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    });
    assert!(matches!(r, Err(Error::Violation { got: 0, .. })), "{r:?}");
}

#[test]
fn a_close_mid_frame_is_a_typed_error_and_a_clean_close_is_closed() {
    if skip() {
        return;
    }
    let r = against_raw_peer(tcp::Config::new(), |mut s| {
        handshake(&mut s);
        let f = frame(0, 0, &[0; 17]);
        s.write_all(&f[..9]).unwrap();
    });
    assert!(matches!(r, Err(Error::Malformed(_))), "{r:?}");
    let r = against_raw_peer(tcp::Config::new(), |mut s| handshake(&mut s));
    assert!(matches!(r, Err(Error::Closed)), "{r:?}");
}

#[test]
fn an_abort_frame_is_cancelled_and_silence_hits_the_read_timeout() {
    if skip() {
        return;
    }
    let r = against_raw_peer(tcp::Config::new(), |mut s| {
        handshake(&mut s);
        s.write_all(&frame(1, 0, &[])).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    });
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    let cfg = tcp::Config::new().read_timeout(Some(Duration::from_millis(150)));
    let r = against_raw_peer(cfg, |mut s| {
        handshake(&mut s);
        std::thread::sleep(Duration::from_millis(600));
    });
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
}

#[test]
fn dropping_a_client_mid_session_reaches_the_server_as_cancelled() {
    if skip() {
        return;
    }
    let rt = runtime(1, IoConfig::default());
    let r = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = l.local_addr().unwrap();
            let server = sched::spawn_local(Priority::Normal, async move {
                let s = l.accept().await.unwrap();
                let c = tcp::accept::<Server, Msg, _>(s, codec(), &tcp::Config::new()).await?;
                serve(c).await
            });
            let s = TcpStream::connect(addr).await.unwrap();
            let c = tcp::connect::<Client, Msg, _>(s, codec(), &tcp::Config::new())
                .await
                .unwrap();
            let (sum, c) = c
                .enter()
                .choose(req::Add, Pair { a: 1, b: 2 })
                .await
                .unwrap()
                .recv()
                .await
                .unwrap();
            assert_eq!(sum, 3);
            drop(c); // mid-session
            server.await.unwrap()
        })
        .await
        .unwrap()
    });
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
}
