//! Second adversarial review of the io driver (queued sends): each test
//! here failed at 1f8d8e9/cb630bd and passes since its fix (MSG_WAITALL and
//! detached sends resumed; shutdown(Write) flushes first; a dropped
//! stream's last send cancelled after `Config::send_grace`).
#![cfg(not(corelane_loom))] // no io driver under the loom build

#[path = "common/io.rs"]
mod io_common;

use bytes::Bytes;
use corelane::io::{Config, Server, TcpStream};
use corelane::sched::{self, Priority};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use io_common::{runtime, skip};

const BIG: usize = 32 << 20;

/// A std peer that accepts one connection, waits `wait` without reading
/// (so the first Send SQE is short: the kernel takes only what fits in
/// the socket buffers), then reads to EOF and returns the byte count.
fn slow_reader(wait: Duration) -> (std::net::SocketAddr, std::thread::JoinHandle<usize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        std::thread::sleep(wait);
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut n = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) => panic!("peer read failed after {n} bytes: {e}"),
            }
        }
        n
    });
    (addr, t)
}

/// `send` returns once the ring owns the bytes, and the docs say
/// "Dropping the stream lets a queued send finish before the close". But
/// a short send of an orphaned (detached) op is not resumed
/// (`again && !orphan` in `Driver::complete`): the tail is dropped and
/// the peer sees a clean FIN after a truncated stream.
#[test]
fn dropped_stream_delivers_its_whole_last_send() {
    if skip() {
        return;
    }
    let (addr, peer) = slow_reader(Duration::from_millis(300));
    let rt = runtime(1, Config::default());
    let r = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut s = TcpStream::connect(addr).await?;
            s.send(Bytes::from(vec![7u8; BIG])).await?;
            drop(s);
            Ok::<_, std::io::Error>(())
        })
        .await
    });
    r.expect("task").expect("io");
    let got = peer.join().unwrap();
    assert_eq!(got, BIG, "the peer got {got} of {BIG} bytes, then a FIN");
}

/// Same through a `Server` handler (direct descriptors where the ring has
/// a file table): the "write the response, drop the stream" pattern.
#[test]
fn server_handler_that_sends_then_returns_delivers_everything() {
    if skip() {
        return;
    }
    let rt = runtime(1, Config::default());
    let server = Server::builder("127.0.0.1:0".parse().unwrap())
        .serve(&rt, |mut s: TcpStream| async move {
            let _ = s.send(Bytes::from(vec![7u8; BIG])).await;
        })
        .unwrap();
    let mut c = std::net::TcpStream::connect(server.local_addr()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut n = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => panic!("read failed after {n} bytes: {e}"),
        }
    }
    assert_eq!(n, BIG, "the client got {n} of {BIG} bytes, then a FIN");
}

/// Before 58fd2f2 `send().await` meant "sent"; now it means "queued", but
/// `shutdown` does not wait for the queued send. `send; shutdown(Write)`
/// (the usual "response, then half-close") runs SHUT_WR between the
/// short send and its resubmission: the rest fails with EPIPE, the peer
/// gets a truncated stream and a FIN, and `shutdown` returns Ok.
#[test]
fn shutdown_write_waits_for_the_queued_send() {
    if skip() {
        return;
    }
    let (addr, peer) = slow_reader(Duration::from_millis(300));
    let rt = runtime(1, Config::default());
    let r = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut s = TcpStream::connect(addr).await?;
            s.send(Bytes::from(vec![7u8; BIG])).await?;
            s.shutdown(Shutdown::Write).await?;
            let flushed = s.flush().await.map_err(|e| e.to_string());
            // Hold the stream until the peer is done.
            while s.recv().await?.is_some() {}
            Ok::<_, std::io::Error>(flushed)
        })
        .await
    });
    let flushed = r.expect("task").expect("io");
    let got = peer.join().unwrap();
    assert_eq!(
        got, BIG,
        "the peer got {got} of {BIG} bytes (shutdown returned Ok; a later flush said {flushed:?})"
    );
}

/// A detached send cannot be cancelled by anyone: once the stream is
/// dropped, a send the peer never acknowledges (a peer that stops reading
/// but stays connected) keeps its bytes forever. When those bytes are a
/// received chunk (the echo pattern), that receive buffer is pinned: with
/// a small ring, every other connection on the core starves.
#[test]
fn dropping_a_stream_does_not_pin_a_receive_buffer_forever() {
    if skip() {
        return;
    }
    // A peer that writes one byte, never reads, stays connected for 4 s.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    // Small, fixed socket buffers (no autotuning): the window stays shut.
    set_buf(std::os::fd::AsRawFd::as_raw_fd(&l), libc::SO_RCVBUF);
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_secs(4));
    });
    // The grace a dropped stream's last send gets, shortened for the test.
    let rt = runtime(
        1,
        Config::default()
            .buffers(2)
            .send_grace(Duration::from_millis(500)),
    );
    let r = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut s = TcpStream::connect(addr).await?;
            let fd = s.as_raw_fd().expect("a connected socket is a plain fd");
            set_buf(fd, libc::SO_SNDBUF);
            // Fill the socket's send path (the peer never reads).
            let junk = vec![0u8; 1 << 16];
            // Until the window is shut and both buffers are full: fill, let
            // loopback move what it can, fill again.
            for _ in 0..4 {
                let t = Instant::now();
                loop {
                    // SAFETY: a live buffer and its length; the fd is ours.
                    let n = unsafe {
                        libc::send(fd, junk.as_ptr().cast(), junk.len(), libc::MSG_DONTWAIT)
                    };
                    if n < 0 || t.elapsed() > Duration::from_secs(1) {
                        break;
                    }
                }
                sched::sleep(Duration::from_millis(100)).await;
            }
            // A lent receive buffer, echoed: the send cannot go out.
            let b = s.recv().await?.expect("the peer's byte");
            s.send(b).await?;
            drop(s);
            Ok::<_, std::io::Error>(())
        })
        .await
    });
    r.expect("task").expect("io");
    // The stream is gone; its send is cancelled 0.5 s later: wait up to
    // 2 s (the peer stays 4 s) for the buffer to come home.
    let t = Instant::now();
    let mut io = rt.stats().cores[0].io.clone().unwrap();
    while io.buffers_lent > 0 && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(50));
        io = rt.stats().cores[0].io.clone().unwrap();
    }
    let lent = io.buffers_lent;
    peer.join().unwrap();
    assert_eq!(
        lent, 0,
        "a dropped stream's detached send still holds {lent} receive buffer(s): {io:?}"
    );
}

fn set_buf(fd: std::os::fd::RawFd, opt: i32) {
    let v: i32 = 4096;
    // SAFETY: a live int and its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}
