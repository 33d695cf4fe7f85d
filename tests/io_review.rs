//! Adversarial review tests for the io driver (expected to FAIL on main).

use corelane::io::{self, Config, Server, TcpStream};
use corelane::sched::{self, Idle, Priority, Runtime};
use std::future::Future;
use std::io::{Read, Write};
use std::task::Poll;
use std::time::{Duration, Instant};

fn skip() -> bool {
    match io::probe() {
        Ok(()) => false,
        Err(why) => {
            eprintln!("skipped: {why}");
            true
        }
    }
}

fn runtime(cores: usize, cfg: Config) -> Runtime {
    Runtime::builder()
        .cores(0..cores as u32)
        .pin(false)
        .idle(Idle::Park)
        .io(cfg.required(true))
        .build()
        .expect("runtime with io")
}

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
                // SAFETY (test): borrowed for the call only.
                let t = std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(fd) });
                t.peer_addr().unwrap()
            })
            .map_err(|e| e.to_string())
        })
        .await
    });
    std::thread::sleep(Duration::from_millis(50));
    let a_got = a.accept().is_ok();
    let r = r.unwrap();
    assert!(
        r == Ok(ba) && !a_got,
        "connect to B ({ba}) gave a stream whose peer is {r:?} (A is {aa}); listener A (never connected to after the drop) got a connection: {a_got}"
    );
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
