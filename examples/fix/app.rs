//! The applications on either side of the session: a [`Venue`] (the
//! acceptor: every NewOrderSingle gets an ack, a partial fill and a fill,
//! or a reject) and a [`Trader`] (the initiator: sends orders in a window,
//! checks every execution report against what the venue must answer, and
//! measures order → first execution report latency).
//!
//! The venue's rules (the QuickFIX acceptor in `tests/quickfix/` follows
//! the same ones):
//! - an order with OrderQty 0, more than 1 000 000, a Side other than 1
//!   or 2, or a limit order without a positive price is rejected:
//!   ExecType=8, OrdStatus=8;
//! - otherwise ExecType=0/OrdStatus=0 (New), then, if OrderQty ≥ 2, a
//!   partial fill of OrderQty/2 (ExecType=F, OrdStatus=1), then the fill of
//!   the rest (ExecType=F, OrdStatus=2), all at the limit price.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use corelane::sched;
use hdrhistogram::Histogram;

use super::engine::{until, Handler, Shared};
use super::msg::*;
use super::state::State;
use super::wire;

/// `prefix` followed by `n`, as an identifier.
pub fn id(prefix: &[u8], n: u64) -> Id {
    let mut buf = [0u8; 40];
    let p = prefix.len().min(20);
    buf[..p].copy_from_slice(&prefix[..p]);
    let mut digits = [0u8; 20];
    let d = wire::digits(n, &mut digits);
    buf[p..p + d.len()].copy_from_slice(d);
    Id::new(&buf[..p + d.len()]).unwrap_or(Id::EMPTY)
}

/// The (ExecType, OrdStatus) sequence the venue answers an order with.
pub fn expected(o: &NewOrderSingle) -> &'static [(u8, u8)] {
    use exec_type as x;
    use ord_status as s;
    let bad_px = o.ord_type == ord_type::LIMIT && o.price.is_none_or(|p| p.0 <= 0);
    if o.qty == 0 || o.qty > 1_000_000 || !matches!(o.side, side::BUY | side::SELL) || bad_px {
        &[(x::REJECTED, s::REJECTED)]
    } else if o.qty == 1 {
        &[(x::NEW, s::NEW), (x::TRADE, s::FILLED)]
    } else {
        &[
            (x::NEW, s::NEW),
            (x::TRADE, s::PARTIALLY_FILLED),
            (x::TRADE, s::FILLED),
        ]
    }
}

/// The acceptor's application.
#[derive(Default)]
pub struct Venue {
    /// Orders received.
    pub orders: u64,
    /// Execution reports queued.
    pub reports: u64,
}

impl Handler for Venue {
    const REPLIES: usize = 3;

    fn on_app(&mut self, m: &Fix<App>, st: &mut State, _now: Instant) {
        let App::Order(o) = m.body else {
            return; // the acceptor's receive type has no ExecutionReport arm
        };
        self.orders += 1;
        let order_id = id(b"O", self.orders);
        let (mut cum, px) = (0, o.price.unwrap_or(Price(100 * Price::SCALE)));
        for &(exec_type, ord_status) in expected(&o) {
            let last = match (exec_type, ord_status) {
                (exec_type::TRADE, ord_status::PARTIALLY_FILLED) => o.qty / 2,
                (exec_type::TRADE, _) => o.qty - cum,
                _ => 0,
            };
            cum += last;
            self.reports += 1;
            let rejected = exec_type == exec_type::REJECTED;
            st.push_app(App::Report(ExecutionReport {
                order_id,
                exec_id: id(b"E", self.reports),
                cl_ord_id: o.cl_ord_id,
                exec_type,
                ord_status,
                symbol: o.symbol,
                side: o.side,
                qty: o.qty,
                last_qty: last,
                last_px: (last > 0).then_some(px),
                leaves_qty: if rejected { 0 } else { o.qty - cum },
                cum_qty: cum,
                avg_px: if cum > 0 { px } else { Price(0) },
                text: rejected.then(|| Text::lossy(b"invalid order")),
            }));
        }
    }
}

/// One order in flight.
struct InFlight {
    n: u64,
    sent: Option<Instant>,
    expect: &'static [(u8, u8)],
    got: usize,
}

/// The initiator's application.
pub struct Trader {
    /// Orders to send.
    pub orders: u64,
    /// Orders in flight at most.
    pub window: usize,
    flight: VecDeque<InFlight>,
    /// Orders sent (first time).
    pub sent: u64,
    /// Orders whose reports all came.
    pub completed: u64,
    /// Execution reports received.
    pub reports: u64,
    /// Rejects among the completed orders.
    pub rejected: u64,
    /// Order → first execution report, nanoseconds.
    pub latency: Histogram<u64>,
    /// When the first order went out.
    pub first_sent: Option<Instant>,
    /// When the last order completed.
    pub last_done: Option<Instant>,
    /// Whether our TestRequest was answered.
    pub test_echoed: bool,
    /// Reports that were not what the venue must send (with the first).
    pub errors: u64,
    /// The first error.
    pub first_error: Option<String>,
}

/// Our TestRequest's TestReqID.
pub const TEST_REQ_ID: &[u8] = b"CL-TR-1";

