//! Both back-ends describe this machine the same way (feature `hwloc`).
#![cfg(feature = "hwloc")]

use corelane::topology::{Backend, Topology};

#[test]
fn sysfs_and_hwloc_agree_on_this_machine() {
    let sysfs = Topology::detect().unwrap();
    let hwloc = Topology::detect_hwloc().unwrap();
    assert_eq!(sysfs.backend(), Backend::Sysfs);
    assert_eq!(hwloc.backend(), Backend::Hwloc);
    assert_eq!(sysfs.online(), hwloc.online(), "online");
    assert_eq!(sysfs.allowed(), hwloc.allowed(), "allowed");
    assert_eq!(sysfs.offline(), hwloc.offline(), "offline");
    assert_eq!(sysfs.isolated(), hwloc.isolated(), "isolated");
    assert_eq!(sysfs.cores(), hwloc.cores(), "cores");
    assert_eq!(sysfs.packages(), hwloc.packages(), "packages");
    assert_eq!(sysfs.numa_nodes(), hwloc.numa_nodes(), "NUMA nodes");
    assert_eq!(sysfs.caches(), hwloc.caches(), "caches");
    assert_eq!(sysfs.cpus(), hwloc.cpus(), "cpus");
    // Everything but the back-end tag.
    let relabel = |t: &Topology| format!("{t:?}").replace("Hwloc", "Sysfs");
    assert_eq!(relabel(&sysfs), relabel(&hwloc));
}
