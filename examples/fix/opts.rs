//! `fix_session`'s flags, the run they ask for, and the printed report.

use std::sync::mpsc;
use std::time::Duration;

use super::app::{Plan, Trader, Venue};
use super::engine::Report;
use super::msg::CompId;
use super::run::{self, Done};
use super::state::{Config, Outcome};

const USAGE: &str = "usage: fix_session [--acceptor | --initiator] [--in-process] [--port N] \
    [--sender-comp-id ID] [--target-comp-id ID] [--heartbeat SECS] [--orders N] [--window N] \
    [--idle SECS] [--skip-seq K] [--quick] [--once] [--cpus a,b] [--no-pin] [--deadline SECS]";

/// Which sides run in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Both, on two cores.
    Both,
    /// The acceptor only.
    Acceptor,
    /// The initiator only.
    Initiator,
}

/// The flags.
#[derive(Debug)]
pub struct Opts {
    role: Role,
    in_process: bool,
    port: Option<u16>,
    sender: Option<String>,
    target: Option<String>,
    heartbeat: u32,
    orders: u64,
    window: usize,
    idle: f64,
    skip_seq: Option<u64>,
    quick: bool,
    once: bool,
    cpus: Option<Vec<u32>>,
    pin: bool,
    deadline: u64,
}

fn num<T: std::str::FromStr>(s: &str, flag: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{flag}: not a number: {s:?}"))
}

