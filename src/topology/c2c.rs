//! Core-to-core latency: the round trip of one cache line between two
//! pinned threads, for a pair of CPUs or for every pair ([`matrix`]), and an
//! SVG heat map of the result ([`write_svg`]).
//!
//! The measurement: thread A (on CPU `a`) writes an odd sequence number to a
//! cache-line-sized cell and spins until thread B (on `b`) answers with the
//! next even number. One round trip moves the line to B and back, so it is
//! two cache-to-cache transfers; one-way latency is about half. Round trips
//! are timed in batches of [`BATCH`] so the clock read (about 20 ns) is
//! amortised, after an untimed warm-up.
//!
//! This is a measurement harness, not a synchronisation protocol: it uses
//! `std::sync::atomic` directly, not the crate's `sync` shim, because loom
//! model checking does not apply to timing code (and loom atomics cannot
//! run outside a model).

use std::fmt::{self, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use super::{pin_current_thread, CpuId, Error, Topology};

/// Round trips per timed sample.
pub const BATCH: usize = 100;

/// The statistics of one pair's round trips.
///
/// # Examples
///
/// ```
/// use corelane::topology::{allowed_cpus, c2c};
///
/// let cpus: Vec<_> = allowed_cpus()?.iter().take(2).collect();
/// if let [a, b] = cpus[..] {
///     let rt = c2c::round_trip(a, b, 10_000)?;
///     println!("{a}<->{b}: median {:?}, min {:?}", rt.median, rt.min);
/// }
/// # Ok::<(), corelane::topology::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct RoundTrip {
    /// The CPU that started each round trip.
    pub a: CpuId,
    /// The CPU that answered.
    pub b: CpuId,
    /// Timed round trips (a multiple of [`BATCH`]).
    pub rounds: usize,
    /// The fastest batch, per round trip.
    pub min: Duration,
    /// The median batch, per round trip: the figure to quote.
    pub median: Duration,
    /// The mean over all timed round trips.
    pub mean: Duration,
}

/// Measures the cache-line round trip between CPUs `a` and `b` with two
/// threads pinned there (spawned for the purpose; the calling thread is not
/// pinned). `rounds` is rounded up to a multiple of [`BATCH`]; a tenth more
/// (at most 10 000) are run untimed first.
///
/// Both threads spin; run nothing else on the two CPUs meanwhile.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `a == b` or `rounds == 0`; the pinning
/// errors of [`pin_current_thread`] (e.g. [`Error::NotAllowed`]);
/// [`Error::ThreadPanicked`].
///
/// # Examples
///
/// ```
/// use corelane::topology::{allowed_cpus, c2c, CpuId};
///
/// let allowed = allowed_cpus()?;
/// if allowed.len() >= 2 {
///     let mut it = allowed.iter();
///     let (a, b) = (it.next().unwrap(), it.next().unwrap());
///     let rt = c2c::round_trip(a, b, 1_000)?;
///     assert!(rt.min <= rt.median);
/// }
/// assert!(c2c::round_trip(CpuId::new(0), CpuId::new(0), 1_000).is_err());
/// # Ok::<(), corelane::topology::Error>(())
/// ```
pub fn round_trip(a: CpuId, b: CpuId, rounds: usize) -> Result<RoundTrip, Error> {
    if a == b {
        return Err(Error::InvalidArgument {
            reason: format!("round trip from {a} to itself"),
        });
    }
    if rounds == 0 {
        return Err(Error::InvalidArgument {
            reason: "zero rounds".to_owned(),
        });
    }
    let batches = rounds.div_ceil(BATCH);
    let warmup = (batches * BATCH / 10).clamp(BATCH, 10_000);
    let line = CachePadded::new(AtomicU64::new(0));
    let failed = AtomicBool::new(false);
    let start = Barrier::new(2);
    let ctx = PingPong {
        line: &line,
        failed: &failed,
        start: &start,
        warmup,
        batches,
    };
    let samples = std::thread::scope(|s| {
        let answerer = s.spawn(|| ctx.answer(b));
        let initiator = s.spawn(|| ctx.initiate(a));
        let answered = answerer.join().map_err(|_| Error::ThreadPanicked)?;
        let samples = initiator.join().map_err(|_| Error::ThreadPanicked)?;
        answered.and(samples)
    })?;
    Ok(stats(a, b, samples))
}

/// The state the two threads share.
#[derive(Clone, Copy)]
struct PingPong<'a> {
    /// Odd values: A's pings; even values: B's answers.
    line: &'a CachePadded<AtomicU64>,
    /// Set by a thread that could not pin, read by both after `start`.
    failed: &'a AtomicBool,
    start: &'a Barrier,
    warmup: usize,
    batches: usize,
}

