//! `TcpStream::send_vectored` / `start_send_vectored` over loopback: a
//! broker-like batch of small frames arrives byte for byte and in order
//! in far fewer ops than frames, from a connected stream (a plain
//! descriptor) and from a server handler (a direct one where the ring has
//! a file table); a batch of several MB in more buffers than one op takes
//! (IOV_MAX) to a slow peer with a small receive buffer arrives intact
//! (every byte is checked against its offset, so a resume from the wrong
//! place shows); empty batches queue nothing; a reset peer's error is
//! reported; a stream dropped right after queueing still delivers
//! everything; a `Bytes` whose drop uses the driver is dropped outside its
//! borrow. Peers bind 127.0.0.1 port 0; reads time out after 10 s.
#![cfg(not(corelane_loom))] // no io driver under the loom build

#[path = "common/io.rs"]
mod io_common;

use bytes::Bytes;
use corelane::io::{Config, Server, TcpStream};
use corelane::sched::{self, Priority, Runtime};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use io_common::{runtime, skip};

/// The byte at stream offset `off`: a hash, so a repeated, skipped or
/// shifted stretch shows at its first byte.
fn pattern(off: usize) -> u8 {
    ((off as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8
}

/// `len` pattern bytes in one allocation.
fn stream(len: usize) -> Bytes {
    (0..len).map(pattern).collect::<Vec<u8>>().into()
}

/// `all` cut into slices (one allocation shared, as a broker's fan-out
/// holds its frames) of `size(i)` bytes each, the last one shorter.
fn cut(all: &Bytes, size: impl Fn(usize) -> usize) -> Vec<Bytes> {
    let (mut out, mut at) = (Vec::new(), 0);
    while at < all.len() {
        let n = size(out.len()).min(all.len() - at);
        out.push(all.slice(at..at + n));
        at += n;
    }
    out
}

/// Reads `s` to EOF after `pause`, napping 1 ms every 64 KiB when `slow`;
/// every byte checked against [`pattern`]. The count, or what went wrong.
fn read_checked(mut s: std::net::TcpStream, pause: Duration, slow: bool) -> Result<usize, String> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::thread::sleep(pause);
    let (mut n, mut buf) = (0usize, vec![0u8; 8192]);
    loop {
        let k = match s.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) => return Err(format!("read failed after {n} bytes: {e}")),
        };
        for (i, &b) in buf[..k].iter().enumerate() {
            if b != pattern(n + i) {
                return Err(format!(
                    "byte {} is {b:#04x}, want {:#04x}",
                    n + i,
                    pattern(n + i)
                ));
            }
        }
        if slow && (n + k) / 65_536 != n / 65_536 {
            std::thread::sleep(Duration::from_millis(1));
        }
        n += k;
    }
}

fn set_rcvbuf(fd: std::os::fd::RawFd, v: i32) {
    // SAFETY: a live int and its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}

/// A std peer taking one connection (a 4 KiB receive buffer, inherited
/// from the listener, when `small`) and checking what it reads.
fn peer(small: bool, pause: Duration) -> (SocketAddr, JoinHandle<Result<usize, String>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    if small {
        set_rcvbuf(std::os::fd::AsRawFd::as_raw_fd(&l), 4096);
    }
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || read_checked(l.accept().unwrap().0, pause, small));
    (addr, t)
}

