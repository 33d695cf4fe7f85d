//! Affinity masks and pinning: the only code in corelane that calls
//! `sched_getaffinity`, `sched_setaffinity` and `sched_getcpu`.
//!
//! Ground rule: the *process* allowed set is the mask of the main thread
//! (`sched_getaffinity(getpid())`, not of the calling thread, which may
//! already be pinned: a thread spawned by a pinned thread inherits its
//! one-CPU mask). It is read once, at the first call that needs it, and
//! kept; call [`allowed_cpus`] (or `Topology::detect`) early in `main`,
//! before anything pins the main thread.

use std::io;
use std::sync::OnceLock;

use super::{CpuId, CpuSet, Error};

/// Mask size we start with (bits); doubled while the kernel says EINVAL.
const FIRST_MASK_BITS: usize = 1024;
/// Give up doubling beyond this (bits): far above any kernel's `nr_cpu_ids`.
const MAX_MASK_BITS: usize = 1 << 16;
/// How many times `pin_current_thread` yields while waiting for the
/// migration to be observable before it reports `PinNotEffective`.
const PIN_CHECKS: usize = 16;

static PROCESS_MASK: OnceLock<CpuSet> = OnceLock::new();

/// Reads the affinity mask of thread `tid` (0: the calling thread).
pub(crate) fn get_affinity(tid: libc::pid_t) -> Result<CpuSet, Error> {
    let mut bits = FIRST_MASK_BITS;
    loop {
        let mut words = vec![0u64; bits / 64];
        let bytes = words.len() * 8;
        // glibc passes the size through, so a buffer larger than
        // `cpu_set_t` is fine.
        // SAFETY: `words` is a live, writable buffer of exactly `bytes`
        // bytes; the kernel writes at most `bytes` bytes into it.
        let rc = unsafe { libc::sched_getaffinity(tid, bytes, words.as_mut_ptr().cast()) };
        if rc == 0 {
            return Ok(CpuSet::from_words(words));
        }
        let err = Error::syscall("sched_getaffinity");
        match &err {
            Error::Syscall { source, .. } if is_einval(source) && bits < MAX_MASK_BITS => bits *= 2,
            _ => return Err(err),
        }
    }
}

/// Sets the calling thread's affinity mask.
fn set_current_affinity(set: &CpuSet) -> Result<(), Error> {
    let mut words = set.words().to_vec();
    // The kernel wants whole `unsigned long`s and at least one of them.
    words.resize(words.len().max(FIRST_MASK_BITS / 64), 0);
    let bytes = words.len() * 8;
    // SAFETY: `words` is a live buffer of exactly `bytes` bytes that the
    // kernel only reads; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, bytes, words.as_ptr().cast()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::syscall("sched_setaffinity"))
    }
}

fn is_einval(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINVAL)
}

/// The CPU the calling thread runs on right now (`sched_getcpu`), or `None`
/// where the kernel cannot tell.
///
/// Unless the thread is pinned, the answer may be stale by the time it is
/// returned.
///
/// # Examples
///
/// ```
/// use corelane::topology;
///
/// if let Some(cpu) = topology::current_cpu() {
///     println!("running on {cpu}");
/// }
/// ```
pub fn current_cpu() -> Option<CpuId> {
    // SAFETY: sched_getcpu takes no arguments and touches no memory of ours.
    let n = unsafe { libc::sched_getcpu() };
    u32::try_from(n).ok().map(CpuId::new)
}

/// The CPUs this process may run on: the affinity mask of the main thread
/// (taskset, cgroup cpuset), read once at the first call and kept.
///
/// Reading the main thread's mask rather than the caller's means a thread
/// that is already pinned (or was spawned by a pinned thread) still sees the
/// whole process set. If the main thread itself is pinned before the first
/// call, its one-CPU mask is what this returns: call this, or
/// [`Topology::detect`](super::Topology::detect), early in `main`.
///
/// # Errors
///
/// [`Error::Syscall`] if `sched_getaffinity` fails.
///
/// # Examples
///
/// ```
/// let allowed = corelane::topology::allowed_cpus()?;
/// assert!(!allowed.is_empty());
/// # Ok::<(), corelane::topology::Error>(())
/// ```
pub fn allowed_cpus() -> Result<CpuSet, Error> {
    if let Some(set) = PROCESS_MASK.get() {
        return Ok(set.clone());
    }
    // The main thread's tid is the pid; fits pid_t by construction.
    let pid = std::process::id() as libc::pid_t;
    let set = get_affinity(pid)?;
    Ok(PROCESS_MASK.get_or_init(|| set).clone())
}

