//! Typed vs hand-framed over io_uring TCP (issue 14, §5): an order loop
//! (NewOrder → ExecutionReport, one round trip at a time) over one
//! loopback connection, the server on the second CPU and the client on the
//! first, both on one corelane runtime with io. The typed client and
//! server follow `Rec<Choose<{Order => Recv<ExecReport, Var<Z>>, Stop =>
//! End}>>` over `session::tcp` (handshake, typestate, label and message
//! checks, the shared stream behind an `Rc<RefCell>`); the hand-framed pair
//! sends the very same frames with the very same codec (`Framed<Pod>`)
//! straight over `io::TcpStream`, checking label and message type by hand.
//! So the ratio is what the session layer costs on a syscall round trip.
//!
//! `cargo bench --bench session_tcp` (a printed table, not criterion;
//! about 20 s): `ROUNDS` interleaved rounds (typed, hand, hand, typed, …)
//! of `N` round trips each after a warm-up; per-round medians, their median
//! and spread, and p50/p99/p99.9 over every round trip from hdrhistogram.
//! `SESSION_TCP_QUICK=1` runs a few rounds only. Loopback latency on these
//! guests is dominated by the hypervisor (see ../shared/BENCHMARKING.md):
//! read the ratio, and only when the medians differ by more than the
//! spread.
#![cfg_attr(corelane_loom, allow(dead_code, unused_imports))]

#[path = "common/rings.rs"]
mod rings;

#[cfg(not(corelane_loom))]
fn main() {
    imp::main();
}

#[cfg(corelane_loom)]
fn main() {}

#[cfg(not(corelane_loom))]
mod imp {
    use bytes::BytesMut;
    use corelane::io::{self, TcpStream};
    use corelane::sched::{self, Idle, Priority, Runtime};
    use corelane::session::codec::{Codec, Framed};
    use corelane::session::{tcp, Choose, Dual, End, Error, Named, Rec, Recv, Var, Z};
    use hdrhistogram::Histogram;
    use std::net::SocketAddr;
    use std::time::Instant;

    /// An order.
    pub struct NewOrder {
        id: u64,
        px: i64,
        qty: u32,
        side: u8,
    }
    /// Its report.
    pub struct ExecReport {
        id: u64,
        px: i64,
        filled: u32,
        status: u8,
    }
    impl Named for NewOrder {
        const NAME: &'static str = "NewOrder";
    }
    impl Named for ExecReport {
        const NAME: &'static str = "ExecReport";
    }
    corelane::session_wire!(struct NewOrder { id, px, qty, side });
    corelane::session_wire!(struct ExecReport { id, px, filled, status });
    corelane::session_payload! {
        /// The order loop's messages.
        pub enum Msg { Order(NewOrder), Exec(ExecReport) }
    }
    corelane::session_wire!(
        enum Msg {
            Order,
            Exec,
        }
    );
    corelane::session_choice! {
        /// The client's next move.
        pub mod ord {
            /// An order; its report comes back.
            Order(NewOrder) => Recv<ExecReport, Var<Z>>,
            /// Done.
            Stop(()) => End,
        }
    }
    type Client = Rec<Choose<ord::Choice>>;
    type Server = Dual<Client>;

    fn codec() -> Framed {
        Framed::pod(4096)
    }

    fn report(o: &NewOrder) -> ExecReport {
        ExecReport {
            id: o.id,
            px: o.px,
            filled: o.qty,
            status: 2 + o.side,
        }
    }

    async fn typed_server(s: TcpStream) -> Result<(), Error> {
        let c = tcp::accept::<Server, Msg, _>(s, codec(), &tcp::Config::new()).await?;
        let mut c = c.enter();
        loop {
            match c.offer().await? {
                ord::Branch::Order(o, c2) => c = c2.send(report(&o)).await?.recurse(),
                ord::Branch::Stop((), c2) => {
                    c2.close();
                    return Ok(());
                }
            }
        }
    }

    /// The hand-framed server: the same frames, checked by hand.
    async fn hand_server(mut s: TcpStream) -> Result<(), Error> {
        let mut c = codec();
        let (mut rbuf, mut wbuf) = (BytesMut::with_capacity(4096), BytesMut::with_capacity(4096));
        loop {
            let (label, m) = hand_recv(&mut s, &mut c, &mut rbuf).await?;
            match (label, m) {
                (0, Msg::Order(o)) => {
                    c.encode(0, Msg::Exec(report(&o)), &mut wbuf)?;
                    s.send(wbuf.split().freeze()).await?;
                }
                (1, _) => return Ok(()),
                (got, _) => {
                    return Err(Error::Violation {
                        expected: "an order",
                        got,
                    })
                }
            }
        }
    }

    async fn hand_recv(
        s: &mut TcpStream,
        c: &mut Framed,
        rbuf: &mut BytesMut,
    ) -> Result<(u8, Msg), Error> {
        loop {
            if let Some(f) = Codec::<Msg>::decode(c, rbuf)? {
                return Ok(f);
            }
            match s.recv().await? {
                Some(chunk) => rbuf.extend_from_slice(&chunk),
                None => return Err(Error::Closed),
            }
        }
    }

    fn order(i: u64) -> NewOrder {
        NewOrder {
            id: i,
            px: 10_000 + (i % 7) as i64,
            qty: 100,
            side: (i & 1) as u8,
        }
    }

