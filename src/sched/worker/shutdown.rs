//! The shutdown protocol of one core (the tail of its thread body): stop,
//! wake every registered task, drop every queued Runnable on its core, then
//! close the door to threads outside the runtime and drain once more.

use super::{quietly, Worker, CLASSES, CURRENT};
use crate::sched::inbox::Msg;

impl Worker {
    /// The thread body: runs the loop until shutdown, then takes part in
    /// the shutdown protocol.
    pub(crate) fn main(self, barrier: &std::sync::Barrier) {
        CURRENT.with(|c| c.set(&self as *const Worker));
        struct Clear;
        impl Drop for Clear {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(std::ptr::null()));
            }
        }
        let _clear = Clear;
        self.run();
        self.publish();
        // Shutdown, phase 1: no core runs a task any more.
        barrier.wait();
        // Phase 2: schedule every task that was ever polled here and is
        // still alive, so its Runnable lands in its home core's queues.
        let wakers = self.registry.borrow_mut().take_all();
        for w in wakers {
            w.wake();
        }
        barrier.wait();
        // Phase 3: drop every queued Runnable (each drops its future, on
        // this core). Drops can wake tasks that are already queued (a
        // no-op) and send deregistrations; two more rounds catch what
        // other cores sent meanwhile.
        for _ in 0..3 {
            self.drop_queued();
            barrier.wait();
        }
        // Last: close the door to threads outside the runtime and drain
        // once more under its lock. A foreign wake or spawn whose push got
        // in before is dropped here, on this core; one that comes later is
        // disposed of by its sender (a `Send` task dropped there, a local
        // one leaked, never dropped off its thread).
        let late = {
            let mut foreign = self.remote().foreign.lock();
            foreign.closed = true;
            let mut late = Vec::new();
            loop {
                let m = self.inbox.borrow_mut().pop();
                match m {
                    Ok(m) => late.push(m),
                    // A peer's claimed, unwritten slot may hide items behind it.
                    Err(_) if !self.inbox.borrow().is_empty() => crate::sync::spin_hint(),
                    Err(_) => break,
                }
            }
            late.extend(self.remote().take_overflow(usize::MAX));
            drop(foreign);
            late
        };
        // Outside the lock: these drops run user code.
        late.into_iter().for_each(dispose_here);
        self.drop_queued();
        self.publish();
    }

    fn drop_queued(&self) {
        loop {
            let mut any = false;
            for c in 0..CLASSES {
                loop {
                    let r = self.local[c].borrow_mut().pop_front();
                    let Some(r) = r else { break };
                    any = true;
                    drop(r);
                }
                loop {
                    let r = self.steal_rx[c].borrow_mut().pop();
                    let Ok(r) = r else { break };
                    any = true;
                    drop(r);
                }
                loop {
                    let r = self.spill[c].borrow_mut().pop_front();
                    let Some(r) = r else { break };
                    any = true;
                    drop(r);
                }
            }
            loop {
                let m = self.inbox.borrow_mut().pop();
                let Ok(m) = m else { break };
                any = true;
                dispose_here(m);
            }
            if self.remote().has_overflow() {
                let left = self.remote().take_overflow(usize::MAX);
                any |= !left.is_empty();
                left.into_iter().for_each(dispose_here);
            }
            // Timers hold wakers only; dropping them frees references. A
            // waker a task made itself may panic when dropped: that must
            // not kill the core before the next barrier.
            let timers = std::mem::take(&mut *self.wheel.borrow_mut());
            quietly(|| drop(timers));
            if !any {
                break;
            }
        }
    }
}

/// Drops an undeliverable message on its home core during shutdown.
fn dispose_here(m: Msg) {
    match m {
        Msg::Run(r) => drop(r),
        Msg::Deregister(_) | Msg::Abort(_) | Msg::CancelTimer(_) => {}
    }
}
