//! Third adversarial review of the io driver (the fixes of 1f8d8e9,
//! 997c9f4 and 4b76777): each test here failed at 4b76777 (the first with
//! `--test-threads=1`, so that the second socket() got the number the
//! first stream freed) and passes since the detached send owns its
//! stream's close and an unbounded grace means "never cancel".
#![cfg(not(corelane_loom))] // no io driver under the loom build

#[path = "common/io.rs"]
mod io_common;

use bytes::Bytes;
use corelane::io::{Config, TcpStream};
use corelane::sched::{self, Priority};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::time::Duration;

use io_common::{runtime, skip};

const BIG: usize = 32 << 20;

/// Sets `SO_LINGER {on, 0}`: closing `s` then sends a RST.
fn abort_on_close(s: &std::net::TcpStream) {
    let lg = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a live socket, a live linger and its size.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&lg as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}

/// 4b76777 resumes a *detached* short send (`again && !s.throttled`, the
/// orphan test is gone), but `TcpStream::drop` closes the descriptor right
/// after detaching: the resubmission goes by number (`send_entry(t, ..)`
/// with `Target::Fd(fd)` / `Target::Fixed(i)`), to whatever reuses it.
/// A `MSG_WAITALL` send that has moved part of its bytes and then fails
/// (the peer resets) completes with the partial count, so the driver
/// resubmits the tail — here to the next connection, which never sent a
/// byte, and its peer receives the first stream's data.
#[test]
fn detached_send_tail_does_not_go_to_the_next_stream_on_its_descriptor() {
    if skip() {
        return;
    }
    // Peer 1 accepts, never reads, and resets when told to.
    let l1 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a1 = l1.local_addr().unwrap();
    let (reset_tx, reset_rx) = std::sync::mpsc::channel::<()>();
    let p1 = std::thread::spawn(move || {
        let (s, _) = l1.accept().unwrap();
        reset_rx.recv().unwrap();
        abort_on_close(&s);
        drop(s);
    });
    // Peer 2 accepts and counts what arrives within 2 s (its stream sends
    // nothing at all).
    let l2 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a2 = l2.local_addr().unwrap();
    let p2 = std::thread::spawn(move || {
        let (mut s, _) = l2.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut n = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(_) => break, // timeout (or reset): done
            }
        }
        n
    });
    // Plain descriptors: the number is reused by the next socket().
    let rt = runtime(1, Config::default().direct_descriptors(0));
    let r = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut s1 = TcpStream::connect(a1).await?;
            let fd1 = s1.as_raw_fd().expect("plain descriptor");
            s1.send(Bytes::from(vec![b'A'; BIG])).await?;
            // The kernel takes what fits; the rest waits for a window.
            sched::sleep(Duration::from_millis(200)).await;
            drop(s1); // detach the send, close fd1 through the ring
            sched::sleep(Duration::from_millis(100)).await;
            let s2 = TcpStream::connect(a2).await?;
            let fd2 = s2.as_raw_fd().expect("plain descriptor");
            // Peer 1 resets: the detached send ends with its partial count.
            reset_tx.send(()).unwrap();
            sched::sleep(Duration::from_millis(1500)).await;
            drop(s2);
            Ok::<_, std::io::Error>((fd1, fd2))
        })
        .await
    });
    let (fd1, fd2) = r.expect("task").expect("io");
    p1.join().unwrap();
    let leaked = p2.join().unwrap();
    // Before the fix fd2 == fd1 (the close ran at once and socket() got
    // the number back); now the detached send holds fd1 until it ends.
    eprintln!("fd1 {fd1}, fd2 {fd2}");
    assert_eq!(
        leaked, 0,
        "the peer of a stream that sent nothing received {leaked} bytes of the \
         first stream's detached send"
    );
}

/// `Config::send_grace(Duration::MAX)` ("never cancel") makes
/// `Driver::detach` compute `Instant::now() + Duration::MAX`, which
/// panics: in `TcpStream::drop`, or inside the park step when the detach
/// was deferred.
#[test]
fn send_grace_max_does_not_panic_when_a_stream_is_dropped() {
    if skip() {
        return;
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut n = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(k) = s.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k;
        }
        n
    });
    let rt = runtime(1, Config::default().send_grace(Duration::MAX));
    let r = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut s = TcpStream::connect(addr).await?;
            s.send(Bytes::from(vec![7u8; BIG])).await?;
            drop(s);
            Ok::<_, std::io::Error>(())
        })
        .await
    });
    let ok = r.is_ok();
    drop(rt);
    let got = peer.join().unwrap();
    assert!(ok, "the task panicked dropping its stream: {r:?}");
    assert_eq!(got, BIG);
}

