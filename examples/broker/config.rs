//! The broker's settings and their command-line flags (shared by both
//! implementations, the load generator that starts them, and the test).

#![allow(dead_code)] // each binary that includes this uses a different part

use std::time::Duration;

/// One topic's counters, as both brokers report them (`--stats-every`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TopicStats {
    pub topic: u16,
    /// Publishes accepted (a known topic).
    pub msgs_in: u64,
    /// Messages handed to subscribers' sends.
    pub msgs_out: u64,
    /// Publishes that reached nobody, plus messages skipped by lag.
    pub drops: u64,
    /// Times a drop-policy subscriber was lapped (GAP frames sent).
    pub lagged: u64,
    /// Subscriptions now.
    pub subscribers: u64,
}

/// How a broker runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Port on 127.0.0.1 (0: any free port, printed in the banner).
    pub port: u16,
    /// Topics `0..topics`.
    pub topics: u16,
    /// Slots per topic ring (a power of two; tokio's broadcast capacity).
    pub ring: usize,
    /// Heartbeat interval: the broker sends one when it sent nothing for
    /// this long, and expects to hear from every peer as often.
    pub heartbeat: Duration,
    /// Intervals of silence (nothing received), or of a send not taken,
    /// after which the broker disconnects the peer.
    pub missed: u32,
    /// Largest frame accepted (the length word's limit, kind included).
    pub max_frame: u32,
    /// CPUs to run on, one broker thread (core) each.
    pub cpus: Vec<u32>,
    /// Print stats this often (`--stats-every SECS`).
    pub stats_every: Option<Duration>,
    /// Exit after this long (`--for SECS`); `None`: run until killed.
    pub run_for: Option<Duration>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            port: 7100,
            topics: 16,
            ring: 4096,
            heartbeat: Duration::from_millis(1000),
            missed: 3,
            max_frame: 64 * 1024,
            cpus: vec![1],
            stats_every: None,
            run_for: None,
        }
    }
}

/// The flags [`Config::parse`] knows, for `--help`.
pub const USAGE: &str = "\
  --impl corelane|tokio   which broker (default corelane)
  --port P                port on 127.0.0.1 (default 7100; 0 = any)
  --topics N              topics 0..N (default 16)
  --ring SLOTS            slots per topic ring, a power of two (default 4096)
  --heartbeat-ms MS       heartbeat interval (default 1000)
  --missed N              silent intervals before a disconnect (default 3)
  --max-frame BYTES       largest frame accepted (default 65536)
  --cpus 1[,2..]          CPUs to run on, one thread each (default 1)
  --stats-every SECS      print stats every SECS seconds
  --for SECS              exit after SECS seconds";

impl Config {
    /// Parses the flags in `args` (the implementation name is returned
    /// separately).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<(String, Config), String> {
        let mut c = Config::default();
        let mut imp = "corelane".to_string();
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            if flag == "--help" || flag == "-h" {
                return Err(USAGE.to_string());
            }
            let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let num = |v: &str| -> Result<u64, String> {
                v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"))
            };
            match flag.as_str() {
                "--impl" => imp = v,
                "--port" => c.port = num(&v)?.try_into().map_err(|_| "port too big")?,
                "--topics" => {
                    c.topics = num(&v)?.try_into().map_err(|_| "at most 65535 topics")?;
                    if c.topics == 0 {
                        return Err("--topics must be at least 1".into());
                    }
                }
                "--ring" => {
                    c.ring = num(&v)? as usize;
                    if !c.ring.is_power_of_two() || c.ring < 2 {
                        return Err("--ring must be a power of two, at least 2".into());
                    }
                }
                "--heartbeat-ms" => c.heartbeat = Duration::from_millis(num(&v)?.max(1)),
                "--missed" => c.missed = num(&v)?.clamp(1, 1000) as u32,
                "--max-frame" => {
                    c.max_frame = num(&v)?.clamp(16, 1 << 30) as u32;
                }
                "--cpus" => {
                    c.cpus = v
                        .split(',')
                        .map(|s| {
                            s.trim()
                                .parse::<u32>()
                                .map_err(|e| format!("--cpus {s}: {e}"))
                        })
                        .collect::<Result<_, _>>()?;
                    if c.cpus.is_empty() {
                        return Err("--cpus needs at least one CPU".into());
                    }
                }
                "--stats-every" => c.stats_every = Some(Duration::from_secs(num(&v)?.max(1))),
                "--for" => c.run_for = Some(Duration::from_secs(num(&v)?)),
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        Ok((imp, c))
    }
}
