//! The io driver over loopback: echo byte for byte (random sizes and split
//! points, many clients), the io client path, many concurrent connections,
//! connect/close churn with aborts and half-closes (no descriptor leaks),
//! a tiny buffer ring forcing the ENOBUFS path, hostile peers, received
//! buffers dropped on another core, cancel safety, and the typed error off
//! a runtime. Every server binds 127.0.0.1 port 0, bounds its own count and
//! time, and stops by itself. Where io_uring is unavailable each test says
//! it skipped and why.
#![cfg(not(corelane_loom))] // no io driver under the loom build

#[path = "common/io.rs"]
mod io_common;

use bytes::Bytes;
use corelane::io::{self, Config, Server, TcpStream};
use corelane::sched::{self, Priority, Runtime};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use io_common::{runtime, skip};

fn echo(rt: &Runtime) -> io::ServerHandle {
    Server::builder("127.0.0.1:0".parse().unwrap())
        .serve(rt, |mut s: TcpStream| async move {
            while let Ok(Some(b)) = s.recv().await {
                if s.send(b).await.is_err() {
                    break;
                }
            }
        })
        .expect("serve")
}

/// xorshift: reproducible randomness without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn client(addr: SocketAddr) -> std::net::TcpStream {
    let c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.set_nodelay(true).unwrap();
    c
}

#[test]
fn echo_random_sizes_and_splits_byte_for_byte() {
    if skip() {
        return;
    }
    let rt = runtime(2, Config::default());
    let server = echo(&rt);
    let addr = server.local_addr();
    let clients: Vec<_> = (0..4u64)
        .map(|seed| {
            std::thread::spawn(move || {
                let mut rng = Rng(0x9e37_79b9 + seed);
                let mut c = client(addr);
                let mut total = 0usize;
                for _ in 0..200 {
                    let len = 1 + rng.below(20_000) as usize;
                    let msg: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                    // Random split points on the way out.
                    let mut off = 0;
                    while off < len {
                        let n = (1 + rng.below(len as u64) as usize).min(len - off);
                        c.write_all(&msg[off..off + n]).unwrap();
                        off += n;
                    }
                    let mut got = vec![0; len];
                    c.read_exact(&mut got).unwrap();
                    assert!(got == msg, "echo differs");
                    total += len;
                }
                total
            })
        })
        .collect();
    let bytes: usize = clients.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(bytes > 0);
    let st = rt.stats();
    for c in &st.cores {
        let io = c.io.as_ref().expect("io on every core");
        assert_eq!(io.stale, 0, "a completion matched no op");
    }
    eprintln!("echoed {bytes} bytes; io: {:?}", st.cores[0].io);
}

#[test]
fn io_client_streams_talk_to_io_server() {
    if skip() {
        return;
    }
    let rt = runtime(2, Config::default());
    let server = echo(&rt);
    let addr = server.local_addr();
    let got = rt.block_on(async move {
        // The client runs on a core too (a local task: streams are !Send).
        sched::spawn_local(Priority::Normal, async move {
            let mut c = TcpStream::connect(addr).await?;
            let mut sum = 0usize;
            for i in 0..100usize {
                let msg = vec![i as u8; 1 + i * 100];
                if i % 2 == 0 {
                    c.write_all(&msg).await?;
                } else {
                    c.send(Bytes::from(msg.clone())).await?;
                }
                let mut got = Vec::new();
                while got.len() < msg.len() {
                    match c.recv().await? {
                        Some(b) => got.extend_from_slice(&b),
                        None => panic!("server closed early"),
                    }
                }
                assert_eq!(got, msg);
                sum += got.len();
            }
            c.shutdown(Shutdown::Write).await?;
            assert!(c.recv().await?.is_none(), "server closes after our FIN");
            c.close().await?;
            Ok::<_, std::io::Error>(sum)
        })
        .await
    });
    let sum = got.expect("task").expect("io");
    assert_eq!(sum, (0..100).map(|i| 1 + i * 100).sum::<usize>());
}

