//! A trading-engine skeleton on `corelane::sched`: what the runtime is for.
//!
//! ```text
//!  core 1 feed (High) ─spsc─▶ core 0  md (High) ─spsc─▶ strategy (High) ─mpsc─▶ core 1  risk (Normal)
//!   (the "NIC")                    housekeeping (Low, CPU-bound,                       │ acks
//!                             yield_if_needed)          ◀──────────spsc───────────┘
//!                             orders (High): acks under sched::timeout (order TTL)
//!                             everything ─mpsc─▶ core 1  journal (Low), stats (Low, interval)
//! ```
//!
//! Market data and the strategy share core 0 with a CPU-bound `Low`
//! housekeeping task that never waits: strict priority keeps the tick
//! path ahead of it (it calls `yield_if_needed`, which yields only when a
//! `High` task is ready or its quantum is up). Risk runs on core 1 with the
//! journal; the exchange is simulated there and ignores one order in 64,
//! so the order manager's `sched::timeout` (the order's time-to-live)
//! expires those. At the end the program prints tick-to-order latency and
//! the runtime's per-class queueing delay (ready → poll), and checks that
//! every order was acked, rejected or expired exactly once and that the
//! journal saw every event; it exits non-zero otherwise.
//!
//! `cargo run --release --example engine [-- --quick]`

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corelane::queue::{mpsc, spsc};
use corelane::sched::{self, Idle, Priority, Runtime};
use corelane::topology::{PlanOptions, Topology};
use hdrhistogram::Histogram;

#[derive(Clone, Copy)]
struct Tick {
    seq: u64,
    px: u64,
    at: Instant,
}

#[derive(Clone, Copy)]
struct Order {
    id: u64,
    px: u64,
    tick_at: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ack {
    Filled(u64),
    Rejected(u64),
}

#[derive(Clone, Copy)]
enum Event {
    Tick(u64),
    Order(u64),
    Ack(u64),
    Expired(u64),
}

const TTL: Duration = Duration::from_millis(2);

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let ticks: u64 = if quick { 10_000 } else { 100_000 };
    let tick_gap = Duration::from_micros(50);

    let topo = Topology::detect().expect("topology");
    let plan = topo
        .plan(
            2,
            &PlanOptions::new()
                .allow_smt_siblings(true)
                .allow_oversubscription(true),
        )
        .expect("a plan for two cores");
    let rt = Runtime::builder()
        .cores(plan.cpus().iter().copied())
        .idle(Idle::Spin(Duration::from_micros(200)))
        .tick(Duration::from_micros(10))
        .quantum(Duration::from_micros(20))
        .build()
        .expect("runtime");
    println!(
        "engine: {} cores on CPUs {:?}{}",
        rt.cores(),
        rt.cpus(),
        if plan.is_oversubscribed() {
            " (oversubscribed)"
        } else {
            ""
        }
    );

    let (mut feed_tx, mut feed_rx) = spsc::channel::<Tick>(1024);
    let (journal_tx, mut journal_rx) = mpsc::channel::<Event>(4096);
    let (mut order_tx, mut order_rx) = mpsc::channel::<Order>(1024);
    let (mut ack_tx, mut ack_rx) = spsc::channel::<Ack>(1024);

    // Core 1: risk + simulated exchange (Normal), journal (Low).
    let mut j_risk = journal_tx.clone();
    let risk = rt.spawn_on(1 % rt.cores(), Priority::Normal, async move {
        let mut position: i64 = 0;
        let mut handled = 0u64;
        while let Ok(o) = order_rx.recv().await {
            handled += 1;
            let ack = if position >= 500 {
                Ack::Rejected(o.id)
            } else {
                Ack::Filled(o.id)
            };
            position = if position >= 500 { 0 } else { position + 1 };
            if o.id % 64 == 63 {
                continue; // the exchange never answers: the order's TTL expires it
            }
            let _ = o.px;
            if ack_tx.send(ack).await.is_err() {
                break;
            }
            let _ = j_risk.send(Event::Ack(o.id)).await;
        }
        handled
    });
    let journal = rt.spawn_on(1 % rt.cores(), Priority::Low, async move {
        let mut buf = String::with_capacity(1 << 20);
        let (mut entries, mut bytes) = (0u64, 0usize);
        while let Ok(e) = journal_rx.recv().await {
            match e {
                Event::Tick(s) => writeln!(buf, "T {s}"),
                Event::Order(id) => writeln!(buf, "O {id}"),
                Event::Ack(id) => writeln!(buf, "A {id}"),
                Event::Expired(id) => writeln!(buf, "X {id}"),
            }
            .expect("writing to a String");
            entries += 1;
            if buf.len() > (1 << 20) - 64 {
                bytes += buf.len(); // "flush"
                buf.clear();
            }
            if entries % 64 == 0 {
                sched::yield_if_needed().await;
            }
        }
        (entries, bytes + buf.len())
    });

