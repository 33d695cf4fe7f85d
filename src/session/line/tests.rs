//! The line's pure moves over every word, its layout, and its transport
//! calls on one thread (the typed API in `tests/session_line.rs`).

use super::*;
use crate::session::{End, Recv, Send as Snd};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// Both raw ends of one line, to drive the transport without a session
/// type (as a misused transport would be).
fn raw<P>(wait: WaitStrategy) -> (Line<P>, Line<P>) {
    let shared = Arc::new(Shared::new());
    let end = |shared, me| {
        Line(Box::new(CachePadded::new(EndState {
            shared,
            me,
            wait,
            consumed: false,
        })))
    };
    (end(shared.clone(), Side::A), end(shared, Side::B))
}

fn state<P>(l: &Line<P>) -> u32 {
    l.0.shared.load()
}

/// Counts drops, to prove each payload is dropped exactly once.
struct Counted(u32, &'static AtomicUsize);
impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
    }
}

#[test]
fn moves_over_every_word() {
    for s in 0..(1u32 << 9) {
        let owners = s & OWNED;
        if owners == OWNED || (owners == 0 && s & FULL != 0) {
            continue; // never reached: one owner; FULL only with one
        }
        for me in [Side::A, Side::B] {
            for consumed in [false, true] {
                let ours = s & me.mine(OWN_A) != 0;
                let full = s & FULL != 0;
                if consumed && !(ours && full) {
                    continue; // `consumed` only while our frame is marked
                }
                let peer_left = s & (me.peers(ABORT_A) | me.peers(GONE_A)) != 0;
                let r = recv_move(s, me, consumed);
                assert_eq!(r == RecvMove::Take, ours && full && !consumed, "{s:#x}");
                if r != RecvMove::Take && peer_left {
                    let cancelled = s & me.peers(ABORT_A) != 0;
                    let want = [RecvMove::Closed, RecvMove::Cancelled][usize::from(cancelled)];
                    assert_eq!(r, want, "{s:#x}: abort wins over gone");
                }
                let w = send_move(s, me, consumed);
                if peer_left {
                    assert_eq!(w, SendMove::Closed, "{s:#x}");
                    continue;
                }
                let want = match (owners == 0, ours, full && !consumed) {
                    (true, _, _) => SendMove::Claim,
                    (false, false, _) => SendMove::Wait,
                    (false, true, true) => SendMove::Unread,
                    (false, true, false) => SendMove::Write,
                };
                assert_eq!(w, want, "{s:#x} {me:?} {consumed}");
                // Our own WAIT/ABORT/GONE bits never change the moves.
                let mine = me.mine(WAIT_A) | me.mine(ABORT_A) | me.mine(GONE_A);
                assert_eq!(send_move(s & !mine, me, consumed), w);
            }
        }
    }
}

#[test]
fn the_frame_shares_the_words_line() {
    use core::mem::{align_of, offset_of, size_of};
    assert!(align_of::<CachePadded<Slot<u64>>>() >= 64);
    assert!(offset_of!(Slot<u64>, frame) + size_of::<(u8, u64)>() <= 64);
    assert!(offset_of!(Slot<[u64; 6]>, frame) + size_of::<(u8, [u64; 6])>() <= 64);
    // An end is one pointer (a step moves it in a register), to a state
    // on a line of its own (the other end's changes too).
    assert_eq!(size_of::<Line<u64>>(), size_of::<usize>());
    assert!(align_of::<CachePadded<EndState<u64>>>() >= 64);
}

#[test]
fn turns_on_one_thread() {
    let (mut a, mut b) = raw::<u64>(WaitStrategy::BusySpin);
    for i in 0..10 {
        a.send_blocking(1, i).unwrap();
        assert_eq!(state(&a) & (OWNED | FULL), OWN_A << 1 | FULL);
        assert_eq!(b.recv_blocking(None).unwrap(), Some((1, i)));
        // The receive wrote nothing; the reply passes the cell back.
        assert_eq!(state(&a) & (OWNED | FULL), OWN_A << 1 | FULL);
        b.send_blocking(2, i + 100).unwrap();
        assert_eq!(a.recv_blocking(None).unwrap(), Some((2, i + 100)));
    }
}

#[test]
fn frames_in_a_row_hand_the_cell_back() {
    let (mut a, mut b) = raw::<u64>(WaitStrategy::BusySpin);
    a.send_blocking(0, 1).unwrap();
    assert_eq!(b.recv_blocking(None).unwrap(), Some((0, 1)));
    // A cannot send again until B's next receive hands the cell back.
    let now = Instant::now();
    assert!(matches!(b.recv_blocking(Some(now)), Ok(None)));
    assert_eq!(state(&a) & (OWNED | FULL), OWN_A);
    a.send_blocking(0, 2).unwrap();
    assert_eq!(b.recv_blocking(None).unwrap(), Some((0, 2)));
}