/// Runs the future `make` makes in a local task on the runtime's core
/// (streams are `!Send`: it is made there); its io result.
fn on_core<T, F>(rt: &Runtime, make: impl FnOnce() -> F + Send + 'static) -> std::io::Result<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = std::io::Result<T>> + 'static,
{
    rt.block_on(async move { sched::spawn_local(Priority::Normal, make()).await })
        .expect("task")
}

/// A server whose handler sends `all`, cut by `size`, as one vectored
/// send per `batch` buffers (awaiting each), then drops its stream;
/// `direct` records whether the stream used a direct descriptor (1 yes,
/// 2 no).
fn vectored_server(
    rt: &Runtime,
    all: Bytes,
    size: fn(usize) -> usize,
    batch: usize,
    direct: Arc<AtomicU8>,
) -> corelane::io::ServerHandle {
    Server::builder("127.0.0.1:0".parse().unwrap())
        .serve(rt, move |mut s: TcpStream| {
            let (all, direct) = (all.clone(), direct.clone());
            async move {
                direct.store(if s.is_direct() { 1 } else { 2 }, Ordering::SeqCst);
                let bufs = cut(&all, size);
                let mut b = Vec::with_capacity(batch);
                for chunk in bufs.chunks(batch) {
                    b.extend_from_slice(chunk);
                    if s.send_vectored(&mut b).await.is_err() {
                        return;
                    }
                    assert!(b.is_empty() && b.capacity() >= batch);
                }
            }
        })
        .expect("serve")
}

fn sqes(rt: &Runtime) -> u64 {
    rt.stats().cores[0].io.as_ref().expect("io").sqes
}

fn short_sends(rt: &Runtime) -> u64 {
    rt.stats().cores[0].io.as_ref().expect("io").short_sends
}

const FRAME: usize = 71;
const BATCH: usize = 64;
const BATCHES: usize = 40;

#[test]
fn batches_of_small_frames_arrive_in_order_in_one_op_each() {
    if skip() {
        return;
    }
    let all = stream(FRAME * BATCH * BATCHES);
    let frames = BATCH * BATCHES;
    // A connected stream: a plain descriptor.
    let rt = runtime(1, Config::default());
    let (addr, p) = peer(false, Duration::ZERO);
    let before = sqes(&rt);
    let data = all.clone();
    on_core(&rt, move || async move {
        let mut s = TcpStream::connect(addr).await?;
        let bufs = cut(&data, |_| FRAME);
        let mut b = Vec::with_capacity(BATCH);
        for chunk in bufs.chunks(BATCH) {
            b.extend_from_slice(chunk);
            s.send_vectored(&mut b).await?;
            assert!(b.is_empty(), "the batch was not taken");
            assert!(b.capacity() >= BATCH, "the caller's capacity was lost");
        }
        s.close().await
    })
    .expect("io");
    assert_eq!(p.join().unwrap(), Ok(all.len()));
    let ops = sqes(&rt) - before;
    eprintln!("{frames} frames in {BATCHES} vectored sends: {ops} SQEs in all");
    assert!(ops < frames as u64 / 8, "{ops} SQEs for {frames} frames");

    // A server handler's stream: a direct descriptor where there is a table.
    let direct = Arc::new(AtomicU8::new(0));
    let server = vectored_server(&rt, all.clone(), |_| FRAME, BATCH, direct.clone());
    let c = std::net::TcpStream::connect(server.local_addr()).unwrap();
    assert_eq!(read_checked(c, Duration::ZERO, false), Ok(all.len()));
    let table = rt.stats().cores[0].io.as_ref().unwrap().direct;
    assert_eq!(direct.load(Ordering::SeqCst), if table { 1 } else { 2 });
    eprintln!("server side: direct descriptor {table}");
}

/// Sizes 0..2800 (zero-length buffers included), about 4.2 MB over 3000
/// buffers: three ops' worth of iovecs.
fn mixed(i: usize) -> usize {
    (i * 7919) % 2800
}
const BIG: usize = 4_200_000;

#[test]
fn a_large_batch_past_iov_max_to_a_slow_peer_arrives_intact() {
    if skip() {
        return;
    }
    let all = stream(BIG);
    let n = cut(&all, mixed).len();
    assert!(n > 2 * 1024, "{n} buffers: not past IOV_MAX twice");
    let rt = runtime(1, Config::default());
    let (addr, p) = peer(true, Duration::from_millis(300));
    let data = all.clone();
    let shorts = short_sends(&rt);
    let sent = on_core(&rt, move || async move {
        let mut s = TcpStream::connect(addr).await?;
        let mut b = cut(&data, mixed);
        s.send_vectored(&mut b).await?;
        assert!(b.is_empty());
        s.flush().await?;
        s.close().await
    });
    // The peer first: a wrong byte makes it hang up, and the sender fail.
    assert_eq!(p.join().unwrap(), Ok(BIG), "the sender said {sent:?}");
    sent.expect("io");
    let resumed = short_sends(&rt) - shorts;
    eprintln!("{BIG} bytes in {n} buffers: resubmitted {resumed} times");
    assert!(resumed >= 2, "the resume path did not run ({resumed})");

    // The same from a server handler, two batches of the whole list.
    let direct = Arc::new(AtomicU8::new(0));
    let server = vectored_server(&rt, all.clone(), mixed, n / 2 + 1, direct);
    // (A receive buffer shrunk after the handshake makes loopback crawl
    // past the send grace: this peer is only slow to start.)
    let c = std::net::TcpStream::connect(server.local_addr()).unwrap();
    assert_eq!(read_checked(c, Duration::from_millis(300), true), Ok(BIG));
}

#[test]
fn empty_batches_queue_nothing_and_a_busy_stream_takes_nothing() {
    if skip() {
        return;
    }
    let rt = runtime(1, Config::default());
    let all = stream(3 * FRAME);
    let (addr, p) = peer(false, Duration::ZERO);
    let data = all.clone();
    on_core(&rt, move || async move {
        let mut s = TcpStream::connect(addr).await?;
        let mut none: Vec<Bytes> = Vec::with_capacity(4);
        s.start_send_vectored(&mut none)?;
        let mut blanks = vec![Bytes::new(), Bytes::from_static(b""), Bytes::new()];
        s.start_send_vectored(&mut blanks)?;
        assert!(blanks.is_empty(), "empty buffers are taken too");
        s.send_vectored(&mut none).await?;
        // Nothing was queued: this one is not refused.
        let mut b = cut(&data, |_| FRAME);
        b.insert(1, Bytes::new());
        s.start_send_vectored(&mut b)?;
        assert!(b.is_empty());
        // One in flight now: the next is refused, with nothing taken.
        let mut next = vec![Bytes::from_static(b"late")];
        let e = s.start_send_vectored(&mut next).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        assert_eq!(next.len(), 1, "a refused batch lost its buffers");
        s.flush().await?;
        s.close().await
    })
    .expect("io");
    assert_eq!(p.join().unwrap(), Ok(all.len()));
}

#[test]
fn a_vectored_send_to_a_reset_peer_reports_an_error() {
    if skip() {
        return;
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let p = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let lg = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a live linger and its size, on our socket.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&s),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&lg as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        drop(s); // RST
    });
    let rt = runtime(1, Config::default());
    let all = stream(FRAME * BATCH);
    let err = on_core(&rt, move || async move {
        let mut s = TcpStream::connect(addr).await?;
        sched::sleep(Duration::from_millis(100)).await;
        for _ in 0..50 {
            let mut b = cut(&all, |_| FRAME);
            if let Err(e) = s.send_vectored(&mut b).await {
                return Ok(Some(e));
            }
            if let Err(e) = s.flush().await {
                return Ok(Some(e));
            }
            sched::sleep(Duration::from_millis(10)).await;
        }
        Ok(None)
    })
    .expect("io");
    p.join().unwrap();
    let e = err.expect("no error from sends to a reset peer");
    eprintln!("reported: {e}");
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
        "{e:?}"
    );
}

