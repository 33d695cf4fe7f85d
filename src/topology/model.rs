//! The machine model both back-ends fill, and the one place that turns a
//! back-end's raw findings into a normalised [`Topology`], so that two
//! back-ends looking at the same machine produce equal values.

use super::{CpuId, CpuSet, Error, Topology};

/// Which back-end built a [`Topology`].
///
/// # Examples
///
/// ```
/// use corelane::topology::{Backend, Topology};
///
/// let topo = Topology::detect()?;
/// assert_eq!(topo.backend(), Backend::Sysfs);
/// # Ok::<(), corelane::topology::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Backend {
    /// Linux sysfs (`/sys/devices/system/{cpu,node}`) and `sched_getaffinity`.
    Sysfs,
    /// The hwloc C library through `hwlocality` (feature `hwloc`).
    Hwloc,
}

/// One online logical CPU (a hardware thread).
///
/// # Examples
///
/// ```
/// use corelane::topology::Topology;
///
/// let topo = Topology::detect()?;
/// for cpu in topo.cpus() {
///     let core = &topo.cores()[cpu.core];
///     println!("{}: core {} ({} threads), package {}", cpu.id, cpu.core, core.cpus.len(), cpu.package);
/// }
/// # Ok::<(), corelane::topology::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct Cpu {
    /// The kernel's number for this CPU.
    pub id: CpuId,
    /// Index of its physical core in [`Topology::cores`].
    pub core: usize,
    /// Physical package (socket) id, as in [`Package::id`].
    pub package: u32,
    /// NUMA node id, as in [`NumaNode::id`], if known.
    pub numa_node: Option<u32>,
    /// Index of its L2 in [`Topology::caches`], if known.
    pub l2: Option<usize>,
    /// Index of its L3 in [`Topology::caches`], if known.
    pub l3: Option<usize>,
    /// Performance class of its core: 0 is the slowest kind of core (E-core,
    /// LITTLE); every CPU is 0 on a homogeneous machine.
    pub perf_class: u8,
}

/// A physical core: the hardware threads (SMT siblings) that share it.
///
/// # Examples
///
/// ```
/// use corelane::topology::Topology;
///
/// let topo = Topology::detect()?;
/// let smt = topo.cores().iter().any(|core| core.cpus.len() > 1);
/// println!("SMT {}", if smt { "on" } else { "off" });
/// # Ok::<(), corelane::topology::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct Core {
    /// Online CPUs of this core (its SMT siblings, itself included).
    pub cpus: CpuSet,
    /// Physical package (socket) id.
    pub package: u32,
    /// Performance class (see [`Cpu::perf_class`]).
    pub perf_class: u8,
}

/// A physical package (socket).
///
/// # Examples
///
/// ```
/// use corelane::topology::Topology;
///
/// let topo = Topology::detect()?;
/// assert!(topo.packages().len() >= 1);
/// # Ok::<(), corelane::topology::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct Package {
    /// The kernel's `physical_package_id`.
    pub id: u32,
    /// Online CPUs of the package.
    pub cpus: CpuSet,
}

/// A data or unified cache of level 2 or above, and the CPUs sharing it.
///
/// # Examples
///
/// ```
/// use corelane::topology::Topology;
///
/// let topo = Topology::detect()?;
/// for cache in topo.caches() {
///     println!("L{} {:?} bytes shared by [{}]", cache.level, cache.size, cache.cpus);
/// }
/// # Ok::<(), corelane::topology::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct Cache {
    /// 2 for L2, 3 for L3, ...
    pub level: u8,
    /// Size in bytes, if known.
    pub size: Option<u64>,
    /// Online CPUs sharing this cache.
    pub cpus: CpuSet,
}

/// A NUMA node (memory domain).
///
/// # Examples
///
/// ```
/// use corelane::topology::Topology;
///
/// let topo = Topology::detect()?;
/// for node in topo.numa_nodes() {
///     println!("node {}: [{}]", node.id, node.cpus);
/// }
/// # Ok::<(), corelane::topology::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct NumaNode {
    /// The kernel's node number.
    pub id: u32,
    /// Online CPUs local to this node (empty for a memory-only node).
    pub cpus: CpuSet,
}

/// What a back-end found, before normalisation. Sets may be in any order;
/// [`Raw::assemble`] sorts, deduplicates and cross-links them.
#[derive(Default, Debug)]
pub(crate) struct Raw {
    pub(crate) online: CpuSet,
    pub(crate) offline: CpuSet,
    pub(crate) isolated: CpuSet,
    pub(crate) allowed: CpuSet,
    pub(crate) cores: Vec<CpuSet>,
    /// (physical package id, CPUs)
    pub(crate) packages: Vec<(u32, CpuSet)>,
    /// (level, size in bytes, CPUs); levels below 2 are ignored.
    pub(crate) caches: Vec<(u8, Option<u64>, CpuSet)>,
    /// (node id, CPUs)
    pub(crate) numa: Vec<(u32, CpuSet)>,
    /// (performance key, CPUs): a higher key is a faster kind of core. Empty
    /// or a single group means homogeneous.
    pub(crate) perf: Vec<(u64, CpuSet)>,
}