#[test]
fn b_may_send_first() {
    let (mut a, mut b) = raw::<u8>(WaitStrategy::Backoff);
    b.send_blocking(3, 9).unwrap();
    assert_eq!(a.recv_blocking(None).unwrap(), Some((3, 9)));
}

#[test]
fn misuse_is_an_error_never_a_race() {
    let (mut a, mut b) = raw::<u8>(WaitStrategy::BusySpin);
    a.send_blocking(0, 1).unwrap();
    // B has a frame it has not read: it cannot send over it.
    let e = b.send_blocking(0, 2).unwrap_err();
    assert!(matches!(e, Error::Io(ref io) if io.kind() == std::io::ErrorKind::InvalidInput));
    // A's second send before B read: a start_send without poll_ready.
    let e = a.start_send(0, 3).unwrap_err();
    assert!(matches!(e, Error::Io(ref io) if io.kind() == std::io::ErrorKind::WouldBlock));
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(a.poll_ready(&mut cx).is_pending());
    assert_eq!(b.recv_blocking(None).unwrap(), Some((0, 1)));
    // Both ends at a receive: the one without a frame waits (and times out).
    let soon = Instant::now() + Duration::from_millis(2);
    assert!(matches!(a.recv_blocking(Some(soon)), Ok(None)));
}

#[test]
fn close_is_closed_and_abort_is_cancelled_after_the_frames() {
    let (mut a, mut b) = raw::<u8>(WaitStrategy::Park);
    a.send_blocking(0, 1).unwrap();
    drop(a);
    assert_eq!(b.recv_blocking(None).unwrap(), Some((0, 1)));
    assert!(matches!(b.recv_blocking(None), Err(Error::Closed)));
    assert!(matches!(b.send_blocking(0, 1), Err(Error::Closed)));

    let (mut a, mut b) = raw::<u8>(WaitStrategy::Park);
    b.send_blocking(0, 7).unwrap();
    b.abort();
    drop(b);
    assert_eq!(a.recv_blocking(None).unwrap(), Some((0, 7)));
    assert!(matches!(a.recv_blocking(None), Err(Error::Cancelled)));
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(matches!(
        a.poll_ready(&mut cx),
        Poll::Ready(Err(Error::Closed))
    ));
}

#[test]
fn every_payload_is_dropped_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let n = |v| Counted(v, &DROPS);
    // Unread when both ends go.
    let (mut a, b) = raw::<Counted>(WaitStrategy::Backoff);
    a.send_blocking(0, n(1)).unwrap();
    drop((a, b));
    assert_eq!(DROPS.swap(0, SeqCst), 1);
    // Read (moved out) and dropped by the reader, whose end then goes first.
    let (mut a, mut b) = raw::<Counted>(WaitStrategy::Backoff);
    a.send_blocking(0, n(2)).unwrap();
    let (_, v) = b.recv_blocking(None).unwrap().unwrap();
    assert_eq!(v.0, 2);
    drop(v);
    drop(b);
    drop(a);
    assert_eq!(DROPS.swap(0, SeqCst), 1);
    // Read and replied to: the reply is the one left.
    let (mut a, mut b) = raw::<Counted>(WaitStrategy::Backoff);
    a.send_blocking(0, n(3)).unwrap();
    drop(b.recv_blocking(None).unwrap());
    b.send_blocking(0, n(4)).unwrap();
    drop((b, a));
    assert_eq!(DROPS.swap(0, SeqCst), 2);
}

#[test]
fn deadlines_leave_the_session_where_it_was() {
    let (a, b) = crate::session::line::pair::<Recv<u64, End>, u64>();
    let soon = Instant::now() + Duration::from_millis(1);
    let crate::session::Timed::TimedOut(a) = a.recv_blocking_until(soon).unwrap() else {
        panic!("nothing was sent")
    };
    let b = b.send_blocking(5).unwrap();
    let (v, a) = a.recv_blocking().unwrap();
    assert_eq!(v, 5);
    a.close();
    b.close();
}

#[test]
fn typed_ends_over_one_thread() {
    type P = Snd<u64, Recv<u64, Snd<u64, End>>>;
    let (a, b) = crate::session::line::pair_with::<P, u64>(WaitStrategy::Yield);
    let a = a.send_blocking(1).unwrap();
    let (x, b) = b.recv_blocking().unwrap();
    let b = b.send_blocking(x + 1).unwrap();
    let (y, a) = a.recv_blocking().unwrap();
    let a = a.send_blocking(y + 1).unwrap();
    let (z, b) = b.recv_blocking().unwrap();
    assert_eq!((x, y, z), (1, 2, 3));
    a.close();
    b.close();
}

#[test]
fn debug_shows_the_end_and_the_word() {
    let (a, b) = raw::<u8>(WaitStrategy::Park);
    let s = format!("{a:?} {b:?}");
    assert!(
        s.contains("\"A\"") && s.contains("\"B\"") && s.contains("Park"),
        "{s}"
    );
}
