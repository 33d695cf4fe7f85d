//! A TCP echo server with one implementation per flag, so `corelane::io` and
//! its peers serve the same protocol from the same binary: `echo_load`
//! starts one process per implementation and drives them side by side.
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/echo_server --impl tokio-ct --port 7000
//! target/release/examples/echo_server --impl mio --threads 2 --cpus 0,1 --for 60
//! ```
//!
//! Every implementation has the same echo semantics: read up to 16 KiB,
//! write all of it back, `TCP_NODELAY` on accepted sockets, listen on
//! 127.0.0.1 with a backlog of 1024. The implementations:
//!
//! - `corelane`: `corelane::io::Server` on a `corelane::sched` runtime, one
//!   core per thread, `Idle::Park` (no spinning: its CPU figures compare
//!   with the peers').
//! - `tokio-ct`: one tokio `current_thread` runtime per thread, each with its
//!   own `SO_REUSEPORT` listener (the strongest thread-per-core tokio).
//! - `tokio-mt`: one tokio `multi_thread` runtime with N workers sharing one
//!   listener (the typical deployment).
//! - `monoio`: one monoio `IoUringDriver` runtime per thread, each with its
//!   own `SO_REUSEPORT` listener.
//! - `mio`: a plain epoll loop per thread with its own `SO_REUSEPORT`
//!   listener: the readiness-model floor (no runtime, no tasks).
//!
//! Server threads are pinned to `--cpus` (default: CPU 1 for one thread;
//! thread i on CPU (1 + i) mod online CPUs for more). The process prints one
//! banner line on stdout once every thread serves,
//! `echo_server impl=<name> addr=<addr> pid=<pid>`, then nothing per
//! request, and exits by itself after `--for` seconds (default 600) unless
//! killed first. `--port 0` picks a free port; the banner names it.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;
use std::time::Duration;

use corelane::topology::{pin_current_thread, CpuId};

/// Bytes read per receive: every implementation reads up to this much.
const BUF: usize = 16 * 1024;
/// The listen(2) backlog of every listener.
const BACKLOG: libc::c_int = 1024;
/// How long each server thread may take to start serving.
const READY_WAIT: Duration = Duration::from_secs(10);

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// What a server thread reports: ready to serve, or why it cannot.
type Ready = mpsc::Sender<Result<(), String>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    Corelane,
    TokioCt,
    TokioMt,
    Monoio,
    Mio,
}

impl Impl {
    const ALL: [Impl; 5] = [
        Impl::Corelane,
        Impl::TokioCt,
        Impl::TokioMt,
        Impl::Monoio,
        Impl::Mio,
    ];

    fn name(self) -> &'static str {
        match self {
            Impl::Corelane => "corelane",
            Impl::TokioCt => "tokio-ct",
            Impl::TokioMt => "tokio-mt",
            Impl::Monoio => "monoio",
            Impl::Mio => "mio",
        }
    }

    fn parse(s: &str) -> Option<Impl> {
        Impl::ALL.into_iter().find(|i| i.name() == s)
    }
}

struct Opts {
    imp: Impl,
    port: u16,
    threads: usize,
    /// One CPU per server thread (thread i on `cpus[i % len]`).
    cpus: Vec<CpuId>,
    /// Exit by itself after this long.
    run_for: Duration,
}

const USAGE: &str = "usage: echo_server [--impl corelane|tokio-ct|tokio-mt|monoio|mio] \
                     [--port N] [--threads N] [--cpus a,b,...] [--for SECS]";

fn opts() -> Result<Opts, String> {
    let (mut imp, mut port, mut threads, mut cpus, mut secs) = (Impl::Corelane, 7000, 1, None, 600);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--impl" => {
                let v = value()?;
                imp = Impl::parse(&v).ok_or(format!("unknown --impl {v:?}"))?;
            }
            "--port" => port = parse_num(&value()?, "--port")?,
            "--threads" => threads = parse_num(&value()?, "--threads")?,
            "--cpus" => cpus = Some(parse_cpus(&value()?)?),
            "--for" => secs = parse_num(&value()?, "--for")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    Ok(Opts {
        imp,
        port,
        threads,
        cpus: cpus.unwrap_or_else(|| default_cpus(threads)),
        run_for: Duration::from_secs(secs),
    })
}

