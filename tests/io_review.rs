//! Regression tests from the adversarial review of the io driver, each seen
//! failing before its fix: a dropped connect future closed its socket
//! while the connect was still queued (the next socket got connected to
//! the old address); one flooding connection took every receive buffer of
//! its core; a drop inside the deferred-action queue re-borrowed it (the
//! core panicked).
#![cfg(not(corelane_loom))] // no io driver under the loom build

#[path = "common/io.rs"]
mod io_common;

use corelane::io::{Config, Server, TcpStream};
use corelane::sched::{self, Priority};
use std::future::Future;
use std::io::{Read, Write};
use std::task::Poll;
use std::time::{Duration, Instant};

use io_common::{runtime, skip};

/// A connect future polled once and dropped closes its socket with a plain
/// close(2) while its Connect SQE still sits unsubmitted in the SQ. The
/// next socket() reuses the number, and the stale SQE connects *that*
/// socket to the first address.
#[test]
fn dropped_connect_future_does_not_hijack_the_next_socket() {
    if skip() {
        return;
    }
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    a.set_nonblocking(true).unwrap();
    let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let rt = runtime(1, Config::default());
    let r = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut f = Box::pin(TcpStream::connect(aa));
            std::future::poll_fn(|cx| {
                let _ = f.as_mut().poll(cx);
                Poll::Ready(())
            })
            .await;
            drop(f);
            let s = TcpStream::connect(ba).await;
            s.map(|s| {
                use std::os::fd::FromRawFd;
                let fd = s.as_raw_fd().unwrap();
                let t = std::mem::ManuallyDrop::new(
                    // SAFETY: the descriptor is live (the stream holds it)
                    // and only borrowed: ManuallyDrop never closes it.
                    unsafe { std::net::TcpStream::from_raw_fd(fd) },
                );
                t.peer_addr().unwrap()
            })
            .map_err(|e| e.to_string())
        })
        .await
    });
    std::thread::sleep(Duration::from_millis(50));
    let r = r.unwrap();
    assert!(
        r == Ok(ba),
        "connect to B ({ba}) gave a stream whose peer is {r:?} (A is {aa})"
    );
    // The abandoned connect was already queued: like any connect racing its
    // cancellation it may still reach A (loopback completes it at once),
    // but its socket must then be closed, not handed to anyone.
    if let Ok((mut s, _)) = a.accept() {
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(
            s.read(&mut buf).unwrap(),
            0,
            "the abandoned connection to A stays open"
        );
    }
}

/// A handler that is busy elsewhere (here: a 3 s sleep standing in for a
/// database call) leaves its multishot recv armed; a peer that floods the
/// connection meanwhile soaks up the core's whole buffer ring (default
/// config: 1024 x 4 KiB) into that stream's event queue, and every other
/// connection on the core starves (ENOBUFS) until that handler reads again.
#[test]
fn one_flooding_peer_does_not_starve_the_core() {
    if skip() {
        return;
    }
    let rt = runtime(1, Config::default());
    let server = Server::builder("127.0.0.1:0".parse().unwrap())
        .serve(&rt, |mut s: TcpStream| async move {
            let mut first = true;
            while let Ok(Some(b)) = s.recv().await {
                if first && b[0] == b'H' {
                    sched::sleep(Duration::from_secs(3)).await;
                }
                first = false;
                if s.send(b).await.is_err() {
                    break;
                }
            }
        })
        .unwrap();
    let addr = server.local_addr();
    let hostile = std::thread::spawn(move || {
        let mut h = std::net::TcpStream::connect(addr).unwrap();
        h.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = h.write_all(b"H");
        std::thread::sleep(Duration::from_millis(50));
        let chunk = vec![b'H'; 8 << 20];
        let _ = h.write_all(&chunk);
        std::thread::sleep(Duration::from_secs(3));
    });
    std::thread::sleep(Duration::from_millis(500));
    let before = rt.stats().cores[0].io.clone().unwrap();
    let mut good = std::net::TcpStream::connect(addr).unwrap();
    good.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let t = Instant::now();
    good.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    let r = good.read_exact(&mut got);
    let after = rt.stats().cores[0].io.clone().unwrap();
    hostile.join().unwrap();
    assert!(
        r.is_ok(),
        "an innocent connection got no echo in {:?} ({r:?}):\n before {before:?}\n after {after:?}",
        t.elapsed()
    );
}

/// `run_deferred` holds `deferred.borrow_mut()` while it runs the queued
/// actions; an action that frees a slot drops the slot's memory (a user
/// `Bytes`) inside that borrow. If that drop drops a stream (here: the
/// `Bytes`' owner clears a thread-local holding one), the stream's drop
/// goes to `or_defer`, finds the driver borrowed and calls
/// `deferred.borrow_mut()` again: BorrowMutError, the core panics.
#[test]
fn drops_during_deferred_actions_do_not_panic_the_core() {
    if skip() {
        return;
    }
    use std::cell::RefCell;
    use std::pin::Pin;
    thread_local! {
        static L1: RefCell<Vec<Pin<Box<dyn Future<Output = ()>>>>> = RefCell::new(Vec::new());
        static L2: RefCell<Vec<TcpStream>> = const { RefCell::new(Vec::new()) };
    }
    struct Own(Vec<u8>, u8);
    impl AsRef<[u8]> for Own {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    impl Drop for Own {
        fn drop(&mut self) {
            // Runs on the core's thread (the driver drops op memory there).
            if self.1 == 1 {
                let v = L1.with(|l| std::mem::take(&mut *l.borrow_mut()));
                drop(v);
            } else {
                let v = L2.with(|l| std::mem::take(&mut *l.borrow_mut()));
                drop(v);
            }
        }
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let acc = std::thread::spawn(move || {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(l.accept().unwrap().0);
        }
        std::thread::sleep(Duration::from_secs(2));
        v
    });
    let rt = runtime(1, Config::default());
    let r = rt.block_on(async move {
        sched::spawn_local(Priority::Normal, async move {
            let mut s1 = TcpStream::connect(addr).await.unwrap();
            let s3 = TcpStream::connect(addr).await.unwrap();
            let s4 = TcpStream::connect(addr).await.unwrap();
            // B2's owner drops S4; F3 owns S3 and sends B2; B1's owner drops F3.
            L2.with(|l| l.borrow_mut().push(s4));
            let b2 = bytes::Bytes::from_owner(Own(b"two".to_vec(), 2));
            let mut f3: Pin<Box<dyn Future<Output = ()>>> = Box::pin(async move {
                let mut s3 = s3;
                let _ = s3.send(b2).await;
            });
            std::future::poll_fn(|cx| {
                let _ = f3.as_mut().poll(cx);
                Poll::Ready(())
            })
            .await;
            L1.with(|l| l.borrow_mut().push(f3));
            let b1 = bytes::Bytes::from_owner(Own(b"one".to_vec(), 1));
            let mut f1 = Box::pin(s1.send(b1));
            std::future::poll_fn(|cx| {
                let _ = f1.as_mut().poll(cx);
                Poll::Ready(())
            })
            .await;
            drop(f1);
            sched::sleep(Duration::from_millis(20)).await;
            sched::sleep(Duration::from_millis(20)).await;
            "survived"
        })
        .await
    });
    let _ = acc.join();
    assert_eq!(
        r.ok(),
        Some("survived"),
        "the core's task was lost (core panicked?)"
    );
}