impl Trader {
    /// A trader sending `orders` orders, `window` in flight.
    pub fn new(orders: u64, window: usize) -> Trader {
        Trader {
            orders,
            window: window.max(1),
            flight: VecDeque::new(),
            sent: 0,
            completed: 0,
            reports: 0,
            rejected: 0,
            latency: Histogram::new(3).expect("3 significant figures is a valid precision"),
            first_sent: None,
            last_done: None,
            test_echoed: false,
            errors: 0,
            first_error: None,
        }
    }

    /// The `n`th order (0-based): every tenth one invalid (OrderQty 0).
    pub fn order(n: u64) -> NewOrderSingle {
        NewOrderSingle {
            cl_ord_id: id(b"C", n),
            symbol: Symbol::new(b"CLNE").unwrap_or(Symbol::EMPTY),
            side: if n.is_multiple_of(2) {
                side::BUY
            } else {
                side::SELL
            },
            qty: if n % 10 == 9 { 0 } else { 100 + n % 7 },
            ord_type: ord_type::LIMIT,
            price: Some(Price(100 * Price::SCALE + (n % 50) as i64 * 2500)),
            transact_time: UtcMillis::now(),
        }
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }

    /// Orders per second between the first send and the last completion.
    pub fn rate(&self) -> f64 {
        match (self.first_sent, self.last_done) {
            (Some(a), Some(b)) if b > a => self.completed as f64 / (b - a).as_secs_f64(),
            _ => 0.0,
        }
    }
}

impl Handler for Trader {
    fn on_app(&mut self, m: &Fix<App>, _st: &mut State, now: Instant) {
        let App::Report(r) = m.body else {
            return; // the initiator's receive type has no NewOrderSingle arm
        };
        self.reports += 1;
        let Some(f) = self.flight.front_mut() else {
            return self.error(format!(
                "a report for {} with no order in flight",
                r.cl_ord_id
            ));
        };
        if r.cl_ord_id != id(b"C", f.n) {
            let n = f.n;
            return self.error(format!("a report for {} while C{n} was due", r.cl_ord_id));
        }
        let (want, first, sent, n) = (f.expect[f.got], f.got == 0, f.sent, f.n);
        f.got += 1;
        let complete = (f.got == f.expect.len()).then_some(f.expect.len() == 1);
        if (r.exec_type, r.ord_status) != want {
            let got = (r.exec_type as char, r.ord_status as char);
            let want = (want.0 as char, want.1 as char);
            self.error(format!(
                "C{n}: (ExecType, OrdStatus) {got:?}, expected {want:?}"
            ));
        }
        if let (true, Some(t)) = (first, sent) {
            let ns = now.saturating_duration_since(t).as_nanos() as u64;
            let _ = self.latency.record(ns.max(1));
        }
        if let Some(rejected) = complete {
            self.flight.pop_front();
            self.completed += 1;
            self.rejected += u64::from(rejected);
            self.last_done = Some(now);
        }
    }

    fn on_heartbeat(&mut self, m: &Fix<Heartbeat>) {
        if m.body
            .test_req_id
            .is_some_and(|i| i.as_bytes() == TEST_REQ_ID)
        {
            self.test_echoed = true;
        }
    }

    fn on_sent(&mut self, app: &App, now: Instant) {
        let App::Order(o) = app else { return };
        if let Some(f) = self
            .flight
            .iter_mut()
            .rev()
            .find(|f| o.cl_ord_id == id(b"C", f.n))
        {
            f.sent = Some(now);
        }
        self.first_sent.get_or_insert(now);
    }
}

/// The initiator's script.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Wait this long after the Logon (heartbeats flow) before the
    /// TestRequest.
    pub idle: Duration,
    /// Give up on the TestRequest's echo after this long.
    pub echo_timeout: Duration,
}

/// Logs on (done by the engine), idles, sends a TestRequest and waits for
/// its Heartbeat, sends every order (window permitting), waits for their
/// reports, logs out.
pub async fn drive(sh: &Shared<Trader>, plan: Plan) {
    until(sh, |st, _| st.logged_on()).await;
    if !plan.idle.is_zero() {
        sched::sleep(plan.idle).await;
    }
    sh.st
        .borrow_mut()
        .test_request(Id::new(TEST_REQ_ID).unwrap_or(Id::EMPTY));
    let echoed = until(sh, |_, t| t.test_echoed);
    if sched::timeout(plan.echo_timeout, echoed).await.is_err() {
        sh.app
            .borrow_mut()
            .error("no Heartbeat answered our TestRequest".into());
    }
    let total = sh.app.borrow().orders;
    for n in 0..total {
        until(sh, |st, t| t.flight.len() < t.window && st.has_room(1)).await;
        if sh.st.borrow().outcome().is_some() {
            return;
        }
        let o = Trader::order(n);
        {
            let mut t = sh.app.borrow_mut();
            t.flight.push_back(InFlight {
                n,
                sent: None,
                expect: expected(&o),
                got: 0,
            });
            t.sent += 1;
        }
        sh.st.borrow_mut().push_app(App::Order(o));
    }
    until(sh, |_, t| t.completed == total).await;
    sh.st.borrow_mut().logout(Some(Text::lossy(b"done")));
}