/// The calling thread's own affinity mask (what `taskset -p` shows for it).
///
/// # Errors
///
/// [`Error::Syscall`] if `sched_getaffinity` fails.
///
/// # Examples
///
/// ```
/// let mine = corelane::topology::thread_affinity()?;
/// assert!(!mine.is_empty());
/// # Ok::<(), corelane::topology::Error>(())
/// ```
pub fn thread_affinity() -> Result<CpuSet, Error> {
    get_affinity(0)
}

/// Pins the calling thread to `cpu` and checks that the pin took: the mask
/// read back is exactly `{cpu}` and `sched_getcpu` reports `cpu`.
///
/// `cpu` must be in the process' [`allowed_cpus`]; a thread spawned by a
/// pinned thread may still be pinned anywhere in that set.
///
/// # Errors
///
/// * [`Error::NotAllowed`] if `cpu` is outside the process' allowed set
///   (nothing is changed then);
/// * [`Error::Syscall`] if `sched_setaffinity` refuses (e.g. the CPU went
///   offline);
/// * [`Error::PinNotEffective`] if the thread does not end up on `cpu`.
///
/// # Examples
///
/// ```
/// use corelane::topology;
///
/// let cpu = topology::allowed_cpus()?.first().expect("at least one CPU");
/// std::thread::spawn(move || {
///     topology::pin_current_thread(cpu)?;
///     assert_eq!(topology::current_cpu(), Some(cpu));
///     Ok::<(), topology::Error>(())
/// })
/// .join()
/// .unwrap()?;
/// # Ok::<(), topology::Error>(())
/// ```
pub fn pin_current_thread(cpu: CpuId) -> Result<(), Error> {
    let allowed = allowed_cpus()?;
    if !allowed.contains(cpu) {
        return Err(Error::NotAllowed { cpu, allowed });
    }
    let target: CpuSet = [cpu].into_iter().collect();
    set_current_affinity(&target)?;
    verify_pin(cpu, &target)
}

/// The kernel migrates the thread before `sched_setaffinity` returns, so the
/// first check normally passes; a few yields cover a CPU going offline and
/// back or a hypervisor that is slow to report.
#[cold]
fn verify_pin(cpu: CpuId, target: &CpuSet) -> Result<(), Error> {
    for _ in 0..PIN_CHECKS {
        let mask = get_affinity(0)?;
        let running_on = current_cpu();
        if mask == *target && running_on == Some(cpu) {
            return Ok(());
        }
        if mask != *target {
            return Err(Error::PinNotEffective {
                cpu,
                running_on,
                mask,
            });
        }
        std::thread::yield_now();
    }
    Err(Error::PinNotEffective {
        cpu,
        running_on: current_cpu(),
        mask: get_affinity(0)?,
    })
}

/// Undoes a pin: the calling thread may run anywhere in the process'
/// [`allowed_cpus`] again.
///
/// # Errors
///
/// [`Error::Syscall`] if reading or setting the mask fails.
///
/// # Examples
///
/// ```
/// use corelane::topology;
///
/// std::thread::spawn(|| {
///     let cpu = topology::allowed_cpus()?.first().expect("at least one CPU");
///     topology::pin_current_thread(cpu)?;
///     topology::unpin_current_thread()?;
///     assert_eq!(topology::thread_affinity()?, topology::allowed_cpus()?);
///     Ok::<(), topology::Error>(())
/// })
/// .join()
/// .unwrap()?;
/// # Ok::<(), topology::Error>(())
/// ```
pub fn unpin_current_thread() -> Result<(), Error> {
    set_current_affinity(&allowed_cpus()?)
}
