//! Reaping: every completion matched to its op (key, kind, generation),
//! multishot events queued (received data lent from the buffer ring,
//! accepted descriptors) with the per-owner budget, sends resumed when
//! short, terminal completions ending their ops, wakers collected.

use super::park;
use super::{
    cqueue, opcode, send_entry, Driver, Event, Garbage, Key, Kind, Mem, Target, ACCEPT_BUDGET,
    DOORBELL, IGNORE,
};

impl Driver {
    pub(super) fn reap(&mut self) {
        let mut cq = self.ring.completion();
        self.stats.cq_overflow = u64::from(cq.overflow());
        let mut seen = 0u64;
        // Collected first: handling one needs `&mut self` (slab, buffers).
        let mut batch: [(u64, i32, u32); 64] = [(0, 0, 0); 64];
        loop {
            let mut n = 0;
            for c in cq.by_ref().take(64) {
                batch[n] = (c.user_data(), c.result(), c.flags());
                n += 1;
            }
            if n == 0 {
                break;
            }
            seen += n as u64;
            cq.sync();
            drop(cq);
            for &(ud, res, flags) in &batch[..n] {
                self.complete(ud, res, flags);
            }
            cq = self.ring.completion();
        }
        self.stats.cqes += seen;
    }

    fn complete(&mut self, ud: u64, res: i32, flags: u32) {
        if ud == DOORBELL {
            if !cqueue::more(flags) {
                self.doorbell_armed = false;
            }
            if let Some(fd) = self.doorbell {
                let mut buf = 0u64;
                // SAFETY: reads at most 8 bytes into a live u64 from the
                // doorbell's (non-blocking) eventfd: clears the count.
                unsafe { libc::read(fd, (&mut buf as *mut u64).cast(), 8) };
            }
            return;
        }
        if ud == IGNORE {
            if let Some(bid) = cqueue::buffer_select(flags) {
                self.recycle(bid);
            }
            return;
        }
        let key = Key {
            slot: (ud & 0xffff_ffff) as u32,
            gen: (ud >> 40) as u32,
        };
        let kind = ((ud >> 32) & 0xff) as u8;
        let valid = self
            .slots
            .get(key.slot as usize)
            .is_some_and(|s| s.live && s.gen == key.gen && s.kind as u8 == kind && !s.ended);
        let bid = cqueue::buffer_select(flags);
        if !valid {
            self.stats.stale += 1;
            if let Some(bid) = bid {
                self.recycle(bid);
            }
            return;
        }
        let s = &self.slots[key.slot as usize];
        let (skind, orphan) = (s.kind, s.orphan);
        let terminal = !skind.multishot() || !cqueue::more(flags);
        if skind.multishot() {
            let ev = match (skind, bid) {
                (Kind::RecvMulti, Some(bid)) if res > 0 => {
                    match self.bufs.as_mut().and_then(|b| b.take(bid, res as usize)) {
                        Some(b) => Event::Data(b),
                        None => {
                            // Not a buffer we can hand out (it may be lent:
                            // never give it back to the kernel from here);
                            // the ring no longer has it either.
                            self.stats.stale += 1;
                            if let Some(b) = self.bufs.as_mut() {
                                b.available = b.available.saturating_sub(1);
                            }
                            Event::Res(-libc::EIO)
                        }
                    }
                }
                (_, Some(bid)) => {
                    self.recycle(bid);
                    Event::Res(res)
                }
                (_, None) => Event::Res(res),
            };
            if res == -libc::ENOBUFS {
                self.stats.enobufs += 1;
            }
            if skind == Kind::AcceptMulti && res >= 0 {
                self.stats.accepted += 1;
                if self.direct {
                    self.stats.direct_open += 1;
                }
            }
            if orphan {
                if let (Kind::AcceptMulti, Event::Res(fd)) = (skind, &ev) {
                    if *fd >= 0 {
                        let t = if self.direct {
                            Target::Fixed(*fd as u32)
                        } else {
                            Target::Fd(*fd)
                        };
                        self.close_orphan(t);
                    }
                }
            } else if !(res == -libc::ECANCELED && self.slots[key.slot as usize].throttled) {
                let budget = match skind {
                    Kind::RecvMulti => self
                        .cfg
                        .recv_budget
                        .min(usize::from(self.cfg.buffers) / 4)
                        .max(1),
                    _ => ACCEPT_BUDGET,
                };
                let s = &mut self.slots[key.slot as usize];
                s.events.push_back(ev);
                if s.events.len() >= budget && !terminal && !s.throttled {
                    // The owner is not keeping up: stop this multishot (the
                    // rest waits in the socket or the listen backlog, not
                    // in the core's buffers); its owner re-arms once it
                    // has taken what is queued.
                    s.throttled = true;
                    self.stats.throttled += 1;
                    self.submit_ignored(opcode::AsyncCancel::new(ud).build());
                }
            }
        } else if skind == Kind::Send {
            let s = &mut self.slots[key.slot as usize];
            let total = s.mem.send_len();
            let again = if res > 0 {
                s.done += res as usize;
                s.done < total
            } else {
                // ECANCELED on a send not `throttled`: the teardown's first
                // cancel (the only one that reaches such a send) found it
                // with nothing moved since it went in; resumed like a
                // partial count (`closing` ends it below).
                res == -libc::EAGAIN || res == -libc::EINTR || res == -libc::ECANCELED
            };
            // A detached send (its stream dropped) still goes out in full;
            // one whose cancel was requested (`throttled`), or cancelled by
            // the teardown (`closing`: a partial count is not resumed), stops.
            if again && !s.throttled && !self.closing {
                // A short send (or a vectored one past IOV_MAX): the rest
                // goes out under the same key, from the first unsent byte.
                let (t, done) = (s.target.expect("a send has a target"), s.done);
                let e = send_entry(t, &mut s.mem, done).user_data(key.user_data(Kind::Send));
                self.stats.short_sends += 1;
                self.push(e);
                return;
            }
            s.result = match res {
                r if r < 0 => r,
                0 => -libc::EPIPE,
                // Stopped short (cancelled, or the teardown's `closing`
                // ended it at a partial count): not sent in full.
                _ if s.done < total => -libc::ECANCELED,
                _ => 0,
            };
            if let Some(w) = s.err_waker.take() {
                if s.result < 0 {
                    self.wake.push(w);
                } else {
                    park::discard(Garbage::Waker(w));
                }
            }
            // The kernel is done with the bytes: let them go now (a lent
            // receive buffer goes home), not when the owner next looks.
            let s = &mut self.slots[key.slot as usize];
            let mem = std::mem::replace(&mut s.mem, Mem::None);
            self.recycle_mem(mem);
        } else {
            self.slots[key.slot as usize].result = res;
        }
        if terminal {
            self.inflight -= 1;
            self.slots[key.slot as usize].ended = true;
            if orphan {
                self.free_slot(key.slot);
                return;
            }
        }
        if let Some(w) = self.slots[key.slot as usize].waker.take() {
            self.wake.push(w);
        }
    }

    pub(super) fn recycle(&mut self, bid: u16) {
        if let Some(b) = self.bufs.as_mut() {
            b.recycle(bid);
        }
        self.wake_starved();
    }

    /// Wakes every starved receive while the ring has buffers.
    pub(super) fn wake_starved(&mut self) {
        let free = self.bufs.as_ref().is_some_and(|b| b.available > 0);
        if free && !self.starved.is_empty() {
            self.wake.append(&mut self.starved);
        }
    }
}