/// Reads the command line.
pub fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        role: Role::Both,
        in_process: false,
        port: None,
        sender: None,
        target: None,
        heartbeat: 30,
        orders: 100_000,
        window: 64,
        idle: 0.0,
        skip_seq: None,
        quick: false,
        once: false,
        cpus: None,
        pin: true,
        deadline: 600,
    };
    let (mut hb, mut orders, mut window, mut idle, mut deadline) = (None, None, None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--acceptor" => o.role = Role::Acceptor,
            "--initiator" => o.role = Role::Initiator,
            "--in-process" => o.in_process = true,
            "--port" => o.port = Some(num(&value()?, "--port")?),
            "--sender-comp-id" => o.sender = Some(value()?),
            "--target-comp-id" => o.target = Some(value()?),
            "--heartbeat" => hb = Some(num(&value()?, "--heartbeat")?),
            "--orders" => orders = Some(num(&value()?, "--orders")?),
            "--window" => window = Some(num(&value()?, "--window")?),
            "--idle" => idle = Some(num(&value()?, "--idle")?),
            "--skip-seq" => o.skip_seq = Some(num(&value()?, "--skip-seq")?),
            "--quick" => o.quick = true,
            "--once" => o.once = true,
            "--no-pin" => o.pin = false,
            "--deadline" => deadline = Some(num(&value()?, "--deadline")?),
            "--cpus" => {
                let v = value()?;
                let cpus = v
                    .split(',')
                    .map(|c| num(c.trim(), "--cpus"))
                    .collect::<Result<_, _>>()?;
                o.cpus = Some(cpus);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if o.in_process && o.role != Role::Both {
        return Err("--in-process runs both sides: drop --acceptor / --initiator".into());
    }
    if o.quick {
        (o.heartbeat, o.orders, o.window, o.idle, o.deadline) = (1, 2000, 32, 1.5, 60);
        if o.role == Role::Both && o.skip_seq.is_none() {
            o.skip_seq = Some(500);
        }
    }
    o.heartbeat = hb.unwrap_or(o.heartbeat);
    o.orders = orders.unwrap_or(o.orders);
    o.window = window.unwrap_or(o.window);
    o.idle = idle.unwrap_or(o.idle);
    o.deadline = deadline.unwrap_or(o.deadline);
    if o.heartbeat == 0 || !(0.0..=3600.0).contains(&o.idle) {
        return Err("--heartbeat must be at least 1, --idle within 0..=3600".into());
    }
    Ok(o)
}

fn comp_id(s: &str) -> Result<CompId, String> {
    CompId::new(s.as_bytes()).ok_or(format!("CompID {s:?}: at most 32 printable ASCII bytes"))
}

impl Opts {
    /// (initiator's, acceptor's) config.
    fn configs(&self) -> Result<(Config, Config), String> {
        let (s, t) = match self.role {
            Role::Acceptor => ("CORELANE", "CLIENT"),
            _ => ("CLIENT", "CORELANE"),
        };
        let ours = comp_id(self.sender.as_deref().unwrap_or(s))?;
        let theirs = comp_id(self.target.as_deref().unwrap_or(t))?;
        let (mut i, a) = match self.role {
            Role::Acceptor => (Config::new(theirs, ours), Config::new(ours, theirs)),
            _ => (Config::new(ours, theirs), Config::new(theirs, ours)),
        };
        i.heartbeat = self.heartbeat;
        i.skip_out = self.skip_seq.map(|k| (k + 1, 3));
        Ok((i, a))
    }

    fn plan(&self) -> Plan {
        Plan {
            idle: Duration::from_secs_f64(self.idle),
            echo_timeout: Duration::from_secs(u64::from(self.heartbeat) * 3 + 5),
        }
    }

    fn cpus(&self) -> Vec<u32> {
        match (&self.cpus, self.role) {
            (Some(c), _) if !c.is_empty() => c.clone(),
            (_, Role::Both) => vec![0, 1],
            (_, Role::Acceptor) => vec![1],
            (_, Role::Initiator) => vec![0],
        }
    }
}

/// Runs what the flags ask for; `Ok(false)` if a check failed.
pub fn run(o: &Opts) -> Result<bool, String> {
    let (icfg, acfg) = o.configs()?;
    if !o.in_process {
        if let Err(why) = corelane::io::probe() {
            eprintln!("fix_session: skipped: io_uring unavailable here: {why} (try --in-process)");
            std::process::exit(77);
        }
    }
    let mut cpus = o.cpus();
    if o.role == Role::Both && cpus.len() < 2 {
        cpus.push(cpus[0]);
    }
    let rt = run::runtime(&cpus, o.pin)?;
    let (out, done) = mpsc::channel();
    let trader = Trader::new(o.orders, o.window);
    let port = o
        .port
        .unwrap_or(if o.role == Role::Both { 0 } else { 9878 });
    let transport = if o.in_process { "rings" } else { "tcp" };
    let mut expect = 0;
    match o.role {
        Role::Both if o.in_process => {
            run::rings(&rt, icfg, acfg, trader, o.plan(), out);
            expect = 2;
        }
        Role::Both => {
            let addr = run::serve(&rt, 1, port, (acfg, true), out.clone())?;
            run::connect(
                &rt,
                0,
                addr,
                Duration::from_secs(5),
                (icfg, trader, o.plan()),
                out,
            );
            expect = 2;
        }
        Role::Acceptor => {
            let addr = run::serve(&rt, 0, port, (acfg, o.once), out)?;
            println!("fix_session acceptor listening on {addr}");
            if o.once {
                expect = 1;
            }
        }
        Role::Initiator => {
            let addr = ([127, 0, 0, 1], port).into();
            run::connect(
                &rt,
                0,
                addr,
                Duration::from_secs(10),
                (icfg, trader, o.plan()),
                out,
            );
            expect = 1;
        }
    }
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("fix_session: transport={transport} build={build} (figures are one unmeasured run, not results)");
    let deadline = std::time::Instant::now() + Duration::from_secs(o.deadline);
    let mut ok = true;
    let mut seen = 0;
    while expect == 0 || seen < expect {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(d) = done.recv_timeout(left) else {
            eprintln!("fix_session: the deadline ({} s) passed", o.deadline);
            return Ok(false);
        };
        seen += 1;
        ok &= match d {
            Done::Initiator(r) => initiator(*r?, o),
            Done::Acceptor(r) => acceptor(*r?),
        };
    }
    let _ = rt.shutdown(Duration::from_secs(2));
    Ok(ok)
}

fn initiator(r: Report<Trader>, o: &Opts) -> bool {
    let (t, s) = (&r.app, &r.stats);
    let q = |p| t.latency.value_at_quantile(p) as f64 / 1000.0;
    println!(
        "fix_session initiator: outcome={} orders={} completed={} rejected={} reports={} errors={} \
         orders/s={:.0} order->report latency p50={:.1}us p99={:.1}us",
        r.outcome,
        t.sent,
        t.completed,
        t.rejected,
        t.reports,
        t.errors,
        t.rate(),
        q(0.5),
        q(0.99),
    );
    print_stats("initiator", s);
    let mut fails = Vec::new();
    if r.outcome != Outcome::LoggedOut {
        fails.push(format!("the session ended with {}", r.outcome));
    }
    if t.completed != o.orders {
        fails.push(format!("{} of {} orders completed", t.completed, o.orders));
    }
    if let Some(e) = &t.first_error {
        fails.push(format!("{} bad reports, the first: {e}", t.errors));
    }
    if !t.test_echoed {
        fails.push("our TestRequest was not answered".into());
    }
    if o.idle > f64::from(o.heartbeat) + 0.2 && s.heartbeats_in == 0 {
        fails.push("no Heartbeat came while idle".into());
    }
    if o.skip_seq.is_some_and(|k| k < o.orders) && s.resend_requests_in == 0 {
        fails.push("the forced gap brought no ResendRequest".into());
    }
    for f in &fails {
        eprintln!("fix_session initiator: FAIL: {f}");
    }
    fails.is_empty() || !o.quick
}

fn acceptor(r: Report<Venue>) -> bool {
    println!(
        "fix_session acceptor: outcome={} orders={} reports={}",
        r.outcome, r.app.orders, r.app.reports
    );
    print_stats("acceptor", &r.stats);
    let ok = r.outcome == Outcome::LoggedOut;
    if !ok {
        eprintln!(
            "fix_session acceptor: FAIL: the session ended with {}",
            r.outcome
        );
    }
    ok
}

fn print_stats(who: &str, s: &super::state::Stats) {
    println!(
        "fix_session {who}: msgs in/out={}/{} heartbeats={}/{} test_requests={}/{} \
         resend_requests={}/{} gap_fills={}/{} resent_out={} dups_ignored={} gap_ignored={} rejects={}/{}",
        s.msgs_in,
        s.msgs_out,
        s.heartbeats_in,
        s.heartbeats_out,
        s.test_requests_in,
        s.test_requests_out,
        s.resend_requests_in,
        s.resend_requests_out,
        s.gap_fills_in,
        s.gap_fills_out,
        s.resent,
        s.dups_ignored,
        s.gap_ignored,
        s.rejects_in,
        s.rejects_out,
    );
}
