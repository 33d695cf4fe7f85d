//! The default back-end: Linux sysfs, no C dependency.
//!
//! Files read, relative to the sysfs root (`/sys`, or a fixture tree):
//!
//! | file | use | if missing |
//! |---|---|---|
//! | `devices/system/cpu/online` | the CPUs | error |
//! | `devices/system/cpu/{offline,isolated}` | offline / `isolcpus=` CPUs | empty |
//! | `cpuN/topology/thread_siblings_list` | the core of N | N alone |
//! | `cpuN/topology/physical_package_id`, `package_cpus_list` (or `core_siblings_list`) | the package | package 0 / N alone |
//! | `cpuN/cache/indexK/{level,type,shared_cpu_list,size}` | L2+ caches | no cache |
//! | `devices/system/node/online`, `nodeM/cpulist` | NUMA nodes | one node 0 |
//! | `devices/cpu_core/cpus`, `devices/cpu_atom/cpus` (Intel hybrid PMUs), `cpuN/cpu_capacity`, `cpuN/cpufreq/cpuinfo_max_freq` | performance classes | homogeneous |
//!
//! A file that exists but cannot be read or parsed is an error naming it,
//! except the performance-class files, which only refine the model and are
//! ignored when unreadable.
//!
//! Reads are skipped where an earlier sibling already answered: the core
//! file is read once per core, the package files once per package, a
//! cache's sharing list once per cache, the performance hints once per
//! core, and a CPU whose caches are all known already reads nothing under
//! `cache/` (the cache index layout is learnt from the first CPU of each
//! package and confirmed where used). A 2-CPU VM costs about 30 small
//! reads, a 2-socket 128-thread machine about 400.

use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::model::Raw;
use super::{CpuId, CpuSet, Error};

/// Read buffer: one page, the most a sysfs attribute holds.
const SMALL_READ: usize = 4096;
/// Cache indices tried per CPU (real machines have 4 or 5).
const MAX_CACHE_INDEX: u32 = 16;
/// Maximum frequencies within this factor (10 %) are one class: favoured
/// cores of Turbo Boost Max 3.0 differ by less and are not a different kind
/// of core (hwloc applies the same threshold).
const FREQ_CLASS_RATIO: f64 = 1.10;

/// A sysfs tree rooted somewhere.
struct Sysfs<'a> {
    root: &'a Path,
}

impl Sysfs<'_> {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The file's content; `None` if it does not exist.
    fn text(&self, rel: &str) -> Result<Option<String>, Error> {
        let path = self.path(rel);
        match read_small(&path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::read(path, e)),
        }
    }

    fn set(&self, rel: &str) -> Result<Option<CpuSet>, Error> {
        self.parsed(rel, "a CPU list such as 0-3,8")
    }

    fn parsed<T: FromStr>(&self, rel: &str, expected: &'static str) -> Result<Option<T>, Error> {
        match self.text(rel)? {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| Error::parse(self.path(rel), &s, expected)),
        }
    }

    /// A file that only refines the model: any failure is "unknown".
    fn hint<T: FromStr>(&self, rel: &str) -> Option<T> {
        read_small(&self.path(rel)).ok()?.trim().parse().ok()
    }
}

