//! A counting allocator checks the io driver's steady state: after warm-up
//! an echo request (a multishot receive completion lent as `Bytes`, a send
//! of that `Bytes`, or a vectored send of its two halves, the completions
//! and wakes around them) allocates nothing on the core. Only the core threads are counted (a flag each
//! sets from a task); the client is a plain blocking thread.
#![cfg(not(corelane_loom))] // no io driver under the loom build

#[path = "common/alloc.rs"]
mod counting_alloc;

use bytes::Bytes;
use corelane::io::{self, Config, Server, ServerHandle, TcpStream};
use corelane::sched::{self, Idle, Priority, Runtime};
use counting_alloc::Counting;
use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    // `try_with`: may run while thread-locals are torn down.
    if COUNTED.try_with(|c| c.get()).unwrap_or(false) {
        ALLOCS.fetch_add(1, SeqCst);
    }
}

// SAFETY: `note` never allocates (a const thread-local and an atomic) and
// never unwinds.
#[global_allocator]
static GLOBAL: Counting = unsafe { Counting::new(note) };

fn round_trips(c: &mut std::net::TcpStream, n: usize, size: usize) {
    let msg = vec![7u8; size];
    let mut got = vec![0u8; size];
    for _ in 0..n {
        c.write_all(&msg).unwrap();
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, msg);
    }
}

/// An echo server: each chunk back as one `send`, or (`vectored`) as its
/// two halves in one `send_vectored` (the batch `Vec` reused).
fn echo(rt: &Runtime, vectored: bool) -> ServerHandle {
    let b = Server::builder("127.0.0.1:0".parse().unwrap()).priority(Priority::High);
    if !vectored {
        return b
            .serve(rt, |mut s: TcpStream| async move {
                while let Ok(Some(b)) = s.recv().await {
                    if s.send(b).await.is_err() {
                        break;
                    }
                }
            })
            .unwrap();
    }
    b.serve(rt, |mut s: TcpStream| async move {
        let mut batch: Vec<Bytes> = Vec::with_capacity(2);
        while let Ok(Some(b)) = s.recv().await {
            let half = b.len() / 2;
            batch.push(b.slice(..half));
            batch.push(b.slice(half..));
            drop(b);
            if s.send_vectored(&mut batch).await.is_err() {
                break;
            }
        }
    })
    .unwrap()
}

#[test]
fn echo_requests_allocate_nothing_after_warm_up() {
    if let Err(why) = io::probe() {
        eprintln!("skipped: io_uring unavailable here: {why}");
        return;
    }
    let idles = [Idle::Park, Idle::Spin(Duration::from_micros(20))];
    for (idle, vectored) in idles.into_iter().flat_map(|i| [(i, false), (i, true)]) {
        let rt = Runtime::builder()
            .cores([0])
            .pin(false)
            .idle(idle)
            .io(Config::default().required(true))
            .build()
            .unwrap();
        let server = echo(&rt, vectored);
        rt.block_on(async {
            sched::spawn_on(0, Priority::Normal, async { COUNTED.with(|c| c.set(true)) }).await
        })
        .unwrap();
        let mut c = std::net::TcpStream::connect(server.local_addr()).unwrap();
        c.set_nodelay(true).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // Warm-up: every buffer of the ring lent at least once, pools filled.
        round_trips(&mut c, 3000, 64);
        round_trips(&mut c, 300, 3000);
        let before = ALLOCS.load(SeqCst);
        const N: usize = 10_000;
        round_trips(&mut c, N / 2, 64);
        round_trips(&mut c, N / 2, 1500);
        let allocs = ALLOCS.load(SeqCst) - before;
        eprintln!(
            "{idle:?}, vectored {vectored}: {allocs} allocations on the core over {N} echo requests"
        );
        assert_eq!(
            allocs, 0,
            "{idle:?}, vectored {vectored}: {allocs} allocations over {N} requests"
        );
        drop(c);
        drop(server);
        rt.shutdown(Duration::from_secs(5)).unwrap();
    }
}