    // Core 0: market data, strategy and the order manager (High, local
    // tasks sharing the outstanding-order book through an Rc), and a
    // CPU-bound housekeeping task (Low).
    let mut j_md = journal_tx.clone();
    let mut j_orders = journal_tx.clone();
    let mut j_strategy = journal_tx;
    // The outer task is `Send` (spawned from this thread); the tasks that
    // share an `Rc` are `spawn_local`ed from inside it and never move.
    let engine = rt.spawn_on(0, Priority::High, async move {
        sched::spawn_local(Priority::High, async move {
            let outstanding: Rc<RefCell<VecDeque<(u64, Instant)>>> = Rc::default();
            let (mut to_strat, mut strat_rx) = spsc::channel::<Tick>(256);
            let md = sched::spawn_local(Priority::High, async move {
                let mut n = 0u64;
                while let Ok(t) = feed_rx.recv().await {
                    n += 1;
                    let _ = j_md.send(Event::Tick(t.seq)).await;
                    if to_strat.send(t).await.is_err() {
                        break;
                    }
                }
                n
            });
            let book = outstanding.clone();
            let strategy = sched::spawn_local(Priority::High, async move {
                let mut t2o =
                    Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("bounds");
                let (mut last, mut next_id) = (0u64, 0u64);
                while let Ok(t) = strat_rx.recv().await {
                    // A toy signal: trade every time the price crosses its last value by 3.
                    if t.px.abs_diff(last) >= 3 {
                        last = t.px;
                        let o = Order {
                            id: next_id,
                            px: t.px,
                            tick_at: t.at,
                        };
                        next_id += 1;
                        book.borrow_mut().push_back((o.id, Instant::now() + TTL));
                        if order_tx.send(o).await.is_err() {
                            break;
                        }
                        t2o.saturating_record(o.tick_at.elapsed().as_nanos() as u64);
                        let _ = j_strategy.send(Event::Order(o.id)).await;
                    }
                }
                (next_id, t2o)
            });
            let book = outstanding.clone();
            let orders = sched::spawn_local(Priority::High, async move {
                let (mut filled, mut rejected, mut expired, mut late) = (0u64, 0u64, 0u64, 0u64);
                loop {
                    let oldest = book.borrow().front().copied();
                    let wait = oldest.map_or(Duration::from_millis(50), |(_, d)| {
                        d.saturating_duration_since(Instant::now())
                    });
                    match sched::timeout(wait, ack_rx.recv()).await {
                        Ok(Ok(ack)) => {
                            let (Ack::Filled(id) | Ack::Rejected(id)) = ack;
                            let before = book.borrow().len();
                            book.borrow_mut().retain(|(o, _)| *o != id);
                            if book.borrow().len() == before {
                                late += 1; // it had expired already: the TTL won
                            } else if matches!(ack, Ack::Filled(_)) {
                                filled += 1;
                            } else {
                                rejected += 1;
                            }
                        }
                        Ok(Err(_)) => break, // risk is gone: every ack has arrived
                        Err(_elapsed) => {
                            let now = Instant::now();
                            loop {
                                let front = book.borrow().front().copied();
                                match front {
                                    Some((id, d)) if d <= now => {
                                        book.borrow_mut().pop_front();
                                        expired += 1;
                                        let _ = j_orders.send(Event::Expired(id)).await;
                                    }
                                    _ => break,
                                }
                            }
                        }
                    }
                }
                // What is still outstanding when risk stops will never be acked.
                let left: Vec<u64> = book.borrow_mut().drain(..).map(|(id, _)| id).collect();
                for id in left {
                    expired += 1;
                    let _ = j_orders.send(Event::Expired(id)).await;
                }
                (filled, rejected, expired, late)
            });
            let housekeeping = sched::spawn_local(Priority::Low, async {
                let mut x = 1u64;
                for i in 0..u64::MAX {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
                    if i % 256 == 0 {
                        sched::yield_if_needed().await;
                    }
                    if i % 4096 == 0 && md_done() {
                        break;
                    }
                }
                x
            });
            let ticks_seen = md.await.expect("md");
            MD_DONE.store(true, std::sync::atomic::Ordering::Relaxed);
            let (sent, t2o) = strategy.await.expect("strategy");
            let acks = orders.await.expect("orders");
            let _ = housekeeping.await;
            (ticks_seen, sent, t2o, acks)
        })
        .await
        .expect("engine task")
    });

