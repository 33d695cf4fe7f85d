//! Queued sends: one in flight per stream, resumed when short, detached
//! (not cancelled) when their stream is dropped — then owning its close
//! and cancelled after the grace — and watched by the stream's receive
//! for failure.

use super::park;
use super::{opcode, send_entry, set_waker, Driver, Garbage, Key, Kind, Mem, Target};
use std::task::Context;
use std::time::Instant;

impl Driver {
    /// Queues a send of all of `mem` on `t`. Short sends are resumed by the
    /// driver; the op ends with `0` (all sent) or `-errno`.
    pub(crate) fn submit_send(&mut self, t: Target, mem: Mem) -> Key {
        let key = self.submit(Kind::Send, mem, |m| send_entry(t, m, 0));
        self.slots[key.slot as usize].target = Some(t);
        key
    }

    /// The owner of a send lets go without cancelling it: the data still
    /// goes out, for up to [`Config::send_grace`] (then it is cancelled, so
    /// a peer that never reads cannot pin the bytes, a receive buffer
    /// perhaps, for ever). A close the owner queues after it is issued
    /// after it: the send holds its own reference to the socket.
    ///
    /// `then_close`: the stream's descriptor, closed when the send ends (a
    /// resumed short send is addressed by descriptor: closing it earlier
    /// could hand its tail to whatever reuses the number).
    pub(crate) fn detach(&mut self, key: Key, then_close: Option<Target>) {
        let Some(s) = self.slot(key) else {
            if let Some(t) = then_close {
                self.close_orphan(t);
            }
            return;
        };
        if s.ended {
            self.free_slot(key.slot);
            if let Some(t) = then_close {
                self.close_orphan(t);
            }
            return;
        }
        s.orphan = true;
        s.close_after = then_close;
        if let Some(w) = s.waker.take() {
            park::discard(Garbage::Waker(w));
        }
        if let Some(w) = s.err_waker.take() {
            park::discard(Garbage::Waker(w));
        }
        // `None` (a grace past what an Instant holds): never cancelled.
        if let Some(until) = Instant::now().checked_add(self.cfg.send_grace) {
            self.detached.push((key, until));
        }
    }

    /// Cancels detached sends past their grace; forgets finished ones.
    pub(super) fn expire_detached(&mut self) {
        if self.detached.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut i = 0;
        while i < self.detached.len() {
            let (key, until) = self.detached[i];
            let live = self
                .slots
                .get(key.slot as usize)
                .is_some_and(|s| s.live && s.gen == key.gen && !s.ended);
            if !live {
                self.detached.swap_remove(i);
            } else if now >= until {
                self.detached.swap_remove(i);
                let s = &mut self.slots[key.slot as usize];
                if !s.throttled {
                    s.throttled = true;
                    self.stats.sends_expired += 1;
                    self.submit_ignored(
                        opcode::AsyncCancel::new(key.user_data(Kind::Send)).build(),
                    );
                }
            } else {
                i += 1;
            }
        }
    }

    /// The earliest grace deadline of a detached send.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.detached.iter().map(|&(_, t)| t).min()
    }

    /// A queued send's outcome for a receive on the same stream: `Some(res)`
    /// once it has ended (the slot is freed), else `None` with `cx`'s waker
    /// kept to be woken only if the send fails.
    pub(crate) fn send_status(&mut self, key: Key, cx: &mut Context<'_>) -> Option<i32> {
        let s = self.slot(key)?;
        if s.ended {
            let res = s.result;
            self.free_slot(key.slot);
            return Some(res);
        }
        set_waker(&mut s.err_waker, cx.waker());
        None
    }
}
