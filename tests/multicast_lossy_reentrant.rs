//! A `Clone` impl that publishes into the ring it is being cloned from:
//! the documented deadlock of `LossyCursor` (the publish that laps onto the
//! slot waits for the clone that is making it). Ignored, as it hangs (the
//! watchdog turns the hang into a failure after 5 s and leaves a thread
//! spinning); run it with `--ignored` to see the hazard, or to check a
//! future fix that detects or prevents it.

use corelane::queue::multicast::{Builder, Publisher};
use std::cell::RefCell;
use std::sync::mpsc;
use std::time::Duration;

#[derive(Debug, Default)]
struct Reentrant(u32);

thread_local! {
    static TX: RefCell<Option<Publisher<Reentrant>>> = const { RefCell::new(None) };
}

impl Clone for Reentrant {
    fn clone(&self) -> Self {
        // Publishes two items from inside the clone: the second laps onto
        // the slot being cloned from (capacity 2, nothing gates).
        TX.with(|tx| {
            if let Some(tx) = tx.borrow_mut().as_mut() {
                tx.push(Reentrant(1)).unwrap();
                tx.push(Reentrant(2)).unwrap();
            }
        });
        Reentrant(self.0)
    }
}

#[test]
#[ignore = "demonstrates the documented deadlock: hangs"]
fn a_clone_that_publishes_into_its_own_ring() {
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let mut b = Builder::new(2, Reentrant::default);
        let l = b.lossy_cursor();
        let (mut tx, mut h) = b.build().unwrap();
        let mut tap = h.lossy(l);
        tx.push(Reentrant(0)).unwrap();
        TX.with(|t| *t.borrow_mut() = Some(tx));
        let r = tap.pop().map(|v| v.0);
        done_tx.send(r).unwrap();
    });
    match done.recv_timeout(Duration::from_secs(5)) {
        Ok(r) => assert_eq!(r, Ok(0)),
        Err(_) => panic!("the publisher inside clone() waits for its own clone: deadlock"),
    }
}