#[test]
fn a_stream_dropped_right_after_start_send_vectored_delivers_everything() {
    if skip() {
        return;
    }
    let all = stream(BIG);
    let rt = runtime(1, Config::default());
    let (addr, p) = peer(true, Duration::from_millis(300));
    let data = all.clone();
    on_core(&rt, move || async move {
        let mut s = TcpStream::connect(addr).await?;
        let mut b = cut(&data, mixed);
        s.start_send_vectored(&mut b)?;
        drop(s);
        Ok(())
    })
    .expect("io");
    assert_eq!(p.join().unwrap(), Ok(BIG));

    // A handler that queues and returns (a direct descriptor, if any).
    let server = Server::builder("127.0.0.1:0".parse().unwrap())
        .serve(&rt, move |mut s: TcpStream| {
            let all = all.clone();
            async move {
                let mut b = cut(&all, mixed);
                s.start_send_vectored(&mut b).expect("nothing in flight");
            }
        })
        .expect("serve");
    let c = std::net::TcpStream::connect(server.local_addr()).unwrap();
    assert_eq!(read_checked(c, Duration::from_millis(300), true), Ok(BIG));
}

/// The driver drops a finished send's buffers only after its borrow has
/// ended: here a buffer's owner sends on another stream from its drop
/// (which borrows the driver; under the driver's own borrow that would
/// panic the core), and that send must arrive.
#[test]
fn a_buffer_whose_drop_uses_the_driver_is_dropped_outside_its_borrow() {
    if skip() {
        return;
    }
    use std::cell::RefCell;
    thread_local! {
        static OTHER: RefCell<Option<TcpStream>> = const { RefCell::new(None) };
    }
    struct Owner(Vec<u8>);
    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    impl Drop for Owner {
        fn drop(&mut self) {
            if let Some(mut s) = OTHER.with(|o| o.borrow_mut().take()) {
                s.start_send(Bytes::from_static(b"dropped"))
                    .expect("send from a drop");
            }
        }
    }
    let rt = runtime(1, Config::default());
    let (a, pa) = peer(false, Duration::ZERO);
    let lb = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = lb.local_addr().unwrap();
    let pb = std::thread::spawn(move || {
        let (mut s, _) = lb.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut v = Vec::new();
        let _ = s.read_to_end(&mut v);
        v
    });
    let all = stream(FRAME * 4);
    on_core(&rt, move || async move {
        let mut sa = TcpStream::connect(a).await?;
        let sb = TcpStream::connect(b).await?;
        OTHER.with(|o| *o.borrow_mut() = Some(sb));
        let mut batch = cut(&all, |_| FRAME);
        let tail = (FRAME * 4..FRAME * 4 + 4).map(pattern).collect();
        batch.push(Bytes::from_owner(Owner(tail)));
        sa.send_vectored(&mut batch).await?;
        sa.flush().await?;
        // The owner's drop ran (outside the borrow) and queued its send.
        assert!(OTHER.with(|o| o.borrow().is_none()), "not dropped yet");
        sa.close().await
    })
    .expect("io");
    assert_eq!(pa.join().unwrap(), Ok(FRAME * 4 + 4));
    assert_eq!(pb.join().unwrap(), b"dropped");
}