fn parse_num<T: std::str::FromStr>(s: &str, flag: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{flag}: not a number: {s:?}"))
}

fn parse_cpus(s: &str) -> Result<Vec<CpuId>, String> {
    let cpus = s
        .split(',')
        .map(|c| parse_num::<u32>(c.trim(), "--cpus").map(CpuId::new))
        .collect::<Result<Vec<_>, _>>()?;
    if cpus.is_empty() {
        return Err("--cpus names no CPU".into());
    }
    Ok(cpus)
}

/// CPU 1 for one thread; thread i on CPU (1 + i) mod the online count.
fn default_cpus(threads: usize) -> Vec<CpuId> {
    let online = std::thread::available_parallelism().map_or(2, |n| n.get());
    (0..threads)
        .map(|i| CpuId::new(((1 + i) % online.max(2)) as u32))
        .collect()
}

impl Opts {
    fn cpu(&self, thread: usize) -> CpuId {
        self.cpus[thread % self.cpus.len()]
    }
}

fn main() {
    let o = opts().unwrap_or_else(|e| {
        eprintln!("echo_server: {e}");
        std::process::exit(2);
    });
    let (tx, rx) = mpsc::channel();
    // Whatever must outlive serving (runtimes, handles) lives here until exit.
    let (addr, _keep) = match start(&o, tx.clone()) {
        Ok(started) => started,
        Err(e) => fail(o.imp, &e.to_string()),
    };
    // Every thread reports once: serving, or why not.
    for _ in 0..o.threads {
        match rx.recv_timeout(READY_WAIT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => fail(o.imp, &e),
            Err(_) => fail(o.imp, "a server thread did not start serving in 10 s"),
        }
    }
    println!(
        "echo_server impl={} addr={addr} pid={}",
        o.imp.name(),
        std::process::id()
    );
    let _ = io::stdout().flush();
    // Serve until killed, until a thread fails, or until `--for` runs out
    // (`tx` lives here, so the channel never disconnects).
    if let Ok(Err(e)) = rx.recv_timeout(o.run_for) {
        fail(o.imp, &e);
    }
    drop(tx);
    std::process::exit(0);
}

fn fail(imp: Impl, why: &str) -> ! {
    eprintln!("echo_server impl={}: {why}", imp.name());
    std::process::exit(1);
}

/// Whatever must stay alive until the process exits (runtimes, handles).
type Keep = Box<dyn std::any::Any>;

/// Binds and starts the server threads; returns the bound address.
fn start(o: &Opts, tx: Ready) -> Result<(SocketAddr, Keep), BoxError> {
    if o.imp == Impl::Corelane {
        let (addr, keep) = serve_corelane(o)?;
        for _ in 0..o.threads {
            tx.send(Ok(()))?;
        }
        return Ok((addr, keep));
    }
    let listeners = bind_all(o)?;
    let addr = listeners[0].local_addr()?;
    if o.imp == Impl::TokioMt {
        let rt = serve_tokio_mt(o, listeners.into_iter().next().expect("one listener"), tx)?;
        return Ok((addr, Box::new(rt)));
    }
    for (i, l) in listeners.into_iter().enumerate() {
        let (imp, cpu, tx) = (o.imp, o.cpu(i), tx.clone());
        std::thread::Builder::new()
            .name(format!("echo-{}-{i}", imp.name()))
            .spawn(move || serve_thread(imp, cpu, l, tx))?;
    }
    Ok((addr, Box::new(())))
}

/// One listener per server thread (all on one port, `SO_REUSEPORT`), or a
/// single one for tokio-mt.
fn bind_all(o: &Opts) -> io::Result<Vec<TcpListener>> {
    let n = if o.imp == Impl::TokioMt { 1 } else { o.threads };
    let first = reuseport_listener(SocketAddrV4::new(Ipv4Addr::LOCALHOST, o.port))?;
    let port = first.local_addr()?.port();
    let mut all = vec![first];
    for _ in 1..n {
        all.push(reuseport_listener(SocketAddrV4::new(
            Ipv4Addr::LOCALHOST,
            port,
        ))?);
    }
    Ok(all)
}