impl PingPong<'_> {
    /// Pins, then meets the other thread; `Ok(false)`: the other failed.
    fn pin_and_meet(&self, cpu: CpuId) -> Result<bool, Error> {
        let pinned = pin_current_thread(cpu);
        if pinned.is_err() {
            // Relaxed: the barrier below orders it before the other's load.
            self.failed.store(true, Ordering::Relaxed);
        }
        self.start.wait();
        pinned?;
        Ok(!self.failed.load(Ordering::Relaxed))
    }

    /// A: pings, waits for the answer; returns per-batch durations.
    fn initiate(&self, cpu: CpuId) -> Result<Vec<Duration>, Error> {
        if !self.pin_and_meet(cpu)? {
            return Ok(Vec::new());
        }
        let mut seq = 0u64;
        let round = |seq: &mut u64| {
            // Release/Acquire with B's answer: plain hand-off of the line.
            self.line.store(*seq + 1, Ordering::Release);
            while self.line.load(Ordering::Acquire) != *seq + 2 {
                std::hint::spin_loop();
            }
            *seq += 2;
        };
        (0..self.warmup).for_each(|_| round(&mut seq));
        let mut samples = Vec::with_capacity(self.batches);
        for _ in 0..self.batches {
            let t0 = Instant::now();
            (0..BATCH).for_each(|_| round(&mut seq));
            samples.push(t0.elapsed());
        }
        Ok(samples)
    }

    /// B: waits for each ping and answers it.
    fn answer(&self, cpu: CpuId) -> Result<(), Error> {
        if !self.pin_and_meet(cpu)? {
            return Ok(());
        }
        let total = (self.warmup + self.batches * BATCH) as u64;
        for i in 0..total {
            // Acquire/Release with A's ping (see `initiate`): a plain
            // hand-off of the line, which is all the measurement needs.
            while self.line.load(Ordering::Acquire) != 2 * i + 1 {
                std::hint::spin_loop();
            }
            self.line.store(2 * i + 2, Ordering::Release);
        }
        Ok(())
    }
}

fn stats(a: CpuId, b: CpuId, mut samples: Vec<Duration>) -> RoundTrip {
    samples.sort_unstable();
    let per = |d: Duration| d / BATCH as u32;
    let total: Duration = samples.iter().sum();
    let rounds = samples.len() * BATCH;
    RoundTrip {
        a,
        b,
        rounds,
        min: samples.first().copied().map_or(Duration::ZERO, per),
        median: samples
            .get(samples.len() / 2)
            .copied()
            .map_or(Duration::ZERO, per),
        mean: match rounds {
            0 => Duration::ZERO,
            r => Duration::from_nanos(
                u64::try_from(total.as_nanos() / r as u128).unwrap_or(u64::MAX),
            ),
        },
    }
}

/// Round trips between every pair of a set of CPUs. Symmetric: the pair is
/// measured once and shows in both cells.
///
/// # Examples
///
/// ```
/// use corelane::topology::{c2c, Topology};
///
/// let topo = Topology::detect()?;
/// let m = c2c::matrix(&topo, 1_000)?;
/// println!("{m}");
/// for rt in m.pairs() {
///     println!("{} {} {:?}", rt.a, rt.b, rt.median);
/// }
/// # Ok::<(), corelane::topology::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Matrix {
    cpus: Vec<CpuId>,
    /// Row-major, `cpus.len()` squared; the diagonal is `None`.
    cells: Vec<Option<RoundTrip>>,
}

/// Measures [`round_trip`] for every pair of the topology's allowed CPUs
/// (n·(n−1)/2 pairs; one pair on a 2-CPU machine, none on a 1-CPU machine).
/// Isolated CPUs are included if they are in the allowed set.
///
/// # Errors
///
/// As [`round_trip`]; in particular [`Error::NotAllowed`] for a topology
/// that is not this machine's (a fixture).
///
/// # Examples
///
/// ```
/// use corelane::topology::{c2c, Topology};
///
/// let m = c2c::matrix(&Topology::detect()?, 1_000)?;
/// assert_eq!(m.pairs().count(), m.cpus().len() * m.cpus().len().saturating_sub(1) / 2);
/// # Ok::<(), corelane::topology::Error>(())
/// ```
pub fn matrix(topology: &Topology, rounds: usize) -> Result<Matrix, Error> {
    let cpus: Vec<CpuId> = topology.allowed().iter().collect();
    matrix_of(&cpus, rounds)
}