/// The same through a `Server` with direct descriptors (its default): a
/// handler writes a large response and returns (the review-2 pattern);
/// the ring's file table hands the freed index to the next accepted
/// connection; the first client resets; its response's tail goes to the
/// second client, whose handler never sends anything.
#[test]
fn server_handlers_response_tail_does_not_reach_the_next_client() {
    if skip() {
        return;
    }
    use corelane::io::Server;
    let rt = runtime(1, Config::default());
    let server = Server::builder("127.0.0.1:0".parse().unwrap())
        .serve(&rt, |mut s: TcpStream| async move {
            // The first byte a client sends says what it wants.
            match s.recv().await {
                Ok(Some(b)) if b[0] == b'1' => {
                    let _ = s.send(Bytes::from(vec![b'A'; BIG])).await;
                }
                // Hold the stream, send nothing.
                _ => while let Ok(Some(_)) = s.recv().await {},
            }
        })
        .unwrap();
    let addr = server.local_addr();
    let mut c1 = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut c1, b"1").unwrap();
    // Handler 1 queues its response and returns: the stream is dropped.
    std::thread::sleep(Duration::from_millis(300));
    let mut c2 = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut c2, b"2").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    abort_on_close(&c1);
    drop(c1);
    c2.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut n = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    while let Ok(k) = c2.read(&mut buf) {
        if k == 0 {
            break;
        }
        n += k;
    }
    let direct = rt.stats().cores[0].io.clone().unwrap().direct;
    drop(c2);
    assert_eq!(
        n, 0,
        "client 2 (direct descriptors: {direct}) received {n} bytes of client 1's response"
    );
}

/// Review of the two-phase teardown (afb0a0b): its first cancel resumes a
/// send that reports a partial count, so a detached send (grace MAX:
/// "never cancel") may still finish in the 1 s wait — but a send the
/// kernel has taken nothing of since it was (re)submitted completes that
/// cancel with `ECANCELED`, not a count, and ends there: whether a
/// detached send's bytes reach a peer that reads 300 ms into the teardown
/// depended on whether the socket had room when it went in. Here it has
/// none (filled beforehand through the descriptor).
#[test]
fn teardown_first_cancel_resumes_a_detached_send_that_moved_nothing_yet() {
    if skip() {
        return;
    }
    const N: usize = 1 << 20;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (go, go_rx) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let _ = go_rx.recv();
        std::thread::sleep(Duration::from_millis(300));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let (mut n, mut buf) = (0usize, vec![0u8; 1 << 16]);
        while let Ok(k) = s.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k;
        }
        n
    });
    let rt = runtime(1, Config::default().send_grace(Duration::MAX));
    let pre = rt
        .block_on(async move {
            sched::spawn_local(Priority::Normal, async move {
                let mut s = TcpStream::connect(addr).await?;
                let fd = s.as_raw_fd().expect("a plain descriptor");
                // Fill the socket (twice: what drained in between too).
                let mut pre = 0usize;
                let chunk = vec![1u8; 1 << 16];
                for _ in 0..2 {
                    loop {
                        // SAFETY: a live socket and a live buffer of that length.
                        let r = unsafe {
                            libc::send(fd, chunk.as_ptr().cast(), chunk.len(), libc::MSG_DONTWAIT)
                        };
                        if r <= 0 {
                            break;
                        }
                        pre += r as usize;
                    }
                    sched::sleep(Duration::from_millis(50)).await;
                }
                s.send(Bytes::from(vec![7u8; N])).await?;
                sched::sleep(Duration::from_millis(50)).await;
                drop(s);
                Ok::<_, std::io::Error>(pre)
            })
            .await
        })
        .expect("task")
        .expect("io");
    let _ = go.send(());
    drop(rt);
    let got = peer.join().unwrap();
    assert_eq!(got, pre + N, "the peer got {got} of {pre} + {N} bytes");
}
