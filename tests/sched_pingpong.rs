//! `sched` cross-core ping-pong: a task on core 0 and one on core 1 bounce
//! a counter through a pair of channels, each hop a remote wake.
//!
//! * 1M round trips through corelane's own SPSC rings (`send().await` /
//!   `recv().await`, capacity 1; 50k in debug builds) and 100k through
//!   `tokio::sync::mpsc` (capacity 1; 20k in debug builds), with spinning
//!   idle cores; every reply checked, both tasks stay on their cores, the
//!   pong side ends when the ping side hangs up.
//! * The same with parked idle cores (every hop a doorbell on a parked
//!   core, where a lost wake-up would hide), 10k round trips.
//!
//! The rings' async path re-polls itself (`wake_by_ref`) while the other
//! side is likely about to move, instead of registering a waker, so in
//! steady state most of their hops are local self-wakes plus cross-core
//! cache traffic; the tokio channels wake the other core's task on every
//! hop (one remote wake each). Each test logs the per-core counts.
//!
//! The tests spin both cores, so they run one at a time (the [`serial`]
//! lock), each under a watchdog.

use std::sync::{mpsc as std_mpsc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use corelane::queue::spsc;
use corelane::sched::{self, Idle, Priority, Runtime};
use corelane::topology::{self, CpuId};

const WATCHDOG: Duration = Duration::from_secs(120);
const SHUTDOWN: Duration = Duration::from_secs(5);

/// Round trips with spinning cores. The rings: 1M in release builds (about
/// 1 s on the quiet 2-vCPU dev VM), 50k in debug. tokio's channels cost far
/// more per round trip here (7.5 us in debug, 23 us in release at 5c1de88),
/// so 100k in release and 20k in debug. With other processes busy, two
/// spinning cores on two vCPUs fall back to parking on most hops and a
/// round trip costs 50-120 us (debug): these sizes keep the tests within a
/// few seconds even then.
fn spinning_rounds(rings: bool) -> u64 {
    match (cfg!(debug_assertions), rings) {
        (false, true) => 1_000_000,
        (false, false) => 100_000,
        (true, true) => 50_000,
        (true, false) => 20_000,
    }
}

const PARKED_ROUNDS: u64 = 10_000;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn bounded<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let _serial = serial();
    let (done_tx, done_rx) = std_mpsc::channel();
    let body = thread::spawn(move || {
        let r = f();
        let _ = done_tx.send(());
        r
    });
    match done_rx.recv_timeout(WATCHDOG) {
        Ok(()) | Err(std_mpsc::RecvTimeoutError::Disconnected) => match body.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(std_mpsc::RecvTimeoutError::Timeout) => {
            panic!("test body still running after {WATCHDOG:?}: hang (a lost wake-up?)")
        }
    }
}

fn two_cpus() -> [CpuId; 2] {
    let cpus: Vec<CpuId> = topology::allowed_cpus()
        .expect("read the process mask")
        .iter()
        .take(2)
        .collect();
    assert_eq!(
        cpus.len(),
        2,
        "the sched tests need two CPUs in the process mask"
    );
    [cpus[0], cpus[1]]
}

fn runtime(idle: Idle) -> Runtime {
    Runtime::builder()
        .cores(two_cpus())
        .pin(false)
        .idle(idle)
        .build()
        .expect("build a two-core runtime")
}

/// What each side saw: round trips (or replies) and hops run off its core.
struct Outcome {
    ping: (u64, u64),
    pong: (u64, u64),
    took: Duration,
    /// Per core: (polls, local wakes, remote wakes, parks), for the log.
    cores: Vec<(u64, u64, u64, u64)>,
}

fn core_figures(rt: &Runtime) -> Vec<(u64, u64, u64, u64)> {
    rt.stats()
        .cores
        .iter()
        .map(|c| (c.polls, c.local_wakes, c.remote_wakes, c.parks))
        .collect()
}

fn check(label: &str, rounds: u64, o: Outcome) {
    assert_eq!(o.ping.0, rounds, "{label}: every round trip completed");
    assert_eq!(o.pong.0, rounds, "{label}: every ping answered once");
    assert_eq!(o.ping.1, 0, "{label}: the ping task left core 0");
    assert_eq!(o.pong.1, 0, "{label}: the pong task left core 1");
    eprintln!(
        "{label}: {rounds} round trips in {:?} ({:?} each); per core (polls, local wakes, remote wakes, parks): {:?}",
        o.took,
        o.took / u32::try_from(rounds).expect("rounds fit u32"),
        o.cores
    );
}