#[test]
fn ten_thousand_concurrent_connections() {
    if skip() {
        return;
    }
    const N: usize = 10_000;
    let rt = runtime(2, Config::default().cq_entries(32_768));
    let server = echo(&rt);
    let addr = server.local_addr();
    let start = Instant::now();
    let mut conns = Vec::with_capacity(N);
    for _ in 0..N {
        conns.push(client(addr));
    }
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(&(i as u64).to_le_bytes()).unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        c.read_exact(&mut b).unwrap();
        assert_eq!(u64::from_le_bytes(b), i as u64);
    }
    let st = rt.stats();
    let accepted: u64 = st
        .cores
        .iter()
        .map(|c| c.io.as_ref().unwrap().accepted)
        .sum();
    let overflow: u64 = st
        .cores
        .iter()
        .map(|c| c.io.as_ref().unwrap().cq_overflow)
        .sum();
    eprintln!(
        "{N} connections echoed in {:?}; accepted per core: {:?}",
        start.elapsed(),
        st.cores
            .iter()
            .map(|c| c.io.as_ref().unwrap().accepted)
            .collect::<Vec<_>>()
    );
    assert_eq!(accepted, N as u64);
    assert_eq!(overflow, 0, "CQ overflowed");
    drop(conns);
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn direct_open(rt: &Runtime) -> u64 {
    rt.stats()
        .cores
        .iter()
        .map(|c| c.io.as_ref().unwrap().direct_open)
        .sum()
}