    // The feed: a High task on core 1 standing in for the NIC, paced by
    // the core's timer wheel (a tick every `tick_gap`; a late wake-up
    // emits every tick that is due, as a NIC ring would hold them).
    let t0 = Instant::now();
    let feed = rt.spawn_on(1 % rt.cores(), Priority::High, async move {
        let mut px = 10_000u64;
        let mut next = Instant::now();
        for seq in 0..ticks {
            if Instant::now() < next {
                sched::sleep_until(next).await;
            }
            next += tick_gap;
            px = px
                .wrapping_add(seq.wrapping_mul(2654435761) % 7)
                .wrapping_sub(3);
            if feed_tx
                .send(Tick {
                    seq,
                    px,
                    at: Instant::now(),
                })
                .await
                .is_err()
            {
                break;
            }
        }
    });
    rt.block_on(feed).expect("feed task");
    let (ticks_seen, sent, t2o, (filled, rejected, expired, late)) =
        rt.block_on(engine).expect("engine task");
    let handled = rt.block_on(risk).expect("risk task");
    let (entries, bytes) = rt.block_on(journal).expect("journal task");
    let elapsed = t0.elapsed();

    println!("{ticks_seen} ticks in {elapsed:.2?}; {sent} orders: {filled} filled, {rejected} rejected, {expired} expired (TTL {TTL:?}; {late} acks came after expiry)");
    println!(
        "tick -> order: p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
        t2o.value_at_quantile(0.5),
        t2o.value_at_quantile(0.99),
        t2o.value_at_quantile(0.999),
        t2o.max()
    );
    println!("journal: {entries} entries, {bytes} bytes");
    let stats = rt.stats();
    println!("queueing delay (ready -> poll) per class, all cores:");
    for p in Priority::ALL {
        let h = stats.delay(p);
        println!(
            "  {p:?}: {} polls, p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
            h.len(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
    for (i, c) in stats.cores.iter().enumerate() {
        println!(
            "  core {i}: {} polls, {} local wakes, {} remote wakes, {} parks, {} starvation polls",
            c.polls, c.local_wakes, c.remote_wakes, c.parks, c.starvation_polls
        );
    }

    let mut ok = true;
    let mut check = |cond: bool, what: &str| {
        if !cond {
            eprintln!("FAILED: {what}");
            ok = false;
        }
    };
    check(ticks_seen == ticks, "every tick reached market data");
    check(handled == sent, "risk saw every order");
    check(
        filled + rejected + expired == sent,
        "every order was acked, rejected or expired exactly once",
    );
    check(
        expired >= sent / 64,
        "the orders the exchange ignored expired",
    );
    let ignored = sent / 64; // ids 63, 127, ...: the exchange never answers them
    check(
        entries == ticks + sent + (sent - ignored) + expired,
        "the journal saw every event",
    );
    rt.shutdown(Duration::from_secs(5)).expect("shutdown");
    if !ok {
        std::process::exit(1);
    }
}

static MD_DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn md_done() -> bool {
    MD_DONE.load(std::sync::atomic::Ordering::Relaxed)
}