/// Measures [`round_trip`] for every pair of `cpus` (duplicates ignored).
///
/// # Errors
///
/// As [`round_trip`].
///
/// # Examples
///
/// ```
/// use corelane::topology::{allowed_cpus, c2c};
///
/// let cpus: Vec<_> = allowed_cpus()?.iter().take(3).collect();
/// let m = c2c::matrix_of(&cpus, 1_000)?;
/// assert_eq!(m.cpus().len(), cpus.len());
/// # Ok::<(), corelane::topology::Error>(())
/// ```
pub fn matrix_of(cpus: &[CpuId], rounds: usize) -> Result<Matrix, Error> {
    let mut cpus = cpus.to_vec();
    cpus.sort_unstable();
    cpus.dedup();
    let n = cpus.len();
    let mut cells = vec![None; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let rt = round_trip(cpus[i], cpus[j], rounds)?;
            cells[i * n + j] = Some(rt);
            cells[j * n + i] = Some(rt);
        }
    }
    Ok(Matrix { cpus, cells })
}

impl Matrix {
    /// The CPUs of the rows and columns, ascending.
    ///
    /// # Examples
    ///
    /// ```
    /// # use corelane::topology::c2c;
    /// let m = c2c::matrix_of(&[], 1_000)?;
    /// assert!(m.cpus().is_empty());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn cpus(&self) -> &[CpuId] {
        &self.cpus
    }

    /// The measurement between `a` and `b` (either order); `None` on the
    /// diagonal or for a CPU not in the matrix.
    ///
    /// # Examples
    ///
    /// ```
    /// # use corelane::topology::{c2c, CpuId};
    /// let m = c2c::matrix_of(&[], 1_000)?;
    /// assert!(m.get(CpuId::new(0), CpuId::new(1)).is_none());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn get(&self, a: CpuId, b: CpuId) -> Option<&RoundTrip> {
        let i = self.cpus.binary_search(&a).ok()?;
        let j = self.cpus.binary_search(&b).ok()?;
        self.cells[i * self.cpus.len() + j].as_ref()
    }

    /// Every measured pair once (`a < b`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use corelane::topology::c2c;
    /// let m = c2c::matrix_of(&[], 1_000)?;
    /// assert_eq!(m.pairs().count(), 0);
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn pairs(&self) -> impl Iterator<Item = &RoundTrip> + '_ {
        let n = self.cpus.len();
        (0..n).flat_map(move |i| (i + 1..n).filter_map(move |j| self.cells[i * n + j].as_ref()))
    }

    /// The smallest and largest median over all pairs, if any pair.
    ///
    /// # Examples
    ///
    /// ```
    /// # use corelane::topology::c2c;
    /// let m = c2c::matrix_of(&[], 1_000)?;
    /// assert_eq!(m.median_range(), None);
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn median_range(&self) -> Option<(Duration, Duration)> {
        let lo = self.pairs().map(|r| r.median).min()?;
        let hi = self.pairs().map(|r| r.median).max()?;
        Some((lo, hi))
    }
}

impl fmt::Display for Matrix {
    /// A table of median round trips in nanoseconds, `-` on the diagonal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .cpus
            .iter()
            .map(|c| c.get().to_string().len())
            .max()
            .unwrap_or(1)
            .max(5)
            + 1;
        write!(f, "{:>width$}", "ns")?;
        for c in &self.cpus {
            write!(f, "{:>width$}", c.get())?;
        }
        for (i, a) in self.cpus.iter().enumerate() {
            write!(f, "\n{:>width$}", a.get())?;
            for j in 0..self.cpus.len() {
                match &self.cells[i * self.cpus.len() + j] {
                    Some(rt) => write!(f, "{:>width$}", rt.median.as_nanos())?,
                    None => write!(f, "{:>width$}", "-")?,
                }
            }
        }
        Ok(())
    }
}