/// A non-blocking listening socket with `SO_REUSEADDR` and `SO_REUSEPORT`
/// (libc, as socket2 is no dependency of ours).
fn reuseport_listener(addr: SocketAddrV4) -> io::Result<TcpListener> {
    let flags = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: socket(2) takes no pointers; the result is checked below.
    let fd = unsafe { libc::socket(libc::AF_INET, flags, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    set_int_opt(&fd, libc::SO_REUSEADDR)?;
    set_int_opt(&fd, libc::SO_REUSEPORT)?;
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `sin` is a valid sockaddr_in of `len` bytes for the call.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), (&raw const sin).cast(), len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: listen(2) on a descriptor we own; no pointers.
    if unsafe { libc::listen(fd.as_raw_fd(), BACKLOG) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpListener::from(fd))
}

/// Sets a `SOL_SOCKET` option to 1.
fn set_int_opt(fd: &OwnedFd, opt: libc::c_int) -> io::Result<()> {
    let one: libc::c_int = 1;
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `one` is a c_int that lives across the call; `len` is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&raw const one).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A thread-per-core server thread: pin, then serve `l` until the process
/// ends; reports ready (or why not) on `tx`.
fn serve_thread(imp: Impl, cpu: CpuId, l: TcpListener, tx: Ready) {
    if let Err(e) = pin_current_thread(cpu) {
        let _ = tx.send(Err(format!("pin to CPU {cpu}: {e}")));
        return;
    }
    let res = match imp {
        Impl::TokioCt => serve_tokio_ct(l, &tx),
        Impl::Monoio => serve_monoio(l, &tx),
        Impl::Mio => serve_mio(l, &tx),
        Impl::Corelane | Impl::TokioMt => unreachable!("not thread-per-core here"),
    };
    if let Err(e) = res {
        let _ = tx.send(Err(e.to_string()));
    }
}

// ----- corelane ----------------------------------------------------------------

/// Under the loom build (`--cfg corelane_loom`, lint only) there is no io.
#[cfg(corelane_loom)]
fn serve_corelane(_: &Opts) -> Result<(SocketAddr, Keep), BoxError> {
    Err("corelane::io is not built under --cfg corelane_loom".into())
}

/// `corelane::io::Server` on a runtime with one core per thread.
#[cfg(not(corelane_loom))]
fn serve_corelane(o: &Opts) -> Result<(SocketAddr, Keep), BoxError> {
    use corelane::io;
    use corelane::sched::{Idle, Priority, Runtime};

    let cpus: Vec<CpuId> = (0..o.threads).map(|i| o.cpu(i)).collect();
    // The same read size as the peers (16 KiB per receive completion).
    let cfg = io::Config::default().buffer_size(BUF).recv_cap(BUF);
    let rt = Runtime::builder()
        .cores(cpus)
        .idle(Idle::Park)
        .io(cfg)
        .build()?;
    let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, o.port));
    let server: io::ServerHandle = io::Server::builder(bind)
        .priority(Priority::Normal)
        .nodelay(true)
        .backlog(BACKLOG)
        .serve(&rt, |mut s: io::TcpStream| async move {
            // Ok(None): the peer closed.
            while let Ok(Some(b)) = s.recv().await {
                if s.send(b).await.is_err() {
                    break;
                }
            }
        })?;
    let addr = server.local_addr();
    // Dropped in this order: the server, then its runtime.
    Ok((addr, Box::new((server, rt))))
}

// ----- tokio -------------------------------------------------------------------

/// Accepts on `l` forever, one task per connection.
async fn tokio_accept(l: TcpListener) -> io::Result<()> {
    let l = tokio::net::TcpListener::from_std(l)?;
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                s.set_nodelay(true)?;
                tokio::spawn(tokio_echo(s));
            }
            Err(e) => eprintln!("echo_server: accept: {e}"),
        }
    }
}

async fn tokio_echo(mut s: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if s.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn serve_tokio_ct(l: TcpListener, tx: &Ready) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async {
        let _ = tx.send(Ok(()));
        tokio_accept(l).await
    })
}

