//! The sysfs back-end against fixture trees (tests/fixtures/topology, made by
//! its generate.py): the model it builds, and the errors for broken trees.

use std::path::{Path, PathBuf};

use corelane::topology::{CpuId, CpuSet, Error, PlanOptions, Topology};

fn root(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/topology")
        .join(name)
}

fn load(name: &str) -> Topology {
    Topology::from_sysfs_root(root(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn set(s: &str) -> CpuSet {
    s.parse().unwrap()
}

fn cpu(n: u32) -> CpuId {
    CpuId::new(n)
}

#[test]
fn epyc_two_sockets_64_cores_smt() {
    let t = load("epyc-2s64c");
    assert_eq!(
        (t.cpus().len(), t.cores().len(), t.packages().len()),
        (128, 64, 2)
    );
    assert_eq!(t.numa_nodes().len(), 2);
    assert_eq!(t.numa_nodes()[1].cpus, set("32-63,96-127"));
    assert_eq!(t.isolated(), &set("4-7,68-71"));
    assert!(t.offline().is_empty());
    assert_eq!(t.allowed(), t.online());
    assert!(!t.is_hybrid(), "equal max frequency: one class");
    assert_eq!(t.smt_siblings(cpu(5)), set("69"));
    assert_eq!(t.cores()[5].cpus, set("5,69"));
    let l2 = t.caches().iter().filter(|c| c.level == 2).count();
    let l3: Vec<_> = t.caches().iter().filter(|c| c.level == 3).collect();
    assert_eq!((l2, l3.len()), (64, 16));
    assert_eq!(l3[1].cpus, set("4-7,68-71"));
    assert_eq!(l3[1].size, Some(16 << 20));
    let c = t.cpu(cpu(100)).unwrap();
    assert_eq!((c.package, c.numa_node, c.core), (1, Some(1), 36));
    assert_eq!(t.caches()[c.l3.unwrap()].cpus, set("36-39,100-103"));
    assert_eq!(t.shared_cache(cpu(0), cpu(64)).map(|c| c.level), Some(2));
    assert_eq!(t.shared_cache(cpu(0), cpu(3)).map(|c| c.level), Some(3));
    assert!(t.shared_cache(cpu(0), cpu(4)).is_none());
}

#[test]
fn hybrid_p_and_e_cores_with_an_offline_cpu() {
    let t = load("hybrid-8p16e");
    assert_eq!(
        (t.cpus().len(), t.cores().len(), t.packages().len()),
        (31, 23, 1)
    );
    assert_eq!(t.offline(), &set("31"));
    assert!(t.cpu(cpu(31)).is_none());
    assert!(t.is_hybrid());
    assert!(t
        .cpus()
        .iter()
        .all(|c| c.perf_class == u8::from(c.id.get() < 16)));
    assert_eq!(t.cores()[0].perf_class, 1);
    assert_eq!(t.cores()[8].perf_class, 0);
    let l2: Vec<_> = t
        .caches()
        .iter()
        .filter(|c| c.level == 2)
        .map(|c| c.cpus.to_string())
        .collect();
    assert_eq!(l2.len(), 12);
    assert_eq!(l2[8..], ["16-19", "20-23", "24-27", "28-30"]);
    assert_eq!(t.caches().iter().filter(|c| c.level == 3).count(), 1);
    assert_eq!(t.numa_nodes().len(), 1);
}

#[test]
fn vm_two_cpus_old_kernel_package_file() {
    let t = load("vm-2c");
    assert_eq!(
        (t.cpus().len(), t.cores().len(), t.packages().len()),
        (2, 2, 1)
    );
    assert_eq!(t.packages()[0].cpus, set("0-1"));
    assert!(!t.is_hybrid());
    assert_eq!(t.caches().len(), 3);
    assert_eq!(t.caches()[2].size, Some(266_240 << 10));
    assert!(t.smt_siblings(cpu(0)).is_empty());
}

/// The case users hit: four pipeline roles on a 2-CPU VM. Refused by
/// default with an error naming the option; shared round-robin when asked.
#[test]
fn vm_two_cpus_four_roles_share_only_when_asked() {
    let t = load("vm-2c");
    let err = t.plan(4, &PlanOptions::new()).unwrap_err();
    assert!(matches!(
        err,
        Error::NotEnoughCpus {
            requested: 4,
            available: 2,
            ..
        }
    ));
    let msg = err.to_string();
    assert!(msg.starts_with("4 roles asked, 2 CPUs usable: "), "{msg}");
    assert!(msg.contains("allow_oversubscription"), "{msg}");

    let plan = t
        .plan(4, &PlanOptions::new().allow_oversubscription(true))
        .unwrap();
    assert_eq!(plan.cpus(), [cpu(1), cpu(0), cpu(1), cpu(0)]);
    assert!(plan.is_oversubscribed());
    assert_eq!(
        plan.to_string(),
        "cpu1, cpu0, cpu1, cpu0 (2 physical cores, 1 L3 domain, 4 roles on 2 CPUs)"
    );
}

#[test]
fn with_allowed_cuts_to_online() {
    let t = load("hybrid-8p16e").with_allowed(set("0-3,31,40"));
    assert_eq!(t.allowed(), &set("0-3"));
}

/// A scratch copy of a fixture, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn copy_of(name: &str, tag: &str) -> Scratch {
        let dst = std::env::temp_dir().join(format!("corelane-topo-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dst);
        copy_dir(&root(name), &dst);
        Scratch(dst)
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
}

#[test]
fn missing_root_names_the_online_file() {
    let err = Topology::from_sysfs_root("/nonexistent/sys").unwrap_err();
    match &err {
        Error::Read { path, source } => {
            assert_eq!(
                path,
                Path::new("/nonexistent/sys/devices/system/cpu/online")
            );
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(err
        .to_string()
        .contains("/nonexistent/sys/devices/system/cpu/online"));
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn garbled_files_are_errors_naming_the_file() {
    let cases = [
        ("devices/system/cpu/online", "0-x"),
        ("devices/system/cpu/isolated", "banana"),
        (
            "devices/system/cpu/cpu1/topology/thread_siblings_list",
            "1-0",
        ),
        (
            "devices/system/cpu/cpu0/topology/physical_package_id",
            "zero",
        ),
        ("devices/system/cpu/cpu1/cache/index2/level", "two"),
        (
            "devices/system/cpu/cpu0/cache/index3/shared_cpu_list",
            "0-99999999",
        ),
        ("devices/system/node/node0/cpulist", "\u{fffd}\u{fffd}"),
        ("devices/system/cpu/online", ""),
    ];
    for (i, (rel, content)) in cases.into_iter().enumerate() {
        let scratch = Scratch::copy_of("vm-2c", &format!("garbled{i}"));
        std::fs::write(scratch.file(rel), content).unwrap();
        match Topology::from_sysfs_root(&scratch.0) {
            Err(Error::Parse { path, .. }) => assert_eq!(path, scratch.file(rel), "{rel}"),
            other => panic!("{rel} = {content:?}: {other:?}"),
        }
    }
}

#[test]
fn unreadable_file_is_a_read_error_naming_it() {
    let scratch = Scratch::copy_of("vm-2c", "unreadable");
    // A directory where a file should be: reading it fails with EISDIR even
    // as root (a chmod 000 file would still be readable by root).
    let rel = "devices/system/cpu/cpu0/cache/index2/level";
    std::fs::remove_file(scratch.file(rel)).unwrap();
    std::fs::create_dir(scratch.file(rel)).unwrap();
    match Topology::from_sysfs_root(&scratch.0) {
        Err(Error::Read { path, .. }) => assert_eq!(path, scratch.file(rel)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn optional_files_may_be_missing() {
    let scratch = Scratch::copy_of("vm-2c", "sparse");
    for rel in [
        "devices/system/cpu/isolated",
        "devices/system/cpu/offline",
        "devices/system/node",
        "devices/system/cpu/cpu0/cache",
        "devices/system/cpu/cpu1/topology",
        "devices/system/cpu/cpu0/cpu_capacity",
    ] {
        let p = scratch.file(rel);
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap();
        } else {
            std::fs::remove_file(p).unwrap();
        }
    }
    let t = Topology::from_sysfs_root(&scratch.0).unwrap();
    assert_eq!(t.cpus().len(), 2);
    assert_eq!(
        t.numa_nodes().len(),
        1,
        "no node dir: one node, as hwloc reports it"
    );
    assert_eq!(t.numa_nodes()[0].cpus, set("0-1"));
    // cpu0's cache dir is gone; cpu1 still reports its L2 and the shared L3.
    assert_eq!(t.caches().len(), 2);
    assert_eq!(t.cpu(cpu(0)).unwrap().l3, t.cpu(cpu(1)).unwrap().l3);
}
