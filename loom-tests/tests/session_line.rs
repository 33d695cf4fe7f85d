//! loom models of the shared one-line session transport
//! (`src/session/line.rs`): the hand-over of the one cell between two
//! threads taking turns, frames in a row, aborts and drops against a
//! parked or async peer, and payloads dropped exactly once.
//!
//! The ends wait with `WaitStrategy::Park` (a parked thread is not
//! scheduled, which keeps the models small, and a lost wake-up shows up as
//! a loom deadlock) or `.await` under `loom::future::block_on`. The frames
//! go through loom-tracked cells, so a publication that does not
//! happen-before the read of its frame fails as a causality violation.
//!
//! Each model was seen to fail against the mutants of `line.rs` named in
//! its docs; `ci/loom-mutants.sh` builds each mutant and expects that.
#![cfg(corelane_loom)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use corelane::queue::wait::WaitStrategy::Park;
use corelane::session::{self, line, End, Error, Recv, Send};
use loom::future::block_on;
use loom::thread;

/// `loom::model` with room for the spin phase of each wait.
fn model(f: impl Fn() + Sync + std::marker::Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.check(f);
}

/// Request, reply, request: the cell goes A → B → A → B, each side parks
/// for the other, and the receive never writes the word (the reply's
/// publication gives the cell back).
///
/// Fails against `LinePublishRelaxed` (the read of a frame races its
/// write) and `LineRecheckIgnored` (a waiter sets its `WAIT` bit after the
/// publication, ignores that it came, and sleeps: a deadlock).
#[test]
fn turns_hand_the_line_over() {
    model(|| {
        type P = Send<u64, Recv<u64, Send<u64, End>>>;
        let (a, b) = line::pair_with::<P, u64>(Park);
        let t = thread::spawn(move || {
            let (x, b) = b.recv_blocking().unwrap();
            let (y, b) = b.send_blocking(x + 1).unwrap().recv_blocking().unwrap();
            b.close();
            (x, y)
        });
        let (r, a) = a.send_blocking(1).unwrap().recv_blocking().unwrap();
        a.send_blocking(r + 1).unwrap().close();
        assert_eq!((r, t.join().unwrap()), (2, (1, 3)));
    });
}

/// Two frames in a row: the second send waits (parked) until the
/// receiver's next receive hands the empty cell back.
///
/// Fails against `LineHandOverRelaxed` (the second frame's write races the
/// read of the first), `LinePublishRelaxed` and `LineRecheckIgnored`.
#[test]
fn frames_in_a_row_wait_for_the_hand_over() {
    model(|| {
        type P = Send<u64, Send<u64, End>>;
        let (a, b) = line::pair_with::<P, u64>(Park);
        let t = thread::spawn(move || {
            let (x, b) = b.recv_blocking().unwrap();
            let (y, b) = b.recv_blocking().unwrap();
            b.close();
            (x, y)
        });
        a.send_blocking(1)
            .unwrap()
            .send_blocking(2)
            .unwrap()
            .close();
        assert_eq!(t.join().unwrap(), (1, 2));
    });
}

/// An abort (a dropped end) wakes a peer parked in its receive, which then
/// reports `Cancelled`. (The aborting side first waits for a frame of its
/// own, so that the peer can reach its park before the abort.)
///
/// Fails against `LineGoneWithoutWake` (neither the abort nor the drop
/// wakes the parked peer) and `LineRecheckIgnored`.
#[test]
fn an_abort_wakes_the_parked_peer() {
    model(|| {
        type P = Send<u64, Recv<u64, End>>;
        let (a, b) = line::pair_with::<P, u64>(Park);
        let t = thread::spawn(move || {
            let a = a.send_blocking(1).unwrap();
            matches!(a.recv_blocking(), Err(Error::Cancelled))
        });
        let (x, b) = b.recv_blocking().unwrap();
        assert_eq!(x, 1);
        drop(b);
        assert!(t.join().unwrap(), "the receive reports the abort");
    });
}

/// A sender parked until its previous frame is read learns instead that
/// the reader went away (`Closed`).
///
/// Fails against `LineGoneWithoutWake`.
#[test]
fn a_parked_sender_learns_the_reader_left() {
    model(|| {
        type P = Send<u64, Send<u64, End>>;
        let (a, b) = line::pair_with::<P, u64>(Park);
        let t = thread::spawn(move || {
            let (x, b) = b.recv_blocking().unwrap();
            drop(b);
            x
        });
        let r = a.send_blocking(1).unwrap().send_blocking(2).map(drop);
        assert_eq!(t.join().unwrap(), 1);
        assert!(
            matches!(r, Err(Error::Closed)),
            "the reader never handed the cell back"
        );
    });
}

/// Counts its drops in a model's own counter (a std static, reset as each
/// iteration starts and read once its threads joined), so that a payload
/// dropped twice is a failed count, not a double free.
struct Counted(&'static AtomicUsize);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

corelane::session_payload! {
    /// A counted message.
    pub enum Boxed { C(Counted) }
}

/// The last frame of a session is read (moved out) by one thread while the
/// other closes its end, or is never read: either way each payload is
/// dropped exactly once, by the reader or by whichever end goes last.
///
/// Fails against `LineDropKeepsFrame` (a frame read, then dropped again by
/// the last end).
#[test]
fn each_payload_is_dropped_once() {
    model(|| {
        type P = Send<Counted, Recv<Counted, End>>;
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        DROPS.store(0, SeqCst);
        let (a, b) = line::pair_with::<P, Boxed>(Park);
        let t = thread::spawn(move || {
            let (v, b) = b.recv_blocking().unwrap();
            drop(v);
            // Replies, then leaves at End, maybe before the reply is read.
            b.send_blocking(Counted(&DROPS)).unwrap().close();
        });
        let a = a.send_blocking(Counted(&DROPS)).unwrap();
        let (v, a) = a.recv_blocking().unwrap();
        drop(v);
        a.close();
        t.join().unwrap();
        assert_eq!(DROPS.load(SeqCst), 2, "each payload dropped once");
    });
}

/// An unread frame when both ends are dropped mid-session.
#[test]
fn an_unread_frame_is_dropped_by_the_last_end() {
    model(|| {
        type P = Send<Counted, Recv<Counted, End>>;
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        DROPS.store(0, SeqCst);
        let (a, b) = line::pair_with::<P, Boxed>(Park);
        let a = a.send_blocking(Counted(&DROPS)).unwrap();
        let t = thread::spawn(move || drop(b));
        drop(a);
        t.join().unwrap();
        assert_eq!(DROPS.load(SeqCst), 1, "dropped once, by the last end");
    });
}

/// One end async (a task under `block_on`), the other parked: each wakes
/// the other, through a registered waker one way and the futex the other.
///
/// Fails against `LineRecheckIgnored` and `LinePublishRelaxed`.
#[test]
fn async_and_parked_ends() {
    model(|| {
        type P = Send<u64, Recv<u64, End>>;
        let (a, b) = line::pair_with::<P, u64>(Park);
        let t = thread::spawn(move || {
            let (x, b) = b.recv_blocking().unwrap();
            b.send_blocking(x + 1).unwrap().close();
        });
        let r = block_on(async move {
            let (r, a) = a.send(1).await?.recv().await?;
            a.close();
            Ok::<u64, session::Error>(r)
        });
        t.join().unwrap();
        assert_eq!(r.unwrap(), 2);
    });
}
