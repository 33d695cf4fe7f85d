//! A trading pipeline on pinned threads: the first of the programs issue 11
//! was written against.
//!
//! ```text
//!   feed ──spsc<Tick>──▶ strategy ──┐
//!                                   ├──mpsc<ToGateway>──▶ gateway (+ TTL wheel)
//!   risk ───────────────────────────┘
//! ```
//!
//! - The feed publishes market ticks; the strategy turns some into orders.
//! - Risk sends limit changes and cancels into the same MPSC ring.
//! - The gateway owns a [`Wheel`] of order TTLs and waits for a message *or*
//!   its next TTL with one call, [`pop_until`]: no hand-written spin loop.
//! - Every thread is pinned by a placement plan that may share CPUs when the
//!   machine has fewer than four.
//!
//! At the end every accepted order must be accounted for exactly once
//! (cancelled by risk or expired by its TTL); the program exits non-zero
//! otherwise.
//!
//! `cargo run --release --example trading_pipeline [-- --quick]`
//!
//! [`Wheel`]: corelane::timer::Wheel
//! [`pop_until`]: corelane::queue::mpsc::Consumer::pop_until

use std::collections::HashMap;
use std::time::{Duration, Instant};

use corelane::queue::wait::WaitStrategy;
use corelane::queue::{mpsc, spsc, PopTimeoutError};
use corelane::timer::{TimerKey, Wheel};
use corelane::topology::{pin_current_thread, CpuId, PlanOptions, Topology};

#[derive(Clone, Copy)]
struct Tick {
    seq: u64,
    bid: u64,
}

#[derive(Clone, Copy, Debug)]
enum ToGateway {
    /// A new order from the strategy, to rest until its TTL.
    New { id: u64, price: u64, ttl: Duration },
    /// Risk: the most orders that may rest at once.
    Limit(usize),
    /// Risk: pull this order if it is still resting.
    Cancel(u64),
}

/// What the gateway saw, to check the books balance.
#[derive(Default, Debug)]
struct Books {
    received: u64,
    accepted: u64,
    rejected: u64,
    cancelled: u64,
    cancel_misses: u64,
    expired: u64,
    timeouts: u64,
    /// Sum of the accepted orders' prices (what a real gateway would send on).
    notional: u64,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let ticks: u64 = if quick { 50_000 } else { 500_000 };
    let cpus = plan_cpus();

    let (mut feed_tx, mut feed_rx) = spsc::channel::<Tick>(1024);
    let (orders_tx, mut orders_rx) = mpsc::channel::<ToGateway>(1024);
    let mut risk_tx = orders_tx.clone();
    let mut strategy_tx = orders_tx;

