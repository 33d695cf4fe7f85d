//! A `Bytes` fan-out on one multicast ring: the second of the programs
//! issue 11 was written against.
//!
//! ```text
//!                     +---------+   fail   +-------+
//!   publisher --------+ journal +--------->| logic |   gating: nothing lost
//!   (Bytes frames)    +---------+          +-------+
//!            \
//!             +....> tap (lossy, slow): clones what it can, counts gaps
//! ```
//!
//! - Every frame is one `Bytes` allocation; the journal and the logic read
//!   it in place, the tap takes its own `clone()` (a refcount bump), so the
//!   fan-out copies no payload.
//! - The logic runs after the journal and never reads a frame the journal
//!   has not processed. If the journal dies (`--crash-journal`), the logic
//!   stops where the journal stopped with `UpstreamFailed` instead of
//!   carrying on past unjournaled frames (the `Fail` policy, the default).
//! - The tap is deliberately slow. It never holds the publisher back beyond
//!   the instant of one clone; it reports how many frames it missed, and at
//!   the end `received + missed == published`.
//!
//! The program checks all of that and exits non-zero if anything is off.
//!
//! `cargo run --release --example bytes_fanout [-- --quick] [-- --crash-journal]`

use std::thread;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use corelane::queue::multicast::{Builder, LossyRecvError, RecvError};
use corelane::queue::wait::WaitStrategy;

/// A frame: an 8-byte sequence number, then a body of `len` bytes of `seq as u8`.
fn frame(seq: u64, len: usize) -> Bytes {
    let mut b = BytesMut::with_capacity(8 + len);
    b.put_u64_le(seq);
    b.put_bytes(seq as u8, len);
    b.freeze()
}

fn seq_of(frame: &[u8]) -> u64 {
    u64::from_le_bytes(
        frame[..8]
            .try_into()
            .expect("frames carry an 8-byte sequence"),
    )
}

/// A frame is intact if its body matches its sequence number.
fn intact(frame: &[u8]) -> bool {
    let seq = seq_of(frame);
    frame[8..].iter().all(|&b| b == seq as u8)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let crash = std::env::args().any(|a| a == "--crash-journal");
    let frames: u64 = if quick { 20_000 } else { 200_000 };
    // The journal "dies" (panics) part-way when asked to.
    let crash_at = crash.then_some(frames / 3);
    if crash {
        // The crash is the point of the run: one line, not a backtrace.
        std::panic::set_hook(Box::new(|info| eprintln!("bytes_fanout: {info}")));
    }

    let mut b = Builder::new(1024, Bytes::new);
    let journal = b.cursor();
    let logic = b.cursor();
    b.after(logic, &[journal]); // Fail by default: stop where the journal stops
    let tap = b.lossy_cursor();
    let (mut tx, mut h) = b.build().expect("a valid graph");
    let (mut journal, mut logic, mut tap) = (h.cursor(journal), h.cursor(logic), h.lossy(tap));

    let journal = thread::spawn(move || {
        // Stand-in for a write to disk: a running checksum of every byte.
        let (mut written, mut checksum) = (0u64, 0xcbf2_9ce4_8422_2325u64);
        loop {
            match journal.pop_batch_blocking(256, WaitStrategy::Park) {
                Ok(batch) => {
                    for f in batch.iter() {
                        if Some(seq_of(f)) == crash_at {
                            panic!("journal: disk full at frame {}", seq_of(f));
                        }
                        // FNV-1a over the frame's bytes.
                        checksum = f.iter().fold(checksum, |c, &b| {
                            (c ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                        });
                        written += 1;
                    }
                }
                Err(RecvError::Disconnected) => return (written, checksum),
                Err(RecvError::UpstreamFailed(f)) => panic!("the journal has no upstream: {f}"),
            }
        }
    });

    let logic = thread::spawn(move || {
        let (mut seen, mut next) = (0u64, 0u64);
        loop {
            match logic.pop_blocking(WaitStrategy::Park) {
                Ok(f) => {
                    assert_eq!(seq_of(&f), next, "logic: frames in publication order");
                    next += 1;
                    seen += 1;
                }
                Err(RecvError::Disconnected) => return (seen, None),
                // The journal died: everything we read, it had processed.
                Err(RecvError::UpstreamFailed(f)) => return (seen, Some(f)),
            }
        }
    });

    let tap = thread::spawn(move || {
        let (mut received, mut missed, mut torn) = (0u64, 0u64, 0u64);
        loop {
            match tap.pop_blocking(WaitStrategy::Park) {
                Ok(f) => {
                    torn += u64::from(!intact(&f));
                    received += 1;
                    if received % 64 == 0 {
                        // A slow consumer: a dashboard, a sampler, a logger.
                        thread::sleep(Duration::from_micros(200));
                    }
                }
                Err(LossyRecvError::Lagged(n)) => missed += n,
                Err(LossyRecvError::Disconnected) => return (received, missed, torn),
                Err(e) => panic!("tap: {e}"),
            }
        }
    });

    let started = Instant::now();
    let mut published = 0u64;
    for seq in 0..frames {
        // Blocks only on the gating nodes (journal, logic), never on the tap;
        // fails once both are gone (a crashed journal takes the logic with it).
        if tx
            .push_blocking(frame(seq, 56), WaitStrategy::Park)
            .is_err()
        {
            break;
        }
        published += 1;
    }
    drop(tx);
    let elapsed = started.elapsed();

    let journal = journal.join();
    let (seen, failed) = logic.join().expect("logic thread");
    let (received, missed, torn) = tap.join().expect("tap thread");

    println!(
        "bytes_fanout: published {published} frames of 64 B in {:.1} ms ({:.0} ns/frame)",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_nanos() as f64 / published.max(1) as f64
    );
    println!("  tap: received {received}, missed {missed} (slow on purpose), torn {torn}");
    let mut ok = torn == 0;
    match (journal, failed) {
        (Ok((written, checksum)), None) => {
            println!("  journal: wrote {written} (checksum {checksum:016x}); logic saw {seen}");
            ok &= written == published && seen == published && received + missed == published;
        }
        (Err(_panic), Some(f)) => {
            println!("  journal crashed; logic saw {seen} and stopped: {f}");
            // The logic never passed the journal: it stopped at or before the crash.
            ok &= Some(seen) <= crash_at && f.at == seen && received + missed == published;
        }
        (journal, failed) => {
            eprintln!(
                "  unexpected: journal ok = {}, logic failure = {failed:?}",
                journal.is_ok()
            );
            ok = false;
        }
    }
    if !ok {
        eprintln!("bytes_fanout: FAILED");
        std::process::exit(1);
    }
    println!("bytes_fanout: checks passed");
}
