//! An async producer under tokio, a plain forwarding thread, and an async
//! consumer: the third of the programs issue 11 was written against.
//!
//! ```text
//!   tokio task ──spsc──▶ forwarder thread ──spsc──▶ tokio task
//!   send().await        pop_blocking / push_blocking     Stream (StreamExt::next)
//!   in a select! with                (Park)              recv() under
//!   a heartbeat and a                                    tokio::time::timeout
//!   shutdown deadline
//! ```
//!
//! What it shows:
//! - a `send` that loses a `select!` is not lost: the [`SendFuture`] is
//!   polled by reference across iterations, and at shutdown
//!   [`SendFuture::cancel`] hands the unsent order back;
//! - `recv` is cancel safe, so `tokio::time::timeout(.., rx.recv())` never
//!   drops an order;
//! - a consumer is a `futures_core::Stream` that ends when the producer side
//!   is gone and the ring is drained;
//! - the blocking calls fail only with [`Disconnected`]: no `unreachable!()`.
//!
//! It checks that every order sent arrives exactly once and in order, and
//! exits non-zero otherwise.
//!
//! `cargo run --release --example async_orders [-- --quick]`
//!
//! [`SendFuture`]: corelane::queue::SendFuture
//! [`SendFuture::cancel`]: corelane::queue::SendFuture::cancel
//! [`Disconnected`]: corelane::queue::Disconnected

use std::time::{Duration, Instant};

use corelane::queue::spsc;
use corelane::queue::wait::WaitStrategy;
use corelane::queue::Disconnected;
use futures_util::StreamExt;

/// One order; `Copy`, as most order structs on a hot path are.
#[derive(Clone, Copy, Debug)]
struct Order {
    id: u64,
    price: u64,
    qty: u32,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let orders: u64 = if quick { 20_000 } else { 200_000 };
    // Long enough that a healthy run never hits it; a stalled pipeline
    // stops here instead of hanging.
    let shutdown_after = Duration::from_secs(if quick { 10 } else { 30 });

    let (mut to_fwd, mut fwd_in) = spsc::channel::<Order>(64);
    let (mut fwd_out, from_fwd) = spsc::channel::<Order>(64);

    // The forwarder: a plain thread, blocking calls with `Park`.
    let forwarder = std::thread::spawn(move || {
        let mut forwarded = 0u64;
        // Ends when every producer is gone and the ring is drained
        // (`Err(Disconnected(()))`, the only way `pop_blocking` fails).
        while let Ok(order) = fwd_in.pop_blocking(WaitStrategy::Park) {
            match fwd_out.push_blocking(order, WaitStrategy::Park) {
                Ok(()) => forwarded += 1,
                // The consumer is gone: `.0` is the order we could not pass on.
                Err(Disconnected(lost)) => {
                    eprintln!(
                        "async_orders: consumer gone, order {} not delivered",
                        lost.id
                    );
                    break;
                }
            }
        }
        forwarded
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");

    let started = Instant::now();
    let (sent, unsent, heartbeats, received, in_order) = rt.block_on(async move {
        let producer = tokio::spawn(async move {
            let shutdown = tokio::time::sleep(shutdown_after);
            tokio::pin!(shutdown);
            let mut heartbeat = tokio::time::interval(Duration::from_millis(1));
            let (mut sent, mut heartbeats, mut unsent) = (0u64, 0u64, None);
            'orders: for id in 0..orders {
                let order = Order {
                    id,
                    price: 100_000 + id % 97,
                    qty: 1 + (id % 10) as u32,
                };
                let mut send = to_fwd.send(order);
                loop {
                    tokio::select! {
                        r = &mut send => {
                            if let Err(Disconnected(o)) = r {
                                unsent = Some(o);
                                break 'orders;
                            }
                            sent += 1;
                            break;
                        }
                        // Losing this branch leaves `send` pending with its
                        // order inside; the next iteration polls it again.
                        _ = heartbeat.tick() => heartbeats += 1,
                        _ = &mut shutdown => {
                            // Take the order back instead of dropping it.
                            unsent = send.cancel();
                            break 'orders;
                        }
                    }
                }
            }
            (sent, unsent, heartbeats)
        });

        let consumer = tokio::spawn(async move {
            let mut rx = from_fwd;
            let (mut received, mut next_id, mut in_order) = (0u64, 0u64, true);
            let mut notional = 0u64;
            // The first order under a timeout: `recv` is cancel safe, so a
            // timeout that fires takes nothing from the ring.
            loop {
                match tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
                    Ok(Ok(order)) => {
                        notional += order.price * u64::from(order.qty);
                        in_order &= order.id == next_id;
                        next_id = order.id + 1;
                        received += 1;
                        break;
                    }
                    Ok(Err(Disconnected(()))) => return (received, in_order, notional),
                    Err(_elapsed) => continue,
                }
            }
            // Then as a stream, until the forwarder is gone and the ring drained.
            while let Some(order) = rx.next().await {
                notional += order.price * u64::from(order.qty);
                in_order &= order.id == next_id;
                next_id = order.id + 1;
                received += 1;
            }
            (received, in_order, notional)
        });

        let (sent, unsent, heartbeats) = producer.await.expect("producer task");
        let (received, in_order, notional) = consumer.await.expect("consumer task");
        println!("async_orders: notional received {notional}");
        (sent, unsent, heartbeats, received, in_order)
    });
    let elapsed = started.elapsed();
    let forwarded = forwarder.join().expect("forwarder thread");

    println!(
        "async_orders: sent {sent}, forwarded {forwarded}, received {received} in {:.1} ms \
         ({:.0} ns/order); {heartbeats} heartbeats won a select! against a pending send",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_nanos() as f64 / received.max(1) as f64,
    );
    if let Some(order) = unsent {
        println!(
            "async_orders: shutdown took back unsent order {} (not lost)",
            order.id
        );
    }
    let complete = sent == forwarded && forwarded == received && in_order;
    let accounted = unsent.is_some() || sent == orders;
    if !(complete && accounted) {
        eprintln!("async_orders: FAILED: every order must arrive once, in order");
        std::process::exit(1);
    }
    println!("async_orders: every order arrived once, in order");
}
