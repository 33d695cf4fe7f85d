//! The targets of `examples/latency.rs`: each is the ratio of two figures
//! of one run, named by the rows they come from, and the direction the
//! ratio must fall.

use crate::multicast_row::{CORELANE, DISRUPTOR};
use crate::rings::{
    ArrayQueue, CbChannel, CorelaneMpmc, CorelaneMpsc, CorelaneSpsc, CorelaneSpscBatch,
    CorelaneSpscNoNotify, Nexus, Ring, Ringbuf, Rtrb,
};
use crate::sched_row::{
    MPSC_BUSY, MPSC_PARK, MPSC_SPIN, MPSC_TOKIO, PRIO_TIMER_CORELANE, PRIO_TIMER_TOKIO,
    PRIO_WAKE_CORELANE, PRIO_WAKE_TOKIO, QUANTUM, SLOT_BUSY, SPSC_BUSY,
};
use crate::session_rows::{RAW_FRAMES, TYPED_LINE, TYPED_RING};
use crate::stream::{
    ASYNC_CORELANE, ASYNC_TOKIO, PARK_CORELANE, PARK_CROSSBEAM, PARK_PING_CORELANE,
    PARK_PING_CROSSBEAM, PING_CORELANE, PING_TOKIO,
};
use crate::{Results, FLOOR_ONE_LINE, FLOOR_TWO_LINES};

use Figure::{
    Multicast, PeerRtt, PeerTput, PrioP50, PrioP99, Quantum, Rtt, SchedRtt, Stream, Tput,
};
use Goal::{AtLeast, AtMost, Info};

/// The single-item SPSC peers the SPSC targets compare against.
const SPSC_PEERS: [&str; 3] = [Rtrb::NAME, Ringbuf::NAME, Nexus::NAME];
const SPSC: &str = CorelaneSpsc::NAME;

