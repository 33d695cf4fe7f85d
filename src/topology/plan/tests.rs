//! Placement plans against the fixture machines in `tests/fixtures/topology`.

use super::*;

fn fixture(name: &str) -> Topology {
    let root = format!(
        "{}/tests/fixtures/topology/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    Topology::from_sysfs_root(root).expect("fixture loads")
}

fn plan(topo: &Topology, roles: usize, opts: &PlanOptions) -> Vec<u32> {
    let plan = topo
        .plan(roles, opts)
        .unwrap_or_else(|e| panic!("plan({roles}): {e}"));
    assert_eq!(plan.cpus().len(), roles);
    plan.cpus().iter().map(|c| c.get()).collect()
}

fn set(s: &str) -> CpuSet {
    s.parse().unwrap()
}

fn range(r: std::ops::Range<u32>) -> Vec<u32> {
    r.collect()
}

#[test]
fn epyc_roles_share_one_ccx_away_from_cpu0_and_isolated_cpus() {
    let topo = fixture("epyc-2s64c");
    let default = PlanOptions::new();
    // CCX0 holds the avoided core 0, CCX1 is isolated: CCX2.
    assert_eq!(plan(&topo, 4, &default), [8, 9, 10, 11]);
    // Three roles fit in CCX0 without core 0.
    assert_eq!(plan(&topo, 3, &default), [1, 2, 3]);
    assert_eq!(
        plan(&topo, 4, &default.clone().allow_isolated(true)),
        [4, 5, 6, 7]
    );
    assert_eq!(
        plan(&topo, 4, &default.clone().avoid(CpuSet::new())),
        [0, 1, 2, 3]
    );
    let p = topo.plan(4, &default).unwrap();
    assert_eq!((p.l3_domains(), p.shares_cores()), (1, false));
}

#[test]
fn epyc_large_plans_spread_over_neighbouring_ccx_then_the_other_socket() {
    let topo = fixture("epyc-2s64c");
    let default = PlanOptions::new();
    assert_eq!(plan(&topo, 8, &default), range(8..16));
    let forty = plan(&topo, 40, &default);
    let mut want = range(8..32);
    want.extend([1, 2, 3, 0]);
    want.extend(32..44);
    assert_eq!(forty, want);
    let p = topo.plan(40, &default).unwrap();
    assert_eq!((p.l3_domains(), p.shares_cores()), (10, false));
}

#[test]
fn epyc_smt_siblings_only_when_asked_and_needed() {
    let topo = fixture("epyc-2s64c");
    match topo.plan(61, &PlanOptions::new()) {
        Err(Error::NotEnoughCpus {
            requested: 61,
            available: 60,
            detail,
        }) => {
            assert!(detail.contains("8 isolated skipped"), "{detail}");
            assert!(detail.contains("allow_smt_siblings"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let smt = PlanOptions::new().allow_smt_siblings(true);
    let p = topo.plan(61, &smt).unwrap();
    assert!(p.shares_cores());
    assert_eq!(p.cpus()[60].get(), 72, "first sibling after all 60 cores");
    // With few roles, SMT permission changes nothing.
    assert_eq!(plan(&topo, 4, &smt), [8, 9, 10, 11]);
}

#[test]
fn epyc_shared_l3_requirement() {
    let topo = fixture("epyc-2s64c");
    let strict = PlanOptions::new().require_shared_l3(true);
    match topo.plan(6, &strict) {
        Err(Error::NotEnoughCpus {
            available: 4,
            detail,
            ..
        }) => assert!(detail.contains("require_shared_l3")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        plan(&topo, 6, &strict.allow_smt_siblings(true)),
        [8, 9, 10, 11, 72, 73]
    );
}

#[test]
fn epyc_affinity_mask_and_exclusions() {
    let topo = fixture("epyc-2s64c").with_allowed(set("32-63,96-127"));
    assert_eq!(plan(&topo, 2, &PlanOptions::new()), [32, 33]);
    assert_eq!(
        plan(&topo, 2, &PlanOptions::new().ignore_affinity(true)),
        [1, 2]
    );
    assert_eq!(
        plan(&topo, 2, &PlanOptions::new().exclude(set("32-33"))),
        [34, 35]
    );
    match topo.plan(33, &PlanOptions::new()) {
        Err(Error::NotEnoughCpus { detail, .. }) => {
            assert!(detail.contains("64 outside the affinity mask"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hybrid_p_cores_first_then_e_cores_before_any_smt_sibling() {
    let topo = fixture("hybrid-8p16e");
    let default = PlanOptions::new();
    assert_eq!(plan(&topo, 4, &default), [2, 4, 6, 8]);
    assert_eq!(plan(&topo, 8, &default), [2, 4, 6, 8, 10, 12, 14, 0]);
    assert_eq!(
        plan(&topo, 10, &default),
        [2, 4, 6, 8, 10, 12, 14, 0, 16, 17]
    );
    match topo.plan(24, &default) {
        Err(Error::NotEnoughCpus {
            available: 23,
            detail,
            ..
        }) => assert!(detail.contains("allow_smt_siblings")),
        other => panic!("{other:?}"),
    }
    let p = topo.plan(24, &default.allow_smt_siblings(true)).unwrap();
    assert_eq!(p.cpus()[23].get(), 3);
    assert_eq!(p.l3_domains(), 1);
}

#[test]
fn vm_two_cpus() {
    let topo = fixture("vm-2c");
    assert_eq!(plan(&topo, 1, &PlanOptions::new()), [1]);
    assert_eq!(plan(&topo, 2, &PlanOptions::new()), [1, 0]);
    assert_eq!(
        plan(&topo, 1, &PlanOptions::new().avoid(CpuSet::new())),
        [0]
    );
    assert_eq!(plan(&topo, 0, &PlanOptions::new()), Vec::<u32>::new());
    let err = topo
        .plan(3, &PlanOptions::new().allow_smt_siblings(true))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotEnoughCpus {
                requested: 3,
                available: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        topo.plan(2, &PlanOptions::new()).unwrap().to_string(),
        "cpu1, cpu0 (2 physical cores, 1 L3 domain)"
    );
}

#[test]
fn vm_oversubscription_only_when_asked() {
    let topo = fixture("vm-2c");
    let err = topo.plan(4, &PlanOptions::new()).unwrap_err();
    match &err {
        Error::NotEnoughCpus {
            requested: 4,
            available: 2,
            detail,
        } => assert!(
            detail.contains("PlanOptions::allow_oversubscription"),
            "{detail}"
        ),
        other => panic!("{other:?}"),
    }
    let share = PlanOptions::new().allow_oversubscription(true);
    assert_eq!(plan(&topo, 4, &share), [1, 0, 1, 0]);
    assert_eq!(plan(&topo, 3, &share), [1, 0, 1]);
    // Roles that fit are placed as without the option.
    assert_eq!(plan(&topo, 2, &share), [1, 0]);
    assert!(!topo.plan(2, &share).unwrap().is_oversubscribed());
    let p = topo.plan(4, &share).unwrap();
    assert!(p.is_oversubscribed() && p.shares_cores());
    assert_eq!(
        p.to_string(),
        "cpu1, cpu0, cpu1, cpu0 (2 physical cores, 1 L3 domain, 4 roles on 2 CPUs)"
    );
    // No usable CPU at all: still an error.
    let none = share.exclude(set("0-1"));
    match topo.plan(1, &none) {
        Err(Error::NotEnoughCpus { available: 0, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn oversubscription_takes_cores_then_smt_siblings_then_reuses() {
    let topo = fixture("hybrid-8p16e");
    let cores_first = [2, 4, 6, 8, 10, 12, 14, 0];
    let e_cores = range(16..31);
    // Without SMT permission the siblings stay unused: 23 cores, then reuse.
    let p = plan(&topo, 25, &PlanOptions::new().allow_oversubscription(true));
    assert_eq!(p[..8], cores_first);
    assert_eq!(p[8..23], e_cores);
    assert_eq!(p[23..], [2, 4]);
    // With it: every core once, then the P-cores' siblings, then reuse.
    let both = PlanOptions::new()
        .allow_oversubscription(true)
        .allow_smt_siblings(true);
    let p = plan(&topo, 33, &both);
    assert_eq!(p[..8], cores_first);
    assert_eq!(p[8..23], e_cores);
    assert_eq!(p[23..31], [3, 5, 7, 9, 11, 13, 15, 1]);
    assert_eq!(p[31..], [2, 4]);
    let plan = topo.plan(33, &both).unwrap();
    assert_eq!(
        plan.to_string().rsplit_once('(').unwrap().1,
        "23 physical cores, 1 L3 domain, 33 roles on 31 CPUs)"
    );
}

#[test]
fn oversubscription_inside_one_l3_domain() {
    let topo = fixture("epyc-2s64c");
    let one_l3 = PlanOptions::new()
        .require_shared_l3(true)
        .allow_oversubscription(true);
    // CCX0 holds the avoided core 0 and CCX1 is isolated: CCX2's four cores.
    assert_eq!(plan(&topo, 6, &one_l3), [8, 9, 10, 11, 8, 9]);
    assert_eq!(
        plan(&topo, 10, &one_l3.allow_smt_siblings(true)),
        [8, 9, 10, 11, 72, 73, 74, 75, 8, 9]
    );
    // Without a shared L3 every eligible core serves before any reuse.
    let p = plan(&topo, 61, &PlanOptions::new().allow_oversubscription(true));
    assert_eq!(p[..60], plan(&topo, 60, &PlanOptions::new())[..]);
    assert_eq!(p[60], p[0]);
}

#[test]
fn summaries_count_in_the_singular_for_one() {
    let topo = fixture("vm-2c");
    assert_eq!(
        topo.plan(1, &PlanOptions::new()).unwrap().to_string(),
        "cpu1 (1 physical core, 1 L3 domain)"
    );
    let narrow = topo.with_allowed(set("1"));
    let err = narrow.plan(2, &PlanOptions::new()).unwrap_err().to_string();
    assert_eq!(
        err,
        "2 roles asked, 1 CPU usable: 2 CPUs online, 1 outside the affinity mask; \
         1 CPU eligible on 1 physical core in 1 L3 domain; \
         roles never share a CPU unless asked (PlanOptions::allow_oversubscription)"
    );
    let err = narrow
        .plan(1, &PlanOptions::new().exclude(set("1")))
        .unwrap_err();
    assert!(
        err.to_string().starts_with("1 role asked, 0 CPUs usable: "),
        "{err}"
    );
}