/// Reads a small file in three system calls (open, read, close) instead of
/// `read_to_string`'s five (it adds statx and a read that sees EOF): a
/// sysfs attribute is produced whole by its first read, at most a page,
/// and a short read of a regular file means end of file. A read that fills
/// the buffer falls back to reading to the end.
fn read_small(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = [0u8; SMALL_READ];
    let n = loop {
        match file.read(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => break r?,
        }
    };
    let mut bytes = buf[..n].to_vec();
    if n == buf.len() {
        file.read_to_end(&mut bytes)?;
    }
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// CPUs already placed, so siblings skip the reads.
#[derive(Default)]
struct Covered {
    cores: CpuSet,
    packages: CpuSet,
    /// Per cache level (index = level).
    caches: Vec<CpuSet>,
    /// (index, level) of the L2+ data/unified caches of the last CPU whose
    /// cache directory was walked in full. The next CPUs are assumed to
    /// have the same layout, confirmed by reading `level` at each index
    /// they still need; a mismatch means a full walk. Reset per package.
    layout: Vec<(u32, u8)>,
}

impl Covered {
    fn covers(&self, level: u8, cpu: CpuId) -> bool {
        self.caches
            .get(usize::from(level))
            .is_some_and(|s| s.contains(cpu))
    }
}

/// Reads the tree at `root` (the directory holding `devices/`). The allowed
/// set is left empty: the caller decides whether it comes from the process
/// mask or is "all online".
pub(crate) fn load(root: &Path) -> Result<Raw, Error> {
    let fs = Sysfs { root };
    let online_rel = "devices/system/cpu/online";
    let online = fs.set(online_rel)?.ok_or_else(|| {
        Error::read(
            fs.path(online_rel),
            io::Error::new(io::ErrorKind::NotFound, "no such file"),
        )
    })?;
    if online.is_empty() {
        return Err(Error::parse(
            fs.path(online_rel),
            "",
            "at least one online CPU",
        ));
    }
    let mut raw = Raw {
        offline: fs.set("devices/system/cpu/offline")?.unwrap_or_default(),
        isolated: fs.set("devices/system/cpu/isolated")?.unwrap_or_default(),
        ..Raw::default()
    };
    let mut covered = Covered::default();
    for cpu in online.iter() {
        read_core(&fs, cpu, &online, &mut raw, &mut covered)?;
        read_package(&fs, cpu, &online, &mut raw, &mut covered)?;
        read_caches(&fs, cpu, &online, &mut raw, &mut covered)?;
    }
    raw.numa = read_numa(&fs, &online)?;
    raw.perf = read_perf(&fs, &raw.cores);
    raw.online = online;
    Ok(raw)
}

/// `set` cut to online CPUs, always containing `cpu`.
fn anchored(set: Option<CpuSet>, cpu: CpuId, online: &CpuSet) -> CpuSet {
    let mut set = set.unwrap_or_default().intersection(online);
    set.insert(cpu);
    set
}

fn read_core(
    fs: &Sysfs<'_>,
    cpu: CpuId,
    online: &CpuSet,
    raw: &mut Raw,
    cov: &mut Covered,
) -> Result<(), Error> {
    if cov.cores.contains(cpu) {
        return Ok(());
    }
    let rel = format!(
        "devices/system/cpu/cpu{}/topology/thread_siblings_list",
        cpu.get()
    );
    let set = anchored(fs.set(&rel)?, cpu, online).difference(&cov.cores);
    cov.cores = cov.cores.union(&set);
    raw.cores.push(set);
    Ok(())
}

fn read_package(
    fs: &Sysfs<'_>,
    cpu: CpuId,
    online: &CpuSet,
    raw: &mut Raw,
    cov: &mut Covered,
) -> Result<(), Error> {
    if cov.packages.contains(cpu) {
        return Ok(());
    }
    let dir = format!("devices/system/cpu/cpu{}/topology", cpu.get());
    // Some platforms write -1 ("unknown"): treat as package 0.
    let id = fs.parsed::<i64>(&format!("{dir}/physical_package_id"), "an integer")?;
    let id = id.and_then(|i| u32::try_from(i).ok()).unwrap_or(0);
    let set = match fs.set(&format!("{dir}/package_cpus_list"))? {
        Some(set) => Some(set),
        None => fs.set(&format!("{dir}/core_siblings_list"))?,
    };
    let set = anchored(set, cpu, online);
    // A new package gets a full walk of its first CPU's caches.
    cov.layout.clear();
    cov.packages = cov.packages.union(&set);
    raw.packages.push((id, set));
    Ok(())
}

fn read_caches(
    fs: &Sysfs<'_>,
    cpu: CpuId,
    online: &CpuSet,
    raw: &mut Raw,
    cov: &mut Covered,
) -> Result<(), Error> {
    if !cov.layout.is_empty() {
        let uncovered: Vec<(u32, u8)> = cov
            .layout
            .iter()
            .copied()
            .filter(|&(_, l)| !cov.covers(l, cpu))
            .collect();
        let mut guided = true;
        for &(index, level) in &uncovered {
            if cov.covers(level, cpu) {
                continue;
            }
            let dir = format!("devices/system/cpu/cpu{}/cache/index{index}", cpu.get());
            if fs.parsed::<u8>(&format!("{dir}/level"), "a cache level")? != Some(level) {
                guided = false;
                break;
            }
            read_cache(fs, &dir, level, cpu, online, raw, cov)?;
        }
        if guided {
            return Ok(());
        }
    }
    scan_caches(fs, cpu, online, raw, cov)
}

/// Walks every `indexK` of `cpu`, recording the layout for its successors.
fn scan_caches(
    fs: &Sysfs<'_>,
    cpu: CpuId,
    online: &CpuSet,
    raw: &mut Raw,
    cov: &mut Covered,
) -> Result<(), Error> {
    cov.layout.clear();
    for index in 0..MAX_CACHE_INDEX {
        let dir = format!("devices/system/cpu/cpu{}/cache/index{index}", cpu.get());
        let Some(level) = fs.parsed::<u8>(&format!("{dir}/level"), "a cache level")? else {
            break;
        };
        if level < 2 {
            continue;
        }
        if fs.text(&format!("{dir}/type"))?.unwrap_or_default().trim() == "Instruction" {
            continue;
        }
        cov.layout.push((index, level));
        if !cov.covers(level, cpu) {
            read_cache(fs, &dir, level, cpu, online, raw, cov)?;
        }
    }
    Ok(())
}

fn read_cache(
    fs: &Sysfs<'_>,
    dir: &str,
    level: u8,
    cpu: CpuId,
    online: &CpuSet,
    raw: &mut Raw,
    cov: &mut Covered,
) -> Result<(), Error> {
    let set = anchored(fs.set(&format!("{dir}/shared_cpu_list"))?, cpu, online);
    let size = fs
        .text(&format!("{dir}/size"))?
        .and_then(|s| parse_size(&s));
    let level_i = usize::from(level);
    if cov.caches.len() <= level_i {
        cov.caches.resize(level_i + 1, CpuSet::new());
    }
    cov.caches[level_i] = cov.caches[level_i].union(&set);
    raw.caches.push((level, size, set));
    Ok(())
}

/// `2048K` → 2 MiB (sysfs writes KiB with a `K`; `M`, `G` and plain bytes
/// are accepted too).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let shift = match unit.trim() {
        "" => 0,
        "K" | "k" | "KB" => 10,
        "M" | "MB" => 20,
        "G" | "GB" => 30,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

fn read_numa(fs: &Sysfs<'_>, online: &CpuSet) -> Result<Vec<(u32, CpuSet)>, Error> {
    let Some(nodes) = fs.set("devices/system/node/online")? else {
        // A kernel without CONFIG_NUMA: one node, as hwloc reports it.
        return Ok(vec![(0, online.clone())]);
    };
    nodes
        .iter()
        .map(|n| {
            let cpus = fs.set(&format!("devices/system/node/node{}/cpulist", n.get()))?;
            Ok((n.get(), cpus.unwrap_or_default()))
        })
        .collect()
}

/// Performance keys, first source that tells CPUs apart: Intel hybrid PMUs,
/// then `cpu_capacity` (arm big.LITTLE, x86 with asymmetric capacity), then
/// the maximum frequency.
fn read_perf(fs: &Sysfs<'_>, cores: &[CpuSet]) -> Vec<(u64, CpuSet)> {
    let pcore = fs.hint::<CpuSet>("devices/cpu_core/cpus");
    let ecore = fs.hint::<CpuSet>("devices/cpu_atom/cpus");
    if let (Some(p), Some(e)) = (pcore, ecore) {
        return vec![(1, p), (0, e)];
    }
    let capacity = group_by_key(per_core(fs, cores, "cpu_capacity"));
    if capacity.len() > 1 {
        return capacity;
    }
    group_by_key(cluster_freqs(per_core(
        fs,
        cores,
        "cpufreq/cpuinfo_max_freq",
    )))
}

/// `file` of each core's first CPU, applied to every CPU of the core (SMT
/// siblings are one kind of core). If the first core lacks the file, the
/// kernel does not provide it: nothing more is read.
fn per_core(fs: &Sysfs<'_>, cores: &[CpuSet], file: &str) -> Vec<(u64, CpuId)> {
    let mut out = Vec::new();
    for core in cores {
        let Some(first) = core.first() else { continue };
        match fs.hint::<u64>(&format!("devices/system/cpu/cpu{}/{file}", first.get())) {
            Some(v) => out.extend(core.iter().map(|c| (v, c))),
            None if out.is_empty() => return out,
            None => {}
        }
    }
    out
}

/// Replaces each frequency by its class: ascending values within
/// [`FREQ_CLASS_RATIO`] of the class' lowest value share a class.
fn cluster_freqs(mut freqs: Vec<(u64, CpuId)>) -> Vec<(u64, CpuId)> {
    freqs.sort_unstable();
    let (mut class, mut base) = (0u64, None::<u64>);
    for (f, _) in &mut freqs {
        match base {
            Some(b) if (*f as f64) <= b as f64 * FREQ_CLASS_RATIO => {}
            Some(_) => {
                class += 1;
                base = Some(*f);
            }
            None => base = Some(*f),
        }
        *f = class;
    }
    freqs
}

fn group_by_key(items: Vec<(u64, CpuId)>) -> Vec<(u64, CpuSet)> {
    let mut groups: Vec<(u64, CpuSet)> = Vec::new();
    for (key, cpu) in items {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, set)) => {
                set.insert(cpu);
            }
            None => groups.push((key, [cpu].into_iter().collect())),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("48K\n"), Some(48 << 10));
        assert_eq!(parse_size("36M"), Some(36 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("12Q"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn turbo_max_favoured_cores_are_not_a_class() {
        let cpus = |v: &[u64]| {
            v.iter()
                .enumerate()
                .map(|(i, &f)| (f, CpuId::new(i as u32)))
                .collect()
        };
        let same = group_by_key(cluster_freqs(cpus(&[3_900_000, 4_100_000, 3_900_000])));
        assert_eq!(same.len(), 1);
        let hybrid = group_by_key(cluster_freqs(cpus(&[5_800_000, 4_300_000, 5_700_000])));
        assert_eq!(hybrid.len(), 2);
    }
}