/// A runtime dropped while a vectored send to a peer that does not read is
/// in flight: the teardown's first cancel resumes the send's partial count
/// (a detached send may still finish, see io_review3), but once its 1 s
/// wait has run out a second cancel ends the send where it stands, so the
/// buffers are dropped, not leaked.
#[test]
fn a_runtime_dropped_with_a_vectored_send_in_flight_drops_its_buffers() {
    if skip() {
        return;
    }
    use std::cell::RefCell;
    use std::sync::atomic::AtomicBool;
    thread_local! {
        static KEEP: RefCell<Option<TcpStream>> = const { RefCell::new(None) };
    }
    struct Owner(Vec<u8>, Arc<AtomicBool>);
    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    impl Drop for Owner {
        fn drop(&mut self) {
            self.1.store(true, Ordering::SeqCst);
        }
    }
    // A peer that takes the connection and never reads (until the end).
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    set_rcvbuf(std::os::fd::AsRawFd::as_raw_fd(&l), 4096);
    let addr = l.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let p = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let _ = rx.recv();
        drop(s);
    });
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let rt = runtime(1, Config::default());
    let all = stream(BIG);
    on_core(&rt, move || async move {
        let mut s = TcpStream::connect(addr).await?;
        let mut b = cut(&all, mixed);
        b.push(Bytes::from_owner(Owner(vec![1; 16], flag)));
        s.start_send_vectored(&mut b)?;
        // Let the kernel take what fits, then keep the stream (and its
        // send) alive past the runtime.
        sched::sleep(Duration::from_millis(100)).await;
        KEEP.with(|k| *k.borrow_mut() = Some(s));
        Ok(())
    })
    .expect("io");
    let t = std::time::Instant::now();
    drop(rt);
    let took = t.elapsed();
    let _ = tx.send(());
    p.join().unwrap();
    assert!(
        dropped.load(Ordering::SeqCst),
        "the in-flight send's buffers were leaked at teardown ({took:?})"
    );
    assert!(took < Duration::from_millis(1600), "teardown took {took:?}");
}