    let feed = spawn_pinned("feed", cpus[0], move || {
        let mut bid = 100_000u64;
        for seq in 0..ticks {
            bid = bid
                .wrapping_add(seq.wrapping_mul(0x9e37_79b9) >> 61)
                .wrapping_sub(3);
            if feed_tx
                .push_blocking(Tick { seq, bid }, WaitStrategy::Park)
                .is_err()
            {
                break; // the strategy is gone
            }
            if seq % 100 == 99 {
                // Bursts of 100 ticks, then a pause: a market, not a flood.
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    });

    let strategy = spawn_pinned("strategy", cpus[1], move || {
        let mut sent = 0u64;
        // Ends when the feed is gone and its ring is drained.
        while let Ok(tick) = feed_rx.pop_blocking(WaitStrategy::Park) {
            if tick.seq % 8 != 0 {
                continue;
            }
            let ttl = Duration::from_micros(200 + (tick.seq % 5) * 300);
            let order = ToGateway::New {
                id: tick.seq,
                price: tick.bid,
                ttl,
            };
            if strategy_tx
                .push_blocking(order, WaitStrategy::Park)
                .is_err()
            {
                break; // the gateway is gone
            }
            sent += 1;
        }
        sent
    });

    let risk = spawn_pinned("risk", cpus[2], move || {
        let mut limit = 64usize;
        let mut id = 0u64;
        // Bounded: a fixed number of limit changes and cancels, paced.
        for round in 0..(ticks / 500) {
            limit = if round % 2 == 0 { 32 } else { 256 };
            if risk_tx
                .push_blocking(ToGateway::Limit(limit), WaitStrategy::Park)
                .is_err()
            {
                break;
            }
            for _ in 0..4 {
                id += 8 * 37;
                if risk_tx
                    .push_blocking(ToGateway::Cancel(id % ticks), WaitStrategy::Park)
                    .is_err()
                {
                    break;
                }
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        limit
    });

    let gateway = spawn_pinned("gateway", cpus[3], move || {
        let mut wheel: Wheel<u64> = Wheel::builder().tick(Duration::from_micros(50)).build();
        let mut resting: HashMap<u64, TimerKey> = HashMap::new();
        let mut limit = 64usize;
        let mut books = Books::default();
        loop {
            // Wait for a message or the next TTL, whichever is first.
            let deadline = wheel
                .next_deadline()
                .unwrap_or_else(|| Instant::now() + Duration::from_millis(10));
            match orders_rx.pop_until(deadline, WaitStrategy::Park) {
                Ok(ToGateway::New { id, price, ttl }) => {
                    books.received += 1;
                    if resting.len() < limit {
                        resting.insert(id, wheel.insert_in(ttl, id));
                        books.accepted += 1;
                        books.notional = books.notional.wrapping_add(price);
                    } else {
                        books.rejected += 1;
                    }
                }
                Ok(ToGateway::Limit(n)) => limit = n,
                Ok(ToGateway::Cancel(id)) => match resting.remove(&id) {
                    Some(key) => {
                        wheel.cancel(key).expect("a resting order has a live timer");
                        books.cancelled += 1;
                    }
                    None => books.cancel_misses += 1,
                },
                Err(PopTimeoutError::Timeout) => books.timeouts += 1,
                Err(PopTimeoutError::Disconnected) => break,
            }
            expire(&mut wheel, &mut resting, &mut books);
        }
        // Strategy and risk are gone: let the rest expire.
        while let Some(deadline) = wheel.next_deadline() {
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
            expire(&mut wheel, &mut resting, &mut books);
        }
        (books, resting.len())
    });

    let started = Instant::now();
    feed.join().expect("feed");
    let sent = strategy.join().expect("strategy");
    risk.join().expect("risk");
    let (books, left) = gateway.join().expect("gateway");
    let elapsed = started.elapsed();

    println!(
        "trading_pipeline: {ticks} ticks, {sent} orders in {:.1} ms",
        elapsed.as_secs_f64() * 1e3
    );
    println!("  {books:?}");
    let balanced = books.received == sent
        && books.accepted + books.rejected == books.received
        && books.cancelled + books.expired == books.accepted
        && left == 0;
    if !balanced {
        eprintln!("trading_pipeline: FAILED: the books do not balance");
        std::process::exit(1);
    }
    println!("trading_pipeline: books balance (every accepted order cancelled or expired once)");
}

/// Fires every TTL that is due.
fn expire(wheel: &mut Wheel<u64>, resting: &mut HashMap<u64, TimerKey>, books: &mut Books) {
    wheel.advance(Instant::now(), |id| {
        resting.remove(&id).expect("an expiring order is resting");
        books.expired += 1;
    });
}

/// Four roles on distinct cores where the machine has them, sharing when it
/// has fewer (this box has two CPUs).
fn plan_cpus() -> Vec<Option<CpuId>> {
    let share = PlanOptions::new()
        .allow_oversubscription(true)
        .allow_smt_siblings(true);
    match Topology::detect().and_then(|t| t.plan(4, &share)) {
        Ok(plan) => {
            println!("trading_pipeline: placement {plan}");
            plan.into_cpus().into_iter().map(Some).collect()
        }
        Err(e) => {
            eprintln!("trading_pipeline: no placement plan ({e}); running unpinned");
            vec![None; 4]
        }
    }
}

fn spawn_pinned<R: Send + 'static>(
    name: &str,
    cpu: Option<CpuId>,
    f: impl FnOnce() -> R + Send + 'static,
) -> std::thread::JoinHandle<R> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            if let Some(cpu) = cpu {
                if let Err(e) = pin_current_thread(cpu) {
                    eprintln!("trading_pipeline: not pinned ({e})");
                }
            }
            f()
        })
        .expect("spawn")
}