/// A multi_thread runtime with one worker per thread, worker i pinned to
/// CPU i of `--cpus`; one shared listener.
fn serve_tokio_mt(o: &Opts, l: TcpListener, tx: Ready) -> io::Result<tokio::runtime::Runtime> {
    let cpus: Vec<CpuId> = (0..o.threads).map(|i| o.cpu(i)).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.threads)
        .enable_io()
        .on_thread_start(move || {
            // Relaxed: a ticket counter; nothing else is published by it.
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(&cpu) = cpus.get(i) {
                pin_current_thread(cpu).expect("pin a tokio worker");
            }
        })
        .build()?;
    let threads = o.threads;
    rt.spawn(async move {
        // The main thread waits for one report per thread: this one accept
        // task stands for all the workers.
        for _ in 0..threads {
            let _ = tx.send(Ok(()));
        }
        if let Err(e) = tokio_accept(l).await {
            let _ = tx.send(Err(e.to_string()));
        }
    });
    Ok(rt)
}

// ----- monoio ------------------------------------------------------------------

fn serve_monoio(l: TcpListener, tx: &Ready) -> io::Result<()> {
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build()?;
    rt.block_on(async {
        let l = monoio::net::TcpListener::from_std(l)?;
        let _ = tx.send(Ok(()));
        loop {
            match l.accept().await {
                Ok((s, _)) => {
                    s.set_nodelay(true)?;
                    monoio::spawn(monoio_echo(s));
                }
                Err(e) => eprintln!("echo_server: accept: {e}"),
            }
        }
    })
}

async fn monoio_echo(mut s: monoio::net::TcpStream) {
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
    // Owned buffer: read fills its spare capacity, write_all sends its length.
    let mut buf = Vec::with_capacity(BUF);
    loop {
        let (res, b) = s.read(buf).await;
        buf = b;
        if !matches!(res, Ok(n) if n > 0) {
            return;
        }
        let (res, b) = s.write_all(buf).await;
        buf = b;
        if res.is_err() {
            return;
        }
        buf.clear();
    }
}

// ----- mio ---------------------------------------------------------------------

const LISTENER: mio::Token = mio::Token(usize::MAX);

/// One connection of the epoll loop: its socket and the bytes still to echo.
struct Conn {
    s: mio::net::TcpStream,
    buf: Box<[u8]>,
    /// `buf[start..end]` is read but not yet written back.
    start: usize,
    end: usize,
}

/// A plain epoll loop (edge-triggered, as mio registers): accept, then per
/// ready connection write back what is pending and read until `WouldBlock`.
fn serve_mio(l: TcpListener, tx: &Ready) -> io::Result<()> {
    let mut poll = mio::Poll::new()?;
    let mut events = mio::Events::with_capacity(1024);
    let mut l = mio::net::TcpListener::from_std(l);
    poll.registry()
        .register(&mut l, LISTENER, mio::Interest::READABLE)?;
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let _ = tx.send(Ok(()));
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                mio_accept(&poll, &l, &mut conns)?;
            } else if let Some(c) = conns.get_mut(ev.token().0) {
                if c.as_mut().is_some_and(|c| !mio_drive(c)) {
                    let mut gone = c.take().expect("checked above");
                    poll.registry().deregister(&mut gone.s)?;
                }
            }
        }
    }
}

/// Accepts until `WouldBlock`, each connection in the first free slot.
fn mio_accept(
    poll: &mio::Poll,
    l: &mio::net::TcpListener,
    conns: &mut Vec<Option<Conn>>,
) -> io::Result<()> {
    loop {
        let (mut s, _) = match l.accept() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("echo_server: accept: {e}");
                return Ok(());
            }
        };
        s.set_nodelay(true)?;
        let slot = conns.iter().position(Option::is_none).unwrap_or_else(|| {
            conns.push(None);
            conns.len() - 1
        });
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        poll.registry()
            .register(&mut s, mio::Token(slot), interest)?;
        conns[slot] = Some(Conn {
            s,
            buf: vec![0; BUF].into_boxed_slice(),
            start: 0,
            end: 0,
        });
    }
}

/// Echoes until the socket would block; false when the connection is done.
fn mio_drive(c: &mut Conn) -> bool {
    loop {
        while c.start < c.end {
            match c.s.write(&c.buf[c.start..c.end]) {
                Ok(0) => return false,
                Ok(n) => c.start += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        match c.s.read(&mut c.buf) {
            Ok(0) => return false,
            Ok(n) => (c.start, c.end) = (0, n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}
