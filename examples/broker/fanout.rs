//! The broker's core, apart from sockets: topics (a multicast ring of
//! `Bytes` each), a connection's publisher handles, and its subscriptions
//! with the gather step that turns what their cursors hold into the next
//! vectored send. `tests/broker.rs` drives these directly to show the
//! fan-out copies nothing.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use corelane::queue::multicast::{
    Builder, Cursor, Joiner, LossyCursor, LossyRecvError, Multi, Publisher,
};
use corelane::queue::PushError;

pub use super::config::TopicStats;
use super::wire::{self, Code, Policy};

/// Per-topic counters, read only for display (Relaxed: nothing is
/// ordered by them).
#[derive(Default, Debug)]
pub struct Counters {
    pub msgs_in: AtomicU64,
    pub msgs_out: AtomicU64,
    pub drops: AtomicU64,
    pub lagged: AtomicU64,
    pub subscribers: AtomicU64,
}

struct Topic {
    /// Cloned by each connection that publishes here; kept for good, so
    /// the ring never ends and subscribers can always join.
    tx: Mutex<Publisher<Bytes, Multi>>,
    joiner: Joiner<Bytes>,
    counters: Counters,
}

/// Every topic of a broker, `0..n`.
pub struct Topics {
    list: Vec<Topic>,
}