    struct Stats {
        hist: Histogram<u64>,
        medians: Vec<f64>,
    }
    impl Stats {
        fn new() -> Self {
            Stats {
                hist: Histogram::new_with_bounds(1, 10_000_000_000, 3).unwrap(),
                medians: Vec::new(),
            }
        }
        fn round(&mut self, mut ns: Vec<u64>) {
            for &v in &ns {
                let _ = self.hist.record(v.max(1));
            }
            ns.sort_unstable();
            self.medians.push(ns[ns.len() / 2] as f64);
        }
    }

    async fn client(
        typed: SocketAddr,
        hand: SocketAddr,
        rounds: usize,
        n: u64,
        warm: u64,
    ) -> Result<(Stats, Stats), Error> {
        let s = TcpStream::connect(typed).await?;
        let mut tc = tcp::connect::<Client, Msg, _>(s, codec(), &tcp::Config::new())
            .await?
            .enter();
        let mut hs = TcpStream::connect(hand).await?;
        let mut hc = codec();
        let (mut rbuf, mut wbuf) = (BytesMut::with_capacity(4096), BytesMut::with_capacity(4096));
        let (mut ts, mut hst) = (Stats::new(), Stats::new());
        let mut id = 0u64;
        for r in 0..=rounds {
            let count = if r == 0 { warm } else { n };
            for which in [r % 2, 1 - r % 2] {
                let mut lat = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    id += 1;
                    let t0 = Instant::now();
                    if which == 0 {
                        let (e, c2) = tc.choose(ord::Order, order(id)).await?.recv().await?;
                        assert_eq!(e.id, id);
                        tc = c2.recurse();
                    } else {
                        hc.encode(0, Msg::Order(order(id)), &mut wbuf)?;
                        hs.send(wbuf.split().freeze()).await?;
                        match hand_recv(&mut hs, &mut hc, &mut rbuf).await? {
                            (0, Msg::Exec(e)) => assert_eq!(e.id, id),
                            (got, _) => {
                                return Err(Error::Violation {
                                    expected: "a report",
                                    got,
                                })
                            }
                        }
                    }
                    lat.push(t0.elapsed().as_nanos() as u64);
                }
                if r > 0 {
                    if which == 0 {
                        ts.round(lat)
                    } else {
                        hst.round(lat)
                    }
                }
            }
        }
        tc.choose(ord::Stop, ()).await?.close();
        hc.encode(1, Msg::__Unit, &mut wbuf)?;
        hs.send(wbuf.split().freeze()).await?;
        hs.close().await?;
        Ok((ts, hst))
    }

    fn median(v: &[f64]) -> f64 {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    pub fn main() {
        if let Err(why) = io::probe() {
            println!("session_tcp: skipped, io_uring unavailable: {why}");
            return;
        }
        let quick = std::env::var_os("SESSION_TCP_QUICK").is_some();
        let (rounds, n, warm) = if quick {
            (3, 200, 200)
        } else {
            (15, 2000, 5000)
        };
        let cpus = super::rings::cpu_pair();
        let mut b = Runtime::builder()
            .idle(Idle::Park)
            .io(io::Config::default());
        b = match cpus {
            Some((a, c)) => b.cores([a, c]),
            None => b.cores([0u32]).pin(false),
        };
        let rt = b.build().expect("runtime");
        let server_core = rt.cores() - 1;
        let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let typed = io::Server::builder(bind)
            .cores([server_core])
            .nodelay(true)
            .serve(&rt, |s| async move {
                let _ = typed_server(s).await;
            })
            .expect("typed server");
        let hand = io::Server::builder(bind)
            .cores([server_core])
            .nodelay(true)
            .serve(&rt, |s| async move {
                let _ = hand_server(s).await;
            })
            .expect("hand server");
        let (ta, ha) = (typed.local_addr(), hand.local_addr());
        let j = rt.spawn_on(0, Priority::Normal, async move {
            sched::spawn_local(Priority::Normal, client(ta, ha, rounds, n, warm))
                .await
                .expect("client task")
        });
        let (t, h) = rt.block_on(j).expect("client").expect("session");
        let (tm, hm) = (median(&t.medians), median(&h.medians));
        let spread = |v: &[f64]| {
            let lo = v.iter().cloned().fold(f64::MAX, f64::min);
            let hi = v.iter().cloned().fold(0.0, f64::max);
            (lo, hi)
        };
        println!("session_tcp: order -> report round trip over loopback, {rounds} rounds x {n} (server on core {server_core})");
        for (name, s, m) in [
            ("typed (session::tcp)", &t, tm),
            ("hand-framed (io::TcpStream)", &h, hm),
        ] {
            let (lo, hi) = spread(&s.medians);
            println!(
                "  {name:28} median of round medians {:8.2} us (rounds {:.2}..{:.2})  p50 {:.2}  p99 {:.2}  p99.9 {:.2} us",
                m / 1e3,
                lo / 1e3,
                hi / 1e3,
                s.hist.value_at_quantile(0.5) as f64 / 1e3,
                s.hist.value_at_quantile(0.99) as f64 / 1e3,
                s.hist.value_at_quantile(0.999) as f64 / 1e3,
            );
        }
        println!(
            "  typed / hand: median {:.3}x  p50 {:.3}x  p99 {:.3}x  p99.9 {:.3}x",
            tm / hm,
            t.hist.value_at_quantile(0.5) as f64 / h.hist.value_at_quantile(0.5) as f64,
            t.hist.value_at_quantile(0.99) as f64 / h.hist.value_at_quantile(0.99) as f64,
            t.hist.value_at_quantile(0.999) as f64 / h.hist.value_at_quantile(0.999) as f64,
        );
        drop((typed, hand));
    }
}