fn rings(idle: Idle, rounds: u64) -> Outcome {
    bounded(move || {
        let rt = runtime(idle);
        let (mut to_pong, mut from_ping) = spsc::channel::<u64>(1);
        let (mut to_ping, mut from_pong) = spsc::channel::<u64>(1);
        let pong = rt.spawn_on(1, Priority::Normal, async move {
            let (mut served, mut off) = (0u64, 0u64);
            while let Ok(v) = from_ping.recv().await {
                off += u64::from(sched::current_core() != 1);
                to_ping
                    .send(v + 1)
                    .await
                    .expect("the ping side waits for its reply");
                served += 1;
            }
            (served, off)
        });
        let ping = rt.spawn_on(0, Priority::Normal, async move {
            let (mut done, mut off) = (0u64, 0u64);
            let t = Instant::now();
            for i in 0..rounds {
                to_pong.send(2 * i).await.expect("the pong side is alive");
                let reply = from_pong.recv().await.expect("the pong side replies");
                assert_eq!(reply, 2 * i + 1, "round {i}: the reply to this ping");
                off += u64::from(sched::current_core() != 0);
                done += 1;
            }
            ((done, off), t.elapsed())
        });
        let (ping, took) = rt.block_on(ping).expect("ping task");
        let pong = rt
            .block_on(pong)
            .expect("pong task ends when the ping side hangs up");
        let cores = core_figures(&rt);
        rt.shutdown(SHUTDOWN).expect("shutdown");
        Outcome {
            ping,
            pong,
            took,
            cores,
        }
    })
}

fn tokio_channels(idle: Idle, rounds: u64) -> Outcome {
    bounded(move || {
        let rt = runtime(idle);
        let (to_pong, mut from_ping) = tokio::sync::mpsc::channel::<u64>(1);
        let (to_ping, mut from_pong) = tokio::sync::mpsc::channel::<u64>(1);
        let pong = rt.spawn_on(1, Priority::Normal, async move {
            let (mut served, mut off) = (0u64, 0u64);
            while let Some(v) = from_ping.recv().await {
                off += u64::from(sched::current_core() != 1);
                to_ping
                    .send(v + 1)
                    .await
                    .expect("the ping side waits for its reply");
                served += 1;
            }
            (served, off)
        });
        let ping = rt.spawn_on(0, Priority::Normal, async move {
            let (mut done, mut off) = (0u64, 0u64);
            let t = Instant::now();
            for i in 0..rounds {
                to_pong.send(2 * i).await.expect("the pong side is alive");
                let reply = from_pong.recv().await.expect("the pong side replies");
                assert_eq!(reply, 2 * i + 1, "round {i}: the reply to this ping");
                off += u64::from(sched::current_core() != 0);
                done += 1;
            }
            ((done, off), t.elapsed())
        });
        let (ping, took) = rt.block_on(ping).expect("ping task");
        let pong = rt
            .block_on(pong)
            .expect("pong task ends when the ping side hangs up");
        let cores = core_figures(&rt);
        rt.shutdown(SHUTDOWN).expect("shutdown");
        Outcome {
            ping,
            pong,
            took,
            cores,
        }
    })
}

#[test]
fn million_cross_core_ping_pongs_through_corelane_rings() {
    let n = spinning_rounds(true);
    check(
        "spsc rings, Idle::Spin(50us)",
        n,
        rings(Idle::Spin(Duration::from_micros(50)), n),
    );
}

#[test]
fn cross_core_ping_pongs_through_tokio_channels() {
    let n = spinning_rounds(false);
    check(
        "tokio mpsc, Idle::Spin(50us)",
        n,
        tokio_channels(Idle::Spin(Duration::from_micros(50)), n),
    );
}

#[test]
fn cross_core_ping_pongs_with_parked_cores_through_corelane_rings() {
    check(
        "spsc rings, Idle::Park",
        PARKED_ROUNDS,
        rings(Idle::Park, PARKED_ROUNDS),
    );
}

#[test]
fn cross_core_ping_pongs_with_parked_cores_through_tokio_channels() {
    check(
        "tokio mpsc, Idle::Park",
        PARKED_ROUNDS,
        tokio_channels(Idle::Park, PARKED_ROUNDS),
    );
}