/// The teardown's second cancel ends a send where it stands: a send the
/// kernel had moved part of since the first cancel completes with that
/// partial count, and `closing` ends it there — recorded as sent in full
/// (result 0), so a stream that outlives the runtime flushes `Ok` although
/// most of its bytes never left. A flush after the teardown must fail.
#[test]
fn a_send_cut_short_by_the_teardown_does_not_flush_ok() {
    if skip() {
        return;
    }
    use std::cell::RefCell;
    use std::sync::Mutex;
    use std::task::{Context, Waker};
    const TOTAL: usize = 16 << 20;
    thread_local! {
        static KEEP: RefCell<Option<TcpStream>> = const { RefCell::new(None) };
    }
    // Dropped (on the core, outside the driver's borrow) once the send has
    // ended: polls the kept stream's flush and records what it says.
    struct Owner(Vec<u8>, Arc<Mutex<Option<String>>>);
    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    impl Drop for Owner {
        fn drop(&mut self) {
            let r = KEEP.with(|k| {
                k.borrow_mut()
                    .as_mut()
                    .map(|s| s.poll_flush(&mut Context::from_waker(Waker::noop())))
            });
            *self.1.lock().unwrap() = Some(format!("{r:?}"));
        }
    }
    // A peer that reads nothing until the teardown has begun, then takes
    // 256 KiB (so the send resumed by the first cancel moves on), then
    // nothing more until the end.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    set_rcvbuf(std::os::fd::AsRawFd::as_raw_fd(&l), 4096);
    let addr = l.local_addr().unwrap();
    let (go, go_rx) = std::sync::mpsc::channel::<()>();
    let (end, end_rx) = std::sync::mpsc::channel::<()>();
    let p = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let _ = go_rx.recv();
        std::thread::sleep(Duration::from_millis(400));
        let (mut n, mut buf) = (0usize, vec![0u8; 8192]);
        while n < 256 << 10 {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        let _ = end_rx.recv();
        n
    });
    let seen = Arc::new(Mutex::new(None));
    let flag = seen.clone();
    let rt = runtime(1, Config::default());
    let all = stream(TOTAL);
    on_core(&rt, move || async move {
        let mut s = TcpStream::connect(addr).await?;
        let mut b = cut(&all, |_| 64 << 10);
        b.push(Bytes::from_owner(Owner(vec![1; 16], flag)));
        s.start_send_vectored(&mut b)?;
        sched::sleep(Duration::from_millis(100)).await;
        KEEP.with(|k| *k.borrow_mut() = Some(s));
        Ok(())
    })
    .expect("io");
    let _ = go.send(());
    drop(rt);
    let _ = end.send(());
    let read = p.join().unwrap();
    assert!(read > 0 && read < TOTAL, "the peer read {read} bytes");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.as_deref()
            .is_some_and(|s| s.starts_with("Some(Ready(Err(")),
        "a flush after the teardown cut the send short says {seen:?}"
    );
}

/// A batch whose lengths add up past `usize::MAX` (one readable 32 TiB
/// mapping, reserved but never touched, shared by 2^19 buffers; on a
/// 32-bit target 4096 clones of a 1 MiB buffer would do) is refused with
/// `InvalidInput` and nothing taken: no overflow panic under the driver's
/// borrow (debug), and no wrapped total that would end the send early and
/// report it sent (release).
#[test]
fn a_batch_longer_than_usize_max_is_refused_with_nothing_taken() {
    if skip() {
        return;
    }
    const HUGE: usize = 1 << 45;
    // SAFETY: a fresh private anonymous read-only mapping (zero pages on
    // read, no reservation), never unmapped: a `&'static [u8]` of it is
    // valid.
    let data: &'static [u8] = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            HUGE,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            eprintln!("skipped: no 32 TiB mapping here");
            return;
        }
        std::slice::from_raw_parts(p as *const u8, HUGE)
    };
    let (addr, p) = peer(false, Duration::ZERO);
    let rt = runtime(1, Config::default());
    let got = on_core(&rt, move || async move {
        let mut s = TcpStream::connect(addr).await?;
        let one = Bytes::from_static(data);
        let mut b = vec![one; 1 << 19]; // 2^64 bytes in all
        let e = s.start_send_vectored(&mut b).map(|()| b.len());
        let kept = b.len();
        drop(b);
        s.close().await?;
        Ok((e.map_err(|e| e.kind()), kept))
    })
    .expect("io");
    assert_eq!(got, (Err(std::io::ErrorKind::InvalidInput), 1 << 19));
    assert_eq!(p.join().unwrap(), Ok(0));
}