/// A figure of this run, named by the row it comes from.
#[derive(Clone, Copy)]
enum Figure {
    /// A ring row's median round trip.
    Rtt(&'static str),
    /// A ring row's median throughput.
    Tput(&'static str),
    /// The lowest median round trip of [`SPSC_PEERS`].
    PeerRtt,
    /// The highest median throughput of [`SPSC_PEERS`].
    PeerTput,
    /// A multicast row's median round trip.
    Multicast(&'static str),
    /// A streaming row's median ns per order (or per round trip), at a
    /// capacity.
    Stream(&'static str, usize),
    /// A sched cross-core wake row's median round trip.
    SchedRtt(&'static str),
    /// A priority-isolation row's median delay (median of per-round p50s).
    PrioP50(&'static str),
    /// A priority-isolation row's p99 delay (over every round's samples).
    PrioP99(&'static str),
    /// The sched quantum of the priority-isolation row, ns (a setting,
    /// not a measurement).
    Quantum,
}

/// Which way a ratio must fall.
#[derive(Clone, Copy)]
pub enum Goal {
    AtMost(f64),
    AtLeast(f64),
    /// No target: shown for context.
    Info(&'static str),
}

/// A target: `num / den` against `goal`.
pub struct Spec {
    pub what: &'static str,
    num: Figure,
    den: Figure,
    pub goal: Goal,
}

const fn spec(what: &'static str, num: Figure, den: Figure, goal: Goal) -> Spec {
    Spec {
        what,
        num,
        den,
        goal,
    }
}

#[rustfmt::skip]
static TARGETS: [Spec; 29] = [
    spec("spsc round trip / best of rtrb, ringbuf, nexus-queue", Rtt(SPSC), PeerRtt, AtMost(0.85)),
    spec("spsc round trip / one-line floor", Rtt(SPSC), Rtt(FLOOR_ONE_LINE), AtMost(1.20)),
    spec("spsc round trip / two-line floor (one line per ring)", Rtt(SPSC), Rtt(FLOOR_TWO_LINES), Info("what two rings can reach")),
    spec("spsc throughput / best of rtrb, ringbuf, nexus-queue", Tput(SPSC), PeerTput, AtLeast(1.30)),
    spec("spsc chunks of 64 / rtrb single-item", Tput(CorelaneSpscBatch::NAME), Tput(Rtrb::NAME), AtLeast(3.00)),
    spec("mpsc 1->1 / crossbeam-channel bounded", Tput(CorelaneMpsc::NAME), Tput(CbChannel::NAME), AtLeast(2.00)),
    spec("mpmc 1->1 / crossbeam ArrayQueue", Tput(CorelaneMpmc::NAME), Tput(ArrayQueue::NAME), AtLeast(1.00)),
    // Cost per item is 1 / throughput, so cost with / cost without is
    // throughput without / throughput with.
    spec("spsc push cost with park check / without (per item)", Tput(CorelaneSpscNoNotify::NAME), Tput(SPSC), AtMost(1.05)),
    spec("multicast round trip / disruptor EventPoller", Multicast(CORELANE), Multicast(DISRUPTOR), AtMost(0.80)),
    // Streams: time per order, so lower is better.
    spec("async stream cap 64 / tokio::sync::mpsc", Stream(ASYNC_CORELANE, 64), Stream(ASYNC_TOKIO, 64), AtMost(1.00)),
    spec("async stream cap 1024 / tokio::sync::mpsc", Stream(ASYNC_CORELANE, 1024), Stream(ASYNC_TOKIO, 1024), AtMost(1.00)),
    spec("async ping-pong / tokio::sync::mpsc", Stream(PING_CORELANE, 64), Stream(PING_TOKIO, 64), AtMost(0.80)),
    spec("park stream cap 64 / crossbeam-channel bounded", Stream(PARK_CORELANE, 64), Stream(PARK_CROSSBEAM, 64), AtMost(1.00)),
    spec("park stream cap 1024 / crossbeam-channel bounded", Stream(PARK_CORELANE, 1024), Stream(PARK_CROSSBEAM, 1024), AtMost(1.00)),
    spec("park ping-pong / crossbeam-channel bounded", Stream(PARK_PING_CORELANE, 64), Stream(PARK_PING_CROSSBEAM, 64), Info("Park's spin policy when every wait is a round trip")),
    // sched (issue 12). Cross-core wake: ping-pong over tokio::sync::mpsc
    // (every message wakes the other core's task). The BusyPoll
    // target is on one-way latency; both sides here are round trips (two
    // one-way trips each), so the ratio is the same.
    spec("sched wake BusyPoll / spsc ring, round trips (= one-way ratio)", SchedRtt(MPSC_BUSY), Rtt(SPSC), AtMost(2.00)),
    spec("sched wake BusyPoll / tokio current_thread x2 pinned", SchedRtt(MPSC_BUSY), SchedRtt(MPSC_TOKIO), Info("tokio's threads park when idle")),
    spec("sched wake Park / tokio current_thread x2 pinned", SchedRtt(MPSC_PARK), SchedRtt(MPSC_TOKIO), AtMost(0.50)),
    spec("sched wake Spin(50 µs) default / tokio current_thread x2", SchedRtt(MPSC_SPIN), SchedRtt(MPSC_TOKIO), Info("spin, then park")),
    spec("sched wake BusyPoll, waker slot / spsc ring, round trips", SchedRtt(SLOT_BUSY), Rtt(SPSC), Info("the wake without tokio mpsc's cost")),
    spec("sched BusyPoll over spsc rings / spsc ring (ring spin, no wake)", SchedRtt(SPSC_BUSY), Rtt(SPSC), Info("see the wakes column")),
    spec("High p99, thread wake: corelane / quantum (50 µs)", PrioP99(PRIO_WAKE_CORELANE), Quantum, AtMost(1.00)),
    spec("High p99, thread wake: corelane / tokio multi_thread 2", PrioP99(PRIO_WAKE_CORELANE), PrioP99(PRIO_WAKE_TOKIO), AtMost(0.10)),
    spec("High p50, thread wake: corelane / tokio multi_thread 2", PrioP50(PRIO_WAKE_CORELANE), PrioP50(PRIO_WAKE_TOKIO), Info("the median beside the p99")),
    spec("High p99, timer: corelane (tick 10 µs) / tokio (1 ms grain)", PrioP99(PRIO_TIMER_CORELANE), PrioP99(PRIO_TIMER_TOKIO), Info("mostly tokio's timer grain")),
    // session (issue 14): the same frames, typed or not, on the same rings.
    spec("session ring typed / raw spsc frames, round trips", Rtt(TYPED_RING), Rtt(RAW_FRAMES), AtMost(1.05)),
    spec("session ring typed / two-line floor", Rtt(TYPED_RING), Rtt(FLOOR_TWO_LINES), Info("what two rings can reach")),
    spec("session line typed / one-line floor", Rtt(TYPED_LINE), Rtt(FLOOR_ONE_LINE), AtMost(1.15)),
    spec("session line typed / session ring typed", Rtt(TYPED_LINE), Rtt(TYPED_RING), Info("one shared slot vs two rings")),
];

/// A target's ratio in this run.
pub struct Target {
    pub spec: &'static Spec,
    pub value: f64,
}

impl Target {
    /// `Some(met)`, or `None` for a context-only row. A NaN ratio misses.
    pub fn met(&self) -> Option<bool> {
        match self.spec.goal {
            AtMost(t) => Some(self.value <= t),
            AtLeast(t) => Some(self.value >= t),
            Info(_) => None,
        }
    }

    /// `target <= 0.85`, or the note of a context-only row.
    pub fn describe_goal(&self) -> String {
        match self.spec.goal {
            AtMost(t) => format!("target <= {t:.2}"),
            AtLeast(t) => format!("target >= {t:.2}"),
            Info(note) => format!("{note}; no target"),
        }
    }
}

/// Every target's ratio in `r`.
pub fn targets(r: &Results) -> Vec<Target> {
    TARGETS
        .iter()
        .map(|spec| Target {
            spec,
            value: figure(r, spec.num) / figure(r, spec.den),
        })
        .collect()
}

fn figure(r: &Results, f: Figure) -> f64 {
    match f {
        Rtt(name) => r.rtt(name),
        Tput(name) => r.tput(name),
        PeerRtt => SPSC_PEERS
            .map(|n| r.rtt(n))
            .into_iter()
            .fold(f64::INFINITY, f64::min),
        PeerTput => SPSC_PEERS
            .map(|n| r.tput(n))
            .into_iter()
            .fold(0.0, f64::max),
        Multicast(name) => r.multicast(name).p50(),
        Stream(name, cap) => r.stream(name, cap).p50(),
        SchedRtt(name) => r.sched.wake(name).p50(),
        PrioP50(name) => r.sched.prio(name).p50(),
        PrioP99(name) => r.sched.prio(name).p99(),
        Quantum => QUANTUM.as_nanos() as f64,
    }
}