/// Writes `matrix` as an SVG heat map (median round trip per pair, green
/// fastest to red slowest, values in the cells) to `path`.
///
/// # Errors
///
/// [`Error::Write`] naming `path` if it cannot be written.
///
/// # Examples
///
/// ```
/// use corelane::topology::{c2c, Topology};
///
/// let m = c2c::matrix(&Topology::detect()?, 1_000)?;
/// let path = std::env::temp_dir().join("corelane-c2c-doctest.svg");
/// c2c::write_svg(&m, &path)?;
/// assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), corelane::topology::Error>(())
/// ```
pub fn write_svg(matrix: &Matrix, path: impl AsRef<Path>) -> Result<(), Error> {
    let path = path.as_ref();
    std::fs::write(path, to_svg(matrix)).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

/// Cell edge in pixels.
const CELL: usize = 44;
/// Room for the title and axis labels.
const MARGIN: usize = 60;

/// The SVG text that [`write_svg`] writes.
///
/// # Examples
///
/// ```
/// # use corelane::topology::c2c;
/// let svg = c2c::to_svg(&c2c::matrix_of(&[], 1_000)?);
/// assert!(svg.ends_with("</svg>\n"));
/// # Ok::<(), corelane::topology::Error>(())
/// ```
pub fn to_svg(matrix: &Matrix) -> String {
    let n = matrix.cpus.len();
    let side = MARGIN + n * CELL + 10;
    let (lo, hi) = matrix.median_range().unwrap_or_default();
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{side}\" height=\"{h}\" \
         font-family=\"monospace\" font-size=\"11\">",
        h = side + 30
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{MARGIN}\" y=\"18\" font-size=\"13\">core-to-core round trip, median ns \
         ({} .. {} ns)</text>",
        lo.as_nanos(),
        hi.as_nanos()
    );
    for (i, cpu) in matrix.cpus.iter().enumerate() {
        let pos = MARGIN + i * CELL + CELL / 2;
        let _ = writeln!(
            s,
            "<text x=\"{pos}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            MARGIN - 8,
            cpu.get()
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            MARGIN - 8,
            pos + 4,
            cpu.get()
        );
    }
    for i in 0..n {
        for j in 0..n {
            svg_cell(
                &mut s,
                i,
                j,
                matrix.cells[i * n + j].map(|rt| rt.median),
                (lo, hi),
            );
        }
    }
    let _ = writeln!(
        s,
        "<text x=\"{MARGIN}\" y=\"{}\">rows/columns: CPU ids; green fastest, red slowest</text>",
        side + 20
    );
    s.push_str("</svg>\n");
    s
}

fn svg_cell(
    s: &mut String,
    i: usize,
    j: usize,
    value: Option<Duration>,
    (lo, hi): (Duration, Duration),
) {
    let (x, y) = (MARGIN + j * CELL, MARGIN + i * CELL);
    let (fill, label) = match value {
        None => ("#dddddd".to_owned(), "-".to_owned()),
        Some(v) => {
            let span = hi.saturating_sub(lo).as_nanos().max(1) as f64;
            let t = v.saturating_sub(lo).as_nanos() as f64 / span;
            (heat(t), v.as_nanos().to_string())
        }
    };
    let _ = writeln!(
        s,
        "<rect x=\"{x}\" y=\"{y}\" width=\"{CELL}\" height=\"{CELL}\" fill=\"{fill}\" stroke=\"white\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
        x + CELL / 2,
        y + CELL / 2 + 4
    );
}

/// Green (t = 0) through yellow to red (t = 1).
fn heat(t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    let (r, g) = if t < 0.5 {
        (510.0 * t, 200.0)
    } else {
        (255.0, 200.0 * (2.0 - 2.0 * t))
    };
    format!("#{:02x}{:02x}50", r as u8, g as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(a: u32, b: u32, ns: u64) -> RoundTrip {
        let d = Duration::from_nanos(ns);
        RoundTrip {
            a: CpuId::new(a),
            b: CpuId::new(b),
            rounds: BATCH,
            min: d,
            median: d,
            mean: d,
        }
    }

    #[test]
    fn svg_and_table_of_a_synthetic_matrix() {
        let cpus = vec![CpuId::new(0), CpuId::new(1), CpuId::new(5)];
        let mut cells = vec![None; 9];
        for (i, j, ns) in [(0, 1, 40), (0, 2, 180), (1, 2, 90)] {
            cells[i * 3 + j] = Some(fake(cpus[i].get(), cpus[j].get(), ns));
            cells[j * 3 + i] = cells[i * 3 + j];
        }
        let m = Matrix { cpus, cells };
        assert_eq!(
            m.median_range(),
            Some((Duration::from_nanos(40), Duration::from_nanos(180)))
        );
        assert_eq!(
            m.get(CpuId::new(5), CpuId::new(0))
                .map(|r| r.median.as_nanos()),
            Some(180)
        );
        let svg = to_svg(&m);
        assert_eq!(svg.matches("<rect x=").count(), 9);
        assert!(svg.contains(">180<") && svg.contains("#00c850") && svg.contains("#ff0050"));
        let table = m.to_string();
        assert_eq!(table.lines().count(), 4);
        assert!(table.lines().nth(3).unwrap().trim_end().ends_with('-'));
    }

    #[test]
    fn stats_are_per_round_trip() {
        let samples = vec![
            Duration::from_micros(5),
            Duration::from_micros(3),
            Duration::from_micros(4),
        ];
        let rt = stats(CpuId::new(0), CpuId::new(1), samples);
        assert_eq!(rt.rounds, 3 * BATCH);
        assert_eq!(rt.min, Duration::from_nanos(30));
        assert_eq!(rt.median, Duration::from_nanos(40));
        assert_eq!(rt.mean, Duration::from_nanos(40));
    }
}
