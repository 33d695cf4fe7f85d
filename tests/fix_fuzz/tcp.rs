//! The TCP share of the fuzz test: hostile connections from the same
//! generator against an acceptor listening on 127.0.0.1 (io_uring, through
//! `session::tcp::foreign`), then a good initiator that must be served in
//! full. Each accepted connection must yield exactly one typed outcome and
//! be closed by the acceptor (the client reads until end of stream).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corelane::io;
use corelane::sched::{self, Priority};
use corelane::session::tcp;

use super::app::{self, Plan, Trader, Venue};
use super::codec::FixCodec;
use super::engine;
use super::gen::{self, Rng};
use super::mem::After;
use super::msg::{CompId, FixMsg};
use super::proto::{Acceptor, Initiator};
use super::state::{Config, Outcome};
use super::{acceptor_config, Tally, HANG};

/// HeartBtInt's second over TCP (long enough for a loaded debug build).
const SECOND: Duration = Duration::from_millis(50);
/// Hostile connections at once.
const IN_FLIGHT: usize = 16;
/// Orders the good client sends.
const GOOD_ORDERS: u64 = 500;

fn tcp_config() -> tcp::Config {
    tcp::Config::new().max_frame(8 * 1024)
}

/// Accepts forever, one acceptor session per connection, each outcome
/// noted in `t`.
async fn serve(mut l: io::TcpListener, t: Rc<RefCell<Tally>>) {
    loop {
        let s = match l.accept().await {
            Ok(s) => s,
            Err(e) => {
                t.borrow_mut().fail(format!("accept: {e}"));
                sched::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let chan = tcp::foreign::<Acceptor, FixMsg, _>(s, FixCodec::new(8 * 1024), &tcp_config());
        let t = t.clone();
        drop(sched::spawn_local(Priority::Normal, async move {
            let run = engine::acceptor(chan, acceptor_config(SECOND), Venue::default());
            let r = sched::timeout(HANG, run).await;
            let mut t = t.borrow_mut();
            t.sessions += 1;
            match r {
                Ok(rep) => t.note("tcp (any kind)", rep.outcome.kind()),
                Err(_) => t.fail(format!("a TCP session had no outcome within {HANG:?}")),
            }
        }));
    }
}

/// One hostile client: sends its script, closes its side or falls silent,
/// reads until the acceptor closes (at most 10 s). Returns the frames sent.
async fn hostile(addr: SocketAddr, s: gen::Script) -> Result<u64, String> {
    let mut c = io::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // The acceptor may close first (a violation early in the script): a
    // failed write is part of the game.
    let _ = c.write_all(&s.bytes).await;
    if s.after == After::Close {
        let _ = c.shutdown(std::net::Shutdown::Write).await;
    }
    let drained = sched::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = c.recv().await {}
    })
    .await;
    let _ = c.close().await;
    match drained {
        Ok(()) => Ok(s.frames),
        Err(_) => Err(format!(
            "the acceptor never closed a '{}' connection",
            s.kind
        )),
    }
}

/// The good client: Logon, TestRequest, orders, Logout, all checked.
async fn good(addr: SocketAddr) -> Result<(), String> {
    let s = io::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let chan = tcp::foreign::<Initiator, FixMsg, _>(s, FixCodec::new(8 * 1024), &tcp_config());
    let mut cfg = Config::new(
        CompId::new(gen::PEER).unwrap_or(CompId::EMPTY),
        CompId::new(gen::US).unwrap_or(CompId::EMPTY),
    );
    (cfg.second, cfg.heartbeat) = (SECOND, 1);
    let plan = Plan {
        idle: SECOND * 3,
        echo_timeout: Duration::from_secs(2),
    };
    let trader = Trader::new(GOOD_ORDERS, 16);
    let r = engine::initiator(chan, cfg, trader, async |sh| app::drive(sh, plan).await).await;
    let t = &r.app;
    if r.outcome != Outcome::LoggedOut || t.completed != GOOD_ORDERS || t.errors != 0 {
        return Err(format!(
            "the good client: outcome {}, {} of {GOOD_ORDERS} orders completed, first error {:?}",
            r.outcome, t.completed, t.first_error
        ));
    }
    if !t.test_echoed {
        return Err("the good client's TestRequest was not answered".into());
    }
    println!(
        "fix_fuzz: the good client after the hostile ones: {} orders, {} reports, logged out",
        t.completed, t.reports
    );
    Ok(())
}

/// Waits until the acceptor has noted `n` sessions, or `limit` passes.
async fn settled(t: &Rc<RefCell<Tally>>, n: u64, limit: Instant) -> bool {
    while t.borrow().sessions < n {
        if Instant::now() >= limit {
            return false;
        }
        sched::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// `conns` hostile connections, then the good client.
pub async fn run(conns: u64, seed: u64, deadline: Instant) -> Tally {
    let t = Rc::new(RefCell::new(Tally::default()));
    let l = match io::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))) {
        Ok(l) => l,
        Err(e) => {
            t.borrow_mut().fail(format!("listen: {e}"));
            return t.take();
        }
    };
    let addr = l.local_addr().expect("a bound listener has an address");
    let server = sched::spawn_local(Priority::Normal, serve(l, t.clone()));
    let mut rng = Rng(seed);
    let mut live = VecDeque::new();
    let mut sent = 0;
    for i in 0..=conns {
        if live.len() >= IN_FLIGHT || (i == conns && !live.is_empty()) {
            let h: sched::JoinHandle<Result<u64, String>> = live.pop_front().expect("non-empty");
            match h.await {
                Ok(Ok(frames)) => sent += frames,
                Ok(Err(why)) => t.borrow_mut().fail(why),
                Err(e) => t.borrow_mut().fail(format!("a client task failed: {e:?}")),
            }
        }
        if i < conns && Instant::now() < deadline {
            let s = gen::script(&mut rng);
            live.push_back(sched::spawn_local(Priority::Normal, hostile(addr, s)));
        }
    }
    while let Some(h) = live.pop_front() {
        if let Ok(Ok(frames)) = h.await {
            sent += frames;
        }
    }
    let limit = Instant::now() + Duration::from_secs(20);
    if !settled(&t, conns, limit).await {
        let n = t.borrow().sessions;
        t.borrow_mut()
            .fail(format!("{n} of {conns} TCP sessions ended"));
    }
    if let Err(why) = good(addr).await {
        t.borrow_mut().fail(why);
    }
    if !settled(&t, conns + 1, Instant::now() + Duration::from_secs(5)).await {
        t.borrow_mut()
            .fail("the good client's session did not end".into());
    }
    server.abort();
    let mut t = t.take();
    t.frames = sent;
    t
}
