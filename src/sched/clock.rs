//! A cheap clock for the scheduler's hot path: quanta, starvation checks
//! and the queueing-delay histograms read it once or twice per task.
//!
//! `Instant::now()` is a vDSO `clock_gettime`, 20-40 ns under KVM; the TSC
//! (`rdtsc`) is a few ns where the CPU advertises an invariant TSC
//! (`constant_tsc` and `nonstop_tsc`, the case on every x86_64 machine this
//! crate targets). Readings are converted to nanoseconds with a factor
//! calibrated once per process against `Instant` (about 2 ms, the first time
//! a runtime is built).
//!
//! This clock is for *measuring* (a quantum, a delay). Timers never use it:
//! a `Sleep` deadline is compared against `Instant` so a calibration error
//! can never make a sleep end early.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Ticks of the cheap clock (TSC cycles, or nanoseconds where there is no
/// usable TSC).
pub(crate) type Ticks = u64;

struct Calibration {
    /// Nanoseconds per tick, as a 32.32 fixed-point factor.
    ns_per_tick_fx: u64,
    /// Ticks per microsecond (rounded, at least 1).
    ticks_per_us: u64,
    use_tsc: bool,
    origin: Instant,
}

static CAL: OnceLock<Calibration> = OnceLock::new();

fn tsc_usable() -> bool {
    #[cfg(all(target_arch = "x86_64", not(corelane_loom)))]
    {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        info.contains("constant_tsc") && info.contains("nonstop_tsc")
    }
    #[cfg(not(all(target_arch = "x86_64", not(corelane_loom))))]
    false
}

#[inline]
fn raw_tsc() -> u64 {
    #[cfg(all(target_arch = "x86_64", not(corelane_loom)))]
    {
        // SAFETY: `rdtsc` has no preconditions on x86_64 (it is baseline);
        // it reads a counter and touches no memory.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(all(target_arch = "x86_64", not(corelane_loom))))]
    0
}

fn calibrate() -> Calibration {
    let origin = Instant::now();
    if !tsc_usable() {
        return Calibration {
            ns_per_tick_fx: 1 << 32,
            ticks_per_us: 1000,
            use_tsc: false,
            origin,
        };
    }
    // Two windows of ~1 ms; keep the one with the smallest overhead
    // (the `Instant` reads around the TSC reads bound the error).
    let mut best: Option<(u64, u64)> = None;
    for _ in 0..2 {
        let (i0, t0) = (Instant::now(), raw_tsc());
        while i0.elapsed() < Duration::from_millis(1) {
            std::hint::spin_loop();
        }
        let t1 = raw_tsc();
        let ns = i0.elapsed().as_nanos() as u64;
        let ticks = t1.wrapping_sub(t0);
        if ticks > 0 && best.is_none_or(|(bn, bt)| ns * bt < bn * ticks || bt == 0) {
            best = Some((ns, ticks));
        }
    }
    match best {
        Some((ns, ticks)) if ticks > ns / 16 => Calibration {
            ns_per_tick_fx: ((ns as u128) << 32).div_ceil(ticks as u128) as u64,
            ticks_per_us: (ticks * 1000 / ns.max(1)).max(1),
            use_tsc: true,
            origin,
        },
        _ => Calibration {
            ns_per_tick_fx: 1 << 32,
            ticks_per_us: 1000,
            use_tsc: false,
            origin,
        },
    }
}

fn cal() -> &'static Calibration {
    CAL.get_or_init(calibrate)
}

/// Calibrates now (the runtime builder calls this so no task pays for it).
pub(crate) fn init() {
    let _ = cal();
}

/// The current reading. Under loom time does not pass (as in
/// `sync::Futex::wait_timeout`): always 0, so a model's worker loop takes
/// the same path in every execution (its once-a-tick and once-a-millisecond
/// steps would otherwise depend on how long loom took to get there).
#[inline]
pub(crate) fn now() -> Ticks {
    if cfg!(corelane_loom) {
        return 0;
    }
    let c = cal();
    if c.use_tsc {
        raw_tsc()
    } else {
        c.origin.elapsed().as_nanos() as u64
    }
}

/// A duration in ticks (saturating).
pub(crate) fn from_duration(d: Duration) -> Ticks {
    let us = d.as_micros().min(u64::MAX as u128) as u64;
    let sub_us_ns = d.subsec_nanos() as u64 % 1000;
    us.saturating_mul(cal().ticks_per_us)
        .saturating_add(sub_us_ns * cal().ticks_per_us / 1000)
}

/// Ticks to nanoseconds.
#[inline]
pub(crate) fn to_nanos(t: Ticks) -> u64 {
    ((t as u128 * cal().ns_per_tick_fx as u128) >> 32).min(u64::MAX as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_track_instant() {
        init();
        let (i0, t0) = (Instant::now(), now());
        std::thread::sleep(Duration::from_millis(20));
        let ns = to_nanos(now() - t0) as f64;
        let real = i0.elapsed().as_nanos() as f64;
        assert!(
            (ns / real - 1.0).abs() < 0.05,
            "tsc {ns} ns vs Instant {real} ns"
        );
        let q = from_duration(Duration::from_micros(50));
        let back = to_nanos(q);
        assert!(
            (45_000..=55_000).contains(&back),
            "50us -> {q} ticks -> {back} ns"
        );
    }
}
