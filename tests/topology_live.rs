//! The topology of the machine running the tests: detection, pinning
//! (including from an already pinned thread) and a short core-to-core
//! measurement. Written to pass on 1 CPU as well as many.

use std::sync::Mutex;
use std::thread;

use corelane::topology::{self, c2c, CpuId, Error, PlanOptions, Topology};

/// The measuring tests spin on two CPUs each; running them at once on a
/// small machine would measure the scheduler instead.
static SPINNERS: Mutex<()> = Mutex::new(());

#[test]
fn detect_is_consistent() {
    let t = Topology::detect().unwrap();
    assert!(!t.cpus().is_empty());
    assert!(t.allowed().is_subset(t.online()));
    assert!(!t.allowed().is_empty());
    assert_eq!(t.cpus().len(), t.online().len());
    let in_cores: usize = t.cores().iter().map(|c| c.cpus.len()).sum();
    assert_eq!(in_cores, t.cpus().len(), "every CPU in exactly one core");
    for c in t.cpus() {
        assert!(t.cores()[c.core].cpus.contains(c.id));
        assert!(t
            .packages()
            .iter()
            .any(|p| p.id == c.package && p.cpus.contains(c.id)));
    }
    // The sysfs root form reads the same tree.
    let same = Topology::from_sysfs_root("/sys")
        .unwrap()
        .with_allowed(t.allowed().clone());
    assert_eq!(same, t);
}

#[test]
fn pin_each_allowed_cpu_and_report_where() {
    let allowed = topology::allowed_cpus().unwrap();
    for cpu in allowed.iter() {
        thread::spawn(move || {
            topology::pin_current_thread(cpu).unwrap();
            assert_eq!(topology::current_cpu(), Some(cpu));
            assert_eq!(
                topology::thread_affinity().unwrap(),
                [cpu].into_iter().collect()
            );
            topology::unpin_current_thread().unwrap();
            assert_eq!(
                topology::thread_affinity().unwrap(),
                topology::allowed_cpus().unwrap()
            );
        })
        .join()
        .unwrap();
    }
}

#[test]
fn pin_outside_the_allowed_set_is_a_typed_error() {
    let allowed = topology::allowed_cpus().unwrap();
    let outside = CpuId::new(allowed.iter().last().unwrap().get() + 1);
    thread::spawn(move || {
        let before = topology::thread_affinity().unwrap();
        match topology::pin_current_thread(outside) {
            Err(Error::NotAllowed { cpu, allowed: a }) => {
                assert_eq!((cpu, &a), (outside, &allowed))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            topology::thread_affinity().unwrap(),
            before,
            "mask untouched"
        );
    })
    .join()
    .unwrap();
}

/// The pitfall: a thread spawned by a pinned thread inherits a one-CPU mask,
/// yet must still see (and be pinnable to) the whole process set.
#[test]
fn a_thread_spawned_by_a_pinned_thread_can_pin_elsewhere() {
    let allowed = topology::allowed_cpus().unwrap();
    let first = allowed.first().unwrap();
    let last = allowed.iter().last().unwrap();
    thread::spawn(move || {
        topology::pin_current_thread(first).unwrap();
        thread::spawn(move || {
            assert_eq!(
                topology::thread_affinity().unwrap().len(),
                1,
                "inherited mask"
            );
            assert_eq!(
                topology::allowed_cpus().unwrap(),
                allowed,
                "process set, not the thread's"
            );
            assert_eq!(Topology::detect().unwrap().allowed(), &allowed);
            topology::pin_current_thread(last).unwrap();
            assert_eq!(topology::current_cpu(), Some(last));
        })
        .join()
        .unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn plan_then_measure_the_planned_pair() {
    let _one_at_a_time = SPINNERS.lock().unwrap_or_else(|e| e.into_inner());
    let t = Topology::detect().unwrap();
    let plan = match t.plan(
        2,
        &PlanOptions::new()
            .allow_smt_siblings(true)
            .allow_isolated(true),
    ) {
        Ok(plan) => plan,
        Err(Error::NotEnoughCpus { .. }) if t.allowed().len() < 2 => return,
        Err(e) => panic!("{e}"),
    };
    let (a, b) = (plan.cpus()[0], plan.cpus()[1]);
    let rt = c2c::round_trip(a, b, 2_000).unwrap();
    assert_eq!(rt.rounds, 2_000);
    assert!(rt.min <= rt.median && !rt.median.is_zero(), "{rt:?}");
    eprintln!("smoke: {plan}: round trip median {:?}", rt.median);
}

#[test]
fn matrix_over_the_allowed_set_and_svg() {
    let _one_at_a_time = SPINNERS.lock().unwrap_or_else(|e| e.into_inner());
    let t = Topology::detect().unwrap();
    let cpus: Vec<CpuId> = t.allowed().iter().take(4).collect();
    let m = c2c::matrix_of(&cpus, 1_000).unwrap();
    let n = cpus.len();
    assert_eq!(m.pairs().count(), n * (n - 1) / 2);
    let path = std::env::temp_dir().join(format!("corelane-c2c-{}.svg", std::process::id()));
    c2c::write_svg(&m, &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(svg.matches("<rect x=").count(), n * n);
    eprintln!("smoke matrix:\n{m}");
}

#[test]
fn c2c_argument_errors() {
    let cpu = topology::allowed_cpus().unwrap().first().unwrap();
    assert!(matches!(
        c2c::round_trip(cpu, cpu, 100),
        Err(Error::InvalidArgument { .. })
    ));
    let outside = CpuId::new(60_000);
    assert!(matches!(
        c2c::round_trip(cpu, outside, 100),
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        c2c::round_trip(outside, cpu, 100),
        Err(Error::NotAllowed { .. })
    ));
    let err =
        c2c::write_svg(&c2c::matrix_of(&[], 1).unwrap(), "/nonexistent/dir/x.svg").unwrap_err();
    assert!(
        matches!(err, Error::Write { .. }) && err.to_string().contains("/nonexistent/dir/x.svg")
    );
}