/// Connect/close churn with random aborts (RST via SO_LINGER 0), half
/// closes, and clients that vanish mid-message. `CORELANE_IO_CYCLES`
/// sets the count (default 20 000; the 1M is run by hand with it).
#[test]
fn connect_close_churn_leaks_no_descriptor() {
    if skip() {
        return;
    }
    let cycles: usize = std::env::var("CORELANE_IO_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    // Plain descriptors on one runtime (they show in /proc/self/fd),
    // direct ones on the other (counted by the driver).
    for direct in [0u32, 16_384] {
        let rt = runtime(2, Config::default().direct_descriptors(direct));
        let server = echo(&rt);
        let addr = server.local_addr();
        // Settle: the runtime's own descriptors are open now.
        let before = open_fds();
        let mut rng = Rng(42 + u64::from(direct));
        let deadline =
            Instant::now() + Duration::from_secs(60) + Duration::from_micros(cycles as u64 * 500);
        let mut done = 0;
        while done < cycles && Instant::now() < deadline {
            let mut c = client(addr);
            match rng.below(4) {
                0 => {
                    // Full echo then close.
                    c.write_all(b"ping").unwrap();
                    let mut b = [0; 4];
                    c.read_exact(&mut b).unwrap();
                    assert_eq!(&b, b"ping");
                }
                1 => {
                    // Abort: RST on close.
                    let l = libc::linger {
                        l_onoff: 1,
                        l_linger: 0,
                    };
                    use std::os::fd::AsRawFd;
                    // SAFETY: passes a live linger and its size.
                    unsafe {
                        libc::setsockopt(
                            c.as_raw_fd(),
                            libc::SOL_SOCKET,
                            libc::SO_LINGER,
                            (&l as *const libc::linger).cast(),
                            std::mem::size_of::<libc::linger>() as u32,
                        )
                    };
                    let _ = c.write_all(b"half a mess");
                }
                2 => {
                    // Half close: the echo must still come back, then EOF.
                    c.write_all(b"bye").unwrap();
                    c.shutdown(Shutdown::Write).unwrap();
                    let mut v = Vec::new();
                    c.read_to_end(&mut v).unwrap();
                    assert_eq!(v, b"bye");
                }
                _ => {
                    // Vanish without a word.
                }
            }
            drop(c);
            done += 1;
        }
        // The server closes its side once it sees each end: give it a moment.
        let settle = Instant::now() + Duration::from_secs(10);
        loop {
            let (fds, direct_now) = (open_fds(), direct_open(&rt));
            if fds <= before && direct_now == 0 {
                break;
            }
            assert!(
                Instant::now() < settle,
                "leak after {done} cycles (direct table {direct}): fds {before} -> {fds}, direct open {direct_now}; live tasks {:?}; io {:?}",
                rt.stats().cores.iter().map(|c| c.live_tasks).collect::<Vec<_>>(),
                rt.stats().cores.iter().map(|c| c.io.clone()).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "{done} cycles (direct table {direct}): fds {before} -> {}, direct open 0",
            open_fds()
        );
        assert_eq!(done, cycles, "ran out of time");
        drop(server);
        rt.shutdown(Duration::from_secs(5)).unwrap();
    }
}

#[test]
fn tiny_buffer_ring_forces_enobufs_without_stall_or_loss() {
    if skip() {
        return;
    }
    // Four 256-byte buffers on one core, 8 clients pushing 64 KiB each.
    let rt = runtime(1, Config::default().buffers(4).buffer_size(256));
    let server = echo(&rt);
    let addr = server.local_addr();
    let start = Instant::now();
    let ts: Vec<_> = (0..8u64)
        .map(|seed| {
            std::thread::spawn(move || {
                let mut rng = Rng(7 + seed);
                let msg: Vec<u8> = (0..65_536).map(|_| rng.next() as u8).collect();
                let mut c = client(addr);
                let mut r = c.try_clone().unwrap();
                let expect = msg.clone();
                let reader = std::thread::spawn(move || {
                    let mut got = vec![0; expect.len()];
                    r.read_exact(&mut got).unwrap();
                    assert!(got == expect, "bytes lost or reordered");
                });
                c.write_all(&msg).unwrap();
                reader.join().unwrap();
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    let io = rt.stats().cores[0].io.clone().unwrap();
    eprintln!("ENOBUFS path: {:?} in {:?}", io, start.elapsed());
    assert!(
        io.enobufs > 0,
        "the tiny ring never ran dry: the test did not test"
    );
    assert!(start.elapsed() < Duration::from_secs(30), "stalled");
}

#[test]
fn hostile_peers_do_not_disturb_others() {
    if skip() {
        return;
    }
    let rt = runtime(1, Config::default());
    // A length-prefixed protocol: a bad length closes that one connection.
    let server = Server::builder("127.0.0.1:0".parse().unwrap())
        .serve(&rt, |mut s: TcpStream| async move {
            let mut buf = Vec::new();
            loop {
                match s.recv().await {
                    Ok(Some(b)) => buf.extend_from_slice(&b),
                    _ => return,
                }
                while buf.len() >= 4 {
                    let n = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
                    if n > 1024 {
                        let _ = s.write_all(b"ERR!").await;
                        return; // drop closes
                    }
                    if buf.len() < 4 + n {
                        break;
                    }
                    let frame: Vec<u8> = buf.drain(..4 + n).collect();
                    if s.write_all(&frame).await.is_err() {
                        return;
                    }
                }
            }
        })
        .unwrap();
    let addr = server.local_addr();
    let mut good = client(addr);
    // Garbage, a half-sent frame then vanish, a reset mid-frame.
    let mut bad = client(addr);
    bad.write_all(&[0xff; 64]).unwrap();
    let mut b = [0; 4];
    bad.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"ERR!");
    let mut half = client(addr);
    half.write_all(&100u32.to_le_bytes()).unwrap();
    half.write_all(&[1; 10]).unwrap();
    drop(half);
    for i in 0..50u32 {
        let mut frame = 8u32.to_le_bytes().to_vec();
        frame.extend_from_slice(&u64::from(i).to_le_bytes());
        good.write_all(&frame).unwrap();
        let mut got = vec![0; frame.len()];
        good.read_exact(&mut got).unwrap();
        assert_eq!(got, frame);
    }
}

#[test]
fn received_bytes_dropped_on_another_core_come_home() {
    if skip() {
        return;
    }
    // 8 buffers on core 0; every received chunk is sent to core 1, held
    // there a while, checked and dropped. Far more than 8 chunks pass, so
    // buffers must come home from core 1, and no held chunk may change.
    let rt = runtime(2, Config::default().buffers(8).buffer_size(512));
    let (tx, rx) = std::sync::mpsc::channel::<(u64, Bytes)>();
    let checked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let checked2 = checked.clone();
    let checker = std::thread::spawn(move || {
        while let Ok((seq, b)) = rx.recv() {
            assert!(
                b.iter().all(|&x| x == seq as u8),
                "a lent buffer was overwritten while held"
            );
            checked2.fetch_add(b.len(), std::sync::atomic::Ordering::SeqCst);
        }
    });
    let tx = std::sync::Mutex::new(tx);
    let tx = std::sync::Arc::new(tx);
    let server = Server::builder("127.0.0.1:0".parse().unwrap())
        .cores([0])
        .serve(&rt, move |mut s: TcpStream| {
            let tx = tx.clone();
            async move {
                let mut seq = 0u64;
                let mut pending: Vec<u8> = Vec::new();
                while let Ok(Some(b)) = s.recv().await {
                    // Hold the chunk on core 1 for a bit, then hand it to
                    // the checker thread.
                    let tx = tx.clone();
                    let held = b.clone();
                    drop(sched::spawn_on(1, Priority::Normal, async move {
                        sched::sleep(Duration::from_micros(200)).await;
                        let _ = tx.lock().unwrap().send((u64::from(held[0]), held));
                    }));
                    pending.extend_from_slice(&b);
                    drop(b);
                    // Ack each complete 512-byte message.
                    while pending.len() >= 512 {
                        pending.drain(..512);
                        seq += 1;
                        if s.write_all(&seq.to_le_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            }
        })
        .unwrap();
    let mut c = client(server.local_addr());
    for i in 1..=400u64 {
        c.write_all(&[i as u8; 512]).unwrap();
        let mut ack = [0; 8];
        c.read_exact(&mut ack).unwrap();
        assert_eq!(u64::from_le_bytes(ack), i);
    }
    // Every chunk reaches the checker once its 200 µs hold on core 1 ends.
    let deadline = Instant::now() + Duration::from_secs(10);
    while checked.load(std::sync::atomic::Ordering::SeqCst) < 400 * 512 {
        assert!(
            Instant::now() < deadline,
            "held chunks never reached the checker"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let io = rt.stats().cores[0].io.clone().unwrap();
    eprintln!("cross-core returns: {io:?}");
    assert!(io.enobufs == 0 || io.enobufs_waits > 0);
    drop(c);
    drop(server);
    rt.shutdown(Duration::from_secs(5)).unwrap();
    checker.join().unwrap();
    assert_eq!(checked.load(std::sync::atomic::Ordering::SeqCst), 400 * 512);
}

#[test]
fn dropped_recv_and_accept_futures_lose_nothing() {
    if skip() {
        return;
    }
    let rt = runtime(1, Config::default());
    let out = rt.block_on(async {
        sched::spawn_local(Priority::Normal, async {
            let mut l = io::TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let addr = l.local_addr()?;
            // An accept that times out is dropped; the connection that
            // arrives later is still accepted by the next call.
            assert!(sched::timeout(Duration::from_millis(5), l.accept())
                .await
                .is_err());
            let t = std::thread::spawn(move || {
                let mut c = client(addr);
                c.write_all(b"abc").unwrap();
                std::thread::sleep(Duration::from_millis(20));
                c.write_all(b"def").unwrap();
                let mut v = Vec::new();
                c.read_to_end(&mut v).unwrap();
                v
            });
            let mut s = l.accept().await?;
            // Receives cancelled by timeouts: no byte may go missing.
            let mut got = Vec::new();
            while got.len() < 6 {
                if let Ok(r) = sched::timeout(Duration::from_millis(1), s.recv()).await {
                    got.extend_from_slice(&r?.expect("data"));
                }
            }
            assert_eq!(got, b"abcdef");
            s.write_all(b"ok").await?;
            drop(s);
            // (Joined off the core: the close must go through its ring.)
            Ok::<_, std::io::Error>(t)
        })
        .await
    });
    let t = out.unwrap().unwrap();
    assert_eq!(t.join().unwrap(), b"ok");
}

#[test]
fn io_off_a_runtime_is_a_typed_error() {
    let e = io::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
    let inner = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<io::Unavailable>());
    assert_eq!(inner, Some(&io::Unavailable::NotInRuntime), "{e}");
    let rt = Runtime::builder()
        .cores([0])
        .pin(false)
        .io(Config::off())
        .build()
        .unwrap();
    let r = rt.block_on(async {
        sched::spawn_local(Priority::Normal, async {
            io::TcpListener::bind("127.0.0.1:0".parse().unwrap()).map(drop)
        })
        .await
    });
    let e = r.unwrap().unwrap_err();
    let inner = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<io::Unavailable>());
    assert_eq!(inner, Some(&io::Unavailable::Off), "{e}");
}
