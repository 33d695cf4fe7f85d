//! The `hwloc` feature's back-end: the same model through the hwloc C
//! library (`hwlocality` bindings).
//!
//! The topology is loaded with `INCLUDE_DISALLOWED`, so CPUs outside the
//! process' cgroup/affinity are still in the model (as with sysfs) and only
//! missing from the allowed set. hwloc has no notion of `isolcpus=` or of
//! offline CPUs; those two lists are read from sysfs.

use std::path::Path;

use hwlocality::cpu::binding::CpuBindingFlags;
use hwlocality::cpu::cpuset::CpuSet as HwSet;
use hwlocality::object::attributes::ObjectAttributes;
use hwlocality::object::types::ObjectType;
use hwlocality::topology::builder::BuildFlags;
use hwlocality::Topology as HwTopology;

use super::model::Raw;
use super::{CpuId, CpuSet, Error};

/// Cache object types of level 2 and above (data/unified), with their level.
const CACHES: [(ObjectType, u8); 4] = [
    (ObjectType::L2Cache, 2),
    (ObjectType::L3Cache, 3),
    (ObjectType::L4Cache, 4),
    (ObjectType::L5Cache, 5),
];

fn hwloc_err(call: &'static str) -> impl FnOnce(&dyn std::fmt::Display) -> Error {
    move |e| Error::Hwloc {
        call,
        message: e.to_string(),
    }
}

fn convert(set: &HwSet) -> CpuSet {
    set.iter_set()
        .filter_map(|i| u32::try_from(usize::from(i)).ok())
        .map(CpuId::new)
        .collect()
}

/// Loads the topology through hwloc.
pub(crate) fn load() -> Result<Raw, Error> {
    let topo = HwTopology::builder()
        .with_flags(BuildFlags::INCLUDE_DISALLOWED)
        .map_err(|e| hwloc_err("hwloc_topology_set_flags")(&e))?
        .build()
        .map_err(|e| hwloc_err("hwloc_topology_load")(&e))?;
    // The root's cpuset: online PUs (disallowed ones included, by the flag
    // above). `complete_cpuset` would add offline PUs, which sysfs lists
    // apart; the two back-ends must agree on machines that have some.
    let online = convert(&topo.cpuset());
    let sets = |ty| -> Vec<(Option<usize>, CpuSet, Option<u64>)> {
        topo.objects_with_type(ty)
            .filter_map(|o| {
                let size = match o.attributes() {
                    Some(ObjectAttributes::Cache(c)) => c.size().map(|s| s.get()),
                    _ => None,
                };
                let set = o.complete_cpuset()?;
                Some((o.os_index(), convert(&set), size))
            })
            .collect()
    };
    let id = |i: Option<usize>| i.and_then(|i| u32::try_from(i).ok()).unwrap_or(0);
    let mut raw = Raw {
        cores: sets(ObjectType::Core)
            .into_iter()
            .map(|(_, s, _)| s)
            .collect(),
        packages: sets(ObjectType::Package)
            .into_iter()
            .map(|(i, s, _)| (id(i), s))
            .collect(),
        numa: sets(ObjectType::NUMANode)
            .into_iter()
            .map(|(i, s, _)| (id(i), s))
            .collect(),
        perf: perf(&topo),
        allowed: allowed(&topo)?,
        ..Raw::default()
    };
    for (ty, level) in CACHES {
        raw.caches
            .extend(sets(ty).into_iter().map(|(_, s, size)| (level, size, s)));
    }
    let root = Path::new("/sys");
    let sysfs_list = |rel: &str| -> Result<CpuSet, Error> {
        let path = root.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(s) => s
                .trim()
                .parse()
                .map_err(|_| Error::parse(&path, &s, "a CPU list such as 0-3,8")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CpuSet::new()),
            Err(e) => Err(Error::read(path, e)),
        }
    };
    raw.offline = sysfs_list("devices/system/cpu/offline")?;
    raw.isolated = sysfs_list("devices/system/cpu/isolated")?;
    raw.online = online;
    Ok(raw)
}

/// hwloc's CPU kinds, least performant first; fewer than two kinds is
/// homogeneous.
fn perf(topo: &HwTopology) -> Vec<(u64, CpuSet)> {
    match topo.cpu_kinds() {
        Ok(kinds) if kinds.len() > 1 => kinds
            .enumerate()
            .map(|(i, k)| (i as u64, convert(&k.cpuset)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The binding of the process' main thread (tid = pid) as hwloc reports it,
/// cut to what the topology allows: the same definition as
/// [`allowed_cpus`](super::allowed_cpus), read fresh.
fn allowed(topo: &HwTopology) -> Result<CpuSet, Error> {
    let bound = topo
        .process_cpu_binding(std::process::id(), CpuBindingFlags::THREAD)
        .map_err(|e| hwloc_err("hwloc_get_proc_cpubind")(&e))?;
    Ok(convert(&bound).intersection(&convert(&topo.allowed_cpuset())))
}