impl Raw {
    /// Normalises into a [`Topology`]: every set is cut to online CPUs,
    /// cores/caches are ordered by their lowest CPU, packages and nodes by
    /// id; CPUs no back-end placed get a core (and package 0) of their own.
    pub(crate) fn assemble(mut self, backend: Backend) -> Result<Topology, Error> {
        let online = self.online.clone();
        let cut = |s: &CpuSet| s.intersection(&online);
        let cores = self.normal_cores();
        let mut packages = merge_by_id(self.packages.iter().map(|(id, s)| (*id, cut(s))));
        packages.retain(|(_, s)| !s.is_empty());
        let numa_nodes = merge_by_id(self.numa.iter().map(|(id, s)| (*id, cut(s))));
        let caches = self.normal_caches();
        let classes = perf_classes(&self.perf, &online);
        let cpus = online
            .iter()
            .map(|id| {
                let core = cores.iter().position(|c| c.contains(id)).unwrap_or(0);
                let in_cache = |lvl| {
                    caches
                        .iter()
                        .position(|c: &Cache| c.level == lvl && c.cpus.contains(id))
                };
                Cpu {
                    id,
                    core,
                    package: packages
                        .iter()
                        .find(|p| p.1.contains(id))
                        .map_or(0, |p| p.0),
                    numa_node: numa_nodes.iter().find(|n| n.1.contains(id)).map(|n| n.0),
                    l2: in_cache(2),
                    l3: in_cache(3),
                    perf_class: classes.iter().find(|c| c.1.contains(id)).map_or(0, |c| c.0),
                }
            })
            .collect::<Vec<_>>();
        let cores = cores
            .into_iter()
            .map(|set| {
                let first = set.first().and_then(|f| cpus.iter().find(|c| c.id == f));
                let (package, perf_class) = first.map_or((0, 0), |c| (c.package, c.perf_class));
                Core {
                    cpus: set,
                    package,
                    perf_class,
                }
            })
            .collect();
        self.isolated = cut(&self.isolated);
        self.allowed = cut(&self.allowed);
        self.offline = self.offline.difference(&online);
        Ok(Topology {
            backend,
            cpus,
            cores,
            packages: packages
                .into_iter()
                .map(|(id, cpus)| Package { id, cpus })
                .collect(),
            caches,
            numa_nodes: numa_nodes
                .into_iter()
                .map(|(id, cpus)| NumaNode { id, cpus })
                .collect(),
            online,
            offline: self.offline,
            isolated: self.isolated,
            allowed: self.allowed,
        })
    }

    /// Disjoint cores covering every online CPU, ordered by lowest CPU.
    fn normal_cores(&self) -> Vec<CpuSet> {
        let mut seen = CpuSet::new();
        let mut cores = Vec::new();
        for set in &self.cores {
            let set = set.intersection(&self.online).difference(&seen);
            if !set.is_empty() {
                seen = seen.union(&set);
                cores.push(set);
            }
        }
        cores.extend(
            self.online
                .difference(&seen)
                .iter()
                .map(|c| [c].into_iter().collect()),
        );
        cores.sort_by_key(CpuSet::first);
        cores
    }

    /// Caches of level >= 2 with at least one online CPU, deduplicated,
    /// ordered by (level, lowest CPU).
    fn normal_caches(&self) -> Vec<Cache> {
        let mut caches: Vec<Cache> = self
            .caches
            .iter()
            .filter(|(level, ..)| *level >= 2)
            .map(|(level, size, set)| Cache {
                level: *level,
                size: *size,
                cpus: set.intersection(&self.online),
            })
            .filter(|c| !c.cpus.is_empty())
            .collect();
        caches.sort_by_key(|c| (c.level, c.cpus.first()));
        caches.dedup_by(|a, b| a.level == b.level && a.cpus == b.cpus);
        caches
    }
}

/// Merges entries with the same id (union of their sets), sorted by id.
fn merge_by_id(items: impl Iterator<Item = (u32, CpuSet)>) -> Vec<(u32, CpuSet)> {
    let mut out: Vec<(u32, CpuSet)> = Vec::new();
    for (id, set) in items {
        match out.iter_mut().find(|(i, _)| *i == id) {
            Some((_, s)) => *s = s.union(&set),
            None => out.push((id, set)),
        }
    }
    out.sort_by_key(|(id, _)| *id);
    out
}

/// Ranks performance keys into dense classes 0, 1, ... (higher key, higher
/// class). Fewer than two distinct keys among online CPUs: homogeneous,
/// every CPU class 0.
fn perf_classes(perf: &[(u64, CpuSet)], online: &CpuSet) -> Vec<(u8, CpuSet)> {
    let mut keys: Vec<u64> = perf
        .iter()
        .filter(|(_, s)| !s.intersection(online).is_empty())
        .map(|(k, _)| *k)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.len() < 2 {
        return Vec::new();
    }
    perf.iter()
        .map(|(k, s)| {
            let rank = keys.iter().position(|x| x == k).unwrap_or(0);
            (
                u8::try_from(rank).unwrap_or(u8::MAX),
                s.intersection(online),
            )
        })
        .collect()
}