impl Topics {
    /// `n` topics of `ring` slots each (a power of two).
    pub fn new(n: u16, ring: usize) -> Result<Topics, String> {
        let list = (0..n)
            .map(|_| {
                // No cursor yet: subscribers join while it runs.
                let (tx, h) = Builder::new(ring, Bytes::new)
                    .build_multi()
                    .map_err(|e| e.to_string())?;
                Ok(Topic {
                    joiner: h.joiner(),
                    tx: Mutex::new(tx),
                    counters: Counters::default(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Topics { list })
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn counters(&self, topic: u16) -> &Counters {
        &self.list[topic as usize].counters
    }

    pub fn stats(&self) -> Vec<TopicStats> {
        self.list
            .iter()
            .enumerate()
            .map(|(i, t)| TopicStats {
                topic: i as u16,
                msgs_in: t.counters.msgs_in.load(Relaxed),
                msgs_out: t.counters.msgs_out.load(Relaxed),
                drops: t.counters.drops.load(Relaxed),
                lagged: t.counters.lagged.load(Relaxed),
                subscribers: t.counters.subscribers.load(Relaxed),
            })
            .collect()
    }
}

/// What became of a publish.
#[derive(Debug)]
pub enum Pushed {
    /// In the ring.
    Done,
    /// Nobody subscribed: it reached nobody (counted as a drop).
    Dropped,
    /// The ring is full (a block-policy subscriber is behind): try again
    /// when [`Publishers::poll_ready`] says so.
    Full(Bytes),
}

/// A connection's publisher handle per topic, cloned on first use.
pub struct Publishers {
    per_topic: Vec<Option<Publisher<Bytes, Multi>>>,
}

impl Publishers {
    pub fn new(topics: &Topics) -> Publishers {
        Publishers {
            per_topic: (0..topics.len()).map(|_| None).collect(),
        }
    }

    /// Publishes `frame` (a whole PUBLISH frame) on `topic`, unchanged.
    pub fn push(&mut self, topics: &Topics, topic: u16, frame: Bytes) -> Pushed {
        let t = &topics.list[topic as usize];
        let tx = self.per_topic[topic as usize]
            .get_or_insert_with(|| t.tx.lock().unwrap_or_else(|e| e.into_inner()).clone());
        match tx.push(frame) {
            Ok(_) => {
                t.counters.msgs_in.fetch_add(1, Relaxed);
                Pushed::Done
            }
            Err(PushError::Full(f)) => Pushed::Full(f),
            Err(_) => {
                t.counters.drops.fetch_add(1, Relaxed);
                Pushed::Dropped
            }
        }
    }

    /// `Ready` once a push on `topic` may find room (or would reach
    /// nobody), else `Pending` with the task woken by the next release.
    pub fn poll_ready(&mut self, topic: u16, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.per_topic[topic as usize] {
            Some(tx) => tx.poll_ready(cx).map(drop),
            None => Poll::Ready(()),
        }
    }
}

enum Reader {
    Block(Cursor<Bytes>),
    Drop(LossyCursor<Bytes>),
}

/// One subscription: its cursor, counted in its topic's `subscribers`
/// while it lives.
struct Sub {
    topic: u16,
    reader: Reader,
    topics: Arc<Topics>,
}

impl Drop for Sub {
    fn drop(&mut self) {
        self.topics
            .counters(self.topic)
            .subscribers
            .fetch_sub(1, Relaxed);
    }
}

/// A connection's subscriptions.
pub struct Subscriptions {
    topics: Arc<Topics>,
    subs: Vec<Sub>,
    /// Which topics `subs` holds (the duplicate check in O(1)).
    subscribed: Vec<bool>,
    /// Where the next gather starts (the topics take turns).
    turn: usize,
    /// A GAP frame being built.
    scratch: Vec<u8>,
}

impl Subscriptions {
    pub fn new(topics: Arc<Topics>) -> Subscriptions {
        Subscriptions {
            subs: Vec::new(),
            subscribed: vec![false; topics.len()],
            turn: 0,
            scratch: Vec::new(),
            topics,
        }
    }

    /// Joins `topic` from now on: a gating cursor (block) or a lossy one
    /// (drop). `Err` for an unknown topic or one already subscribed.
    pub fn subscribe(&mut self, topic: u16, policy: Policy) -> Result<(), Code> {
        let Some(t) = self.topics.list.get(topic as usize) else {
            return Err(Code::UnknownTopic);
        };
        if std::mem::replace(&mut self.subscribed[topic as usize], true) {
            return Err(Code::Duplicate);
        }
        let reader = match policy {
            Policy::Block => Reader::Block(t.joiner.subscribe()),
            Policy::Drop => Reader::Drop(t.joiner.subscribe_lossy()),
        };
        t.counters.subscribers.fetch_add(1, Relaxed);
        self.subs.push(Sub {
            topic,
            reader,
            topics: self.topics.clone(),
        });
        Ok(())
    }

    /// Leaves every topic (a block-policy cursor stops gating at once).
    pub fn clear(&mut self) {
        self.subs.clear();
        self.subscribed.fill(false);
    }

    /// Appends to `out` what the cursors have ready, at most `budget`
    /// messages, each a clone of the very `Bytes` its publisher pushed (a
    /// reference count, not a copy), and a GAP frame where a drop-policy
    /// cursor was lapped; registers `cx` with every cursor that had
    /// nothing. Returns how many entries it appended.
    pub fn gather(&mut self, out: &mut Vec<Bytes>, budget: usize, cx: &mut Context<'_>) -> usize {
        let start = out.len();
        let n = self.subs.len();
        let mut budget = budget;
        for k in 0..n {
            if budget == 0 {
                break;
            }
            let sub = &mut self.subs[(self.turn + k) % n];
            let counters = &self.topics.list[sub.topic as usize].counters;
            let before = out.len();
            let mut gaps = 0;
            match &mut sub.reader {
                Reader::Block(c) => {
                    // The ring never ends while the broker runs (it keeps a
                    // publisher per topic), and a root cursor has no
                    // upstream to fail: there is no error to handle.
                    if let Poll::Ready(Ok(batch)) = c.poll_pop_batch(budget, cx) {
                        out.extend(batch.iter().cloned());
                    }
                }
                Reader::Drop(l) => {
                    while out.len() - before < budget {
                        match l.poll_pop(cx) {
                            Poll::Ready(Ok(b)) => out.push(b),
                            Poll::Ready(Err(LossyRecvError::Lagged(missed))) => {
                                counters.lagged.fetch_add(1, Relaxed);
                                counters.drops.fetch_add(missed, Relaxed);
                                self.scratch.clear();
                                wire::gap(&mut self.scratch, sub.topic, missed);
                                out.push(Bytes::copy_from_slice(&self.scratch));
                                gaps += 1;
                            }
                            // Disconnected cannot happen (see above); the
                            // error is non-exhaustive.
                            Poll::Ready(Err(_)) | Poll::Pending => break,
                        }
                    }
                }
            }
            let got = out.len() - before;
            counters.msgs_out.fetch_add((got - gaps) as u64, Relaxed);
            budget = budget.saturating_sub(got);
        }
        if n > 0 {
            self.turn = (self.turn + 1) % n;
        }
        out.len() - start
    }
}
