//! The one error type of the topology module.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::{CpuId, CpuSet};

/// Everything that can go wrong while reading the topology, pinning a thread,
/// planning a placement or measuring core-to-core latency.
///
/// File errors name the file; OS errors are kept as the
/// [`source`](std::error::Error::source).
///
/// # Examples
///
/// ```
/// use corelane::topology::{Error, Topology};
///
/// match Topology::from_sysfs_root("/nonexistent") {
///     Err(Error::Read { path, .. }) => assert!(path.ends_with("devices/system/cpu/online")),
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read (missing, permission, I/O error).
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A file was read but its content is not what the kernel writes there.
    Parse {
        /// The file.
        path: PathBuf,
        /// The content (trimmed and truncated to 80 bytes).
        content: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A file could not be written (the SVG heat map).
    Write {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A system call failed (`sched_getaffinity`, `sched_setaffinity`).
    Syscall {
        /// The call.
        call: &'static str,
        /// What the OS said.
        source: io::Error,
    },
    /// The CPU is not in the process' allowed set (taskset, cgroup cpuset,
    /// offline, or nonexistent).
    NotAllowed {
        /// The CPU asked for.
        cpu: CpuId,
        /// The process' allowed set.
        allowed: CpuSet,
    },
    /// `sched_setaffinity` succeeded but the thread does not run where asked.
    PinNotEffective {
        /// The CPU asked for.
        cpu: CpuId,
        /// Where `sched_getcpu` says the thread runs.
        running_on: Option<CpuId>,
        /// The thread's affinity mask read back.
        mask: CpuSet,
    },
    /// A placement plan needs more CPUs than the options leave.
    NotEnoughCpus {
        /// Roles asked for.
        requested: usize,
        /// CPUs the most permissive attempt could use.
        available: usize,
        /// How the eligible set was reduced, and which option would help.
        detail: String,
    },
    /// An argument makes no sense (a round trip from a CPU to itself, zero
    /// rounds).
    InvalidArgument {
        /// What is wrong.
        reason: String,
    },
    /// The hwloc library failed (feature `hwloc`).
    Hwloc {
        /// The operation.
        call: &'static str,
        /// hwloc's message.
        message: String,
    },
    /// A measurement thread panicked.
    ThreadPanicked,
}

impl Error {
    pub(crate) fn read(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Read {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, content: &str, expected: &'static str) -> Self {
        let content = content.trim();
        let mut end = content.len().min(80);
        while !content.is_char_boundary(end) {
            end -= 1;
        }
        Error::Parse {
            path: path.into(),
            content: content[..end].to_owned(),
            expected,
        }
    }

    pub(crate) fn syscall(call: &'static str) -> Self {
        Error::Syscall {
            call,
            source: io::Error::last_os_error(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { path, .. } => write!(f, "cannot read {}", path.display()),
            Error::Parse {
                path,
                content,
                expected,
            } => {
                write!(
                    f,
                    "{}: expected {expected}, found {content:?}",
                    path.display()
                )
            }
            Error::Write { path, .. } => write!(f, "cannot write {}", path.display()),
            Error::Syscall { call, .. } => write!(f, "{call} failed"),
            Error::NotAllowed { cpu, allowed } => {
                write!(f, "{cpu} is outside the process' allowed CPUs [{allowed}]")
            }
            Error::PinNotEffective {
                cpu,
                running_on,
                mask,
            } => {
                let on = running_on.map_or_else(|| "unknown".to_owned(), |c| c.to_string());
                write!(f, "pinned to {cpu} but running on {on} with mask [{mask}]")
            }
            Error::NotEnoughCpus {
                requested,
                available,
                detail,
            } => {
                let (roles, cpus) = (Count(*requested, "role"), Count(*available, "CPU"));
                write!(f, "{roles} asked, {cpus} usable: {detail}")
            }
            Error::InvalidArgument { reason } => write!(f, "invalid argument: {reason}"),
            Error::Hwloc { call, message } => write!(f, "hwloc {call} failed: {message}"),
            Error::ThreadPanicked => f.write_str("a measurement thread panicked"),
        }
    }
}

/// A count and its noun, singular or plural: `1 L3 domain`, `2 L3 domains`.
/// Every count in the module's `Display` output goes through it.
pub(crate) struct Count(pub(crate) usize, pub(crate) &'static str);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Count(n, noun) = *self;
        write!(f, "{n} {noun}{}", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. }
            | Error::Write { source, .. }
            | Error::Syscall { source, .. } => Some(source),
            _ => None,
        }
    }
}
