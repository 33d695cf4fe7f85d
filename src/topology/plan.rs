//! Placement plans: which CPUs a pipeline of communicating threads should be
//! pinned to.
//!
//! Rules, strongest first:
//!
//! 1. Only *eligible* CPUs: online, in the allowed set (unless
//!    [`PlanOptions::ignore_affinity`]), not isolated (unless
//!    [`PlanOptions::allow_isolated`]), not [excluded](PlanOptions::exclude).
//! 2. Distinct physical cores: one CPU per core; SMT siblings only when there
//!    are not enough cores and [`PlanOptions::allow_smt_siblings`] is set.
//! 3. One L3 domain: all roles share an L3 when one L3 has room (required
//!    with [`PlanOptions::require_shared_l3`]); otherwise the fewest domains,
//!    largest first, then domains of the same NUMA node and package, with
//!    consecutive roles in the same domain.
//! 4. Fastest cores first (P-cores before E-cores on hybrid machines).
//! 5. Cores holding an [avoided](PlanOptions::avoid) CPU last (by default
//!    the core of the lowest online CPU, which takes most housekeeping
//!    interrupts).
//! 6. Never two roles on one CPU — unless
//!    [`PlanOptions::allow_oversubscription`] is set and the roles do not
//!    fit otherwise; see there for how they then share.
//!
//! Role `i` of the pipeline gets `plan.cpus()[i]`; neighbours in the
//! pipeline are neighbours in the plan.

use std::fmt;

use super::error::Count;
use super::{CpuId, CpuSet, Error, Topology};

/// What a [`Topology::plan`] may use. The default is strict: distinct
/// physical cores, no isolated CPUs, inside the process' allowed set, any
/// number of L3 domains, avoiding the core of the lowest online CPU, one
/// role a CPU.
///
/// # Examples
///
/// ```
/// use corelane::topology::{PlanOptions, Topology};
///
/// let topo = Topology::detect()?;
/// let opts = PlanOptions::new().allow_smt_siblings(true).allow_isolated(true);
/// let plan = topo.plan(1, &opts)?;
/// assert_eq!(plan.cpus().len(), 1);
/// # Ok::<(), corelane::topology::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    smt_siblings: bool,
    oversubscribe: bool,
    isolated: bool,
    ignore_affinity: bool,
    shared_l3: bool,
    avoid: Option<CpuSet>,
    exclude: CpuSet,
}

impl PlanOptions {
    /// The default options (see the type docs).
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = corelane::topology::PlanOptions::new();
    /// # let _ = opts;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows two roles on the hardware threads of one core when there are
    /// not enough physical cores (they then share L1/L2 and execution units).
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = corelane::topology::PlanOptions::new().allow_smt_siblings(true);
    /// # let _ = opts;
    /// ```
    pub fn allow_smt_siblings(mut self, yes: bool) -> Self {
        self.smt_siblings = yes;
        self
    }

    /// Allows more roles than CPUs: when the roles do not fit on the CPUs the
    /// other options leave, they share them instead of failing with
    /// [`Error::NotEnoughCpus`]. Off by default — a spinning role that shares
    /// a CPU waits for the scheduler's time slice, which is milliseconds,
    /// not nanoseconds — so use it for tests, CI machines and small VMs, and
    /// check [`Plan::is_oversubscribed`] (or print the plan) to warn.
    ///
    /// When the roles fit without sharing, this option changes nothing. When
    /// they do not, the plan takes every usable CPU in this order and gives
    /// them out round-robin (role `i` on CPU `i % n`):
    ///
    /// 1. one CPU on each distinct physical core, in the usual preference
    ///    order (largest L3 domain first, fastest cores first, avoided
    ///    cores last);
    /// 2. then the cores' SMT siblings, only with
    ///    [`allow_smt_siblings`](Self::allow_smt_siblings) (without it they
    ///    stay unused: no option turns on another);
    /// 3. then the same CPUs again, in the same order, as often as needed.
    ///
    /// With [`require_shared_l3`](Self::require_shared_l3) the CPUs come
    /// from the one L3 domain with the most of them.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::{PlanOptions, Topology};
    ///
    /// let topo = Topology::detect()?;
    /// let roles = topo.allowed().len() + 1; // one more than there are CPUs
    /// assert!(topo.plan(roles, &PlanOptions::new()).is_err());
    /// let share = PlanOptions::new()
    ///     .allow_oversubscription(true)
    ///     .allow_smt_siblings(true)
    ///     .allow_isolated(true);
    /// let plan = topo.plan(roles, &share)?;
    /// assert_eq!(plan.cpus().len(), roles);
    /// assert!(plan.is_oversubscribed());
    /// assert_eq!(plan.cpus()[roles - 1], plan.cpus()[0]); // the first CPU again
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn allow_oversubscription(mut self, yes: bool) -> Self {
        self.oversubscribe = yes;
        self
    }

    /// Allows CPUs isolated with `isolcpus=` (often exactly where a latency
    /// critical thread belongs; off by default because nothing else runs
    /// there unless placed).
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = corelane::topology::PlanOptions::new().allow_isolated(true);
    /// # let _ = opts;
    /// ```
    pub fn allow_isolated(mut self, yes: bool) -> Self {
        self.isolated = yes;
        self
    }

    /// Plans over all online CPUs instead of the process' allowed set (for
    /// a `taskset` applied later; pinning outside the set fails).
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = corelane::topology::PlanOptions::new().ignore_affinity(true);
    /// # let _ = opts;
    /// ```
    pub fn ignore_affinity(mut self, yes: bool) -> Self {
        self.ignore_affinity = yes;
        self
    }

    /// Fails rather than spreading the roles over more than one L3 domain.
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = corelane::topology::PlanOptions::new().require_shared_l3(true);
    /// # let _ = opts;
    /// ```
    pub fn require_shared_l3(mut self, yes: bool) -> Self {
        self.shared_l3 = yes;
        self
    }

    /// CPUs to use last, e.g. those taking the NIC's interrupts; a core with
    /// any of them is avoided as a whole. Replaces the default (the lowest
    /// online CPU); pass an empty set to avoid nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::PlanOptions;
    /// let opts = PlanOptions::new().avoid("0,8".parse()?);
    /// # Ok::<(), corelane::topology::ParseCpuSetError>(())
    /// ```
    pub fn avoid(mut self, cpus: CpuSet) -> Self {
        self.avoid = Some(cpus);
        self
    }

    /// CPUs never to use. The other hardware threads of their cores remain
    /// usable but are treated as [avoided](Self::avoid).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::PlanOptions;
    /// let opts = PlanOptions::new().exclude("2-3".parse()?);
    /// # Ok::<(), corelane::topology::ParseCpuSetError>(())
    /// ```
    pub fn exclude(mut self, cpus: CpuSet) -> Self {
        self.exclude = cpus;
        self
    }
}

/// The CPUs picked for a pipeline: role `i` runs on `cpus()[i]`.
///
/// Its `Display` form is the CPUs and a summary:
/// `cpu2, cpu3 (2 physical cores, 1 L3 domain)`, and for an
/// [oversubscribed](PlanOptions::allow_oversubscription) plan
/// `cpu1, cpu0, cpu1 (2 physical cores, 1 L3 domain, 3 roles on 2 CPUs)`.
///
/// # Examples
///
/// ```
/// use corelane::topology::{PlanOptions, Topology};
///
/// let topo = Topology::detect()?;
/// let plan = topo.plan(1, &PlanOptions::new())?;
/// println!("placing on {plan}");
/// # Ok::<(), corelane::topology::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Plan {
    cpus: Vec<CpuId>,
    /// Distinct CPUs in `cpus` (fewer than roles only when oversubscribed).
    distinct: usize,
    cores: usize,
    l3_domains: usize,
}

impl Plan {
    /// The CPUs, one per role. A CPU appears more than once only in an
    /// [oversubscribed](Self::is_oversubscribed) plan.
    ///
    /// # Examples
    ///
    /// ```
    /// # use corelane::topology::{PlanOptions, Topology};
    /// let plan = Topology::detect()?.plan(1, &PlanOptions::new())?;
    /// assert_eq!(plan.cpus().len(), 1);
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn cpus(&self) -> &[CpuId] {
        &self.cpus
    }

    /// The CPUs, one per role, by value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use corelane::topology::{PlanOptions, Topology};
    /// let cpus = Topology::detect()?.plan(1, &PlanOptions::new())?.into_cpus();
    /// assert_eq!(cpus.len(), 1);
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn into_cpus(self) -> Vec<CpuId> {
        self.cpus
    }

    /// Whether two roles share a physical core: SMT siblings or, in an
    /// [oversubscribed](Self::is_oversubscribed) plan, one CPU.
    ///
    /// # Examples
    ///
    /// ```
    /// # use corelane::topology::{PlanOptions, Topology};
    /// let plan = Topology::detect()?.plan(1, &PlanOptions::new())?;
    /// assert!(!plan.shares_cores());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn shares_cores(&self) -> bool {
        self.cores < self.cpus.len()
    }

    /// Whether some CPU runs more than one role (possible only with
    /// [`PlanOptions::allow_oversubscription`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use corelane::topology::{PlanOptions, Topology};
    /// let topo = Topology::detect()?;
    /// let opts = PlanOptions::new().allow_oversubscription(true).allow_isolated(true);
    /// let plan = topo.plan(2 * topo.allowed().len(), &opts)?;
    /// assert!(plan.is_oversubscribed());
    /// assert!(!topo.plan(1, &opts)?.is_oversubscribed());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn is_oversubscribed(&self) -> bool {
        self.distinct < self.cpus.len()
    }

    /// How many L3 domains the roles span (0 where no L3 is known).
    ///
    /// # Examples
    ///
    /// ```
    /// # use corelane::topology::{PlanOptions, Topology};
    /// let plan = Topology::detect()?.plan(1, &PlanOptions::new())?;
    /// assert!(plan.l3_domains() <= 1);
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn l3_domains(&self) -> usize {
        self.l3_domains
    }
}

impl fmt::Display for Plan {
    /// `cpu2, cpu3 (2 physical cores, 1 L3 domain)`; an oversubscribed plan
    /// adds `, 3 roles on 2 CPUs`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, cpu) in self.cpus.iter().enumerate() {
            write!(f, "{}{cpu}", if i == 0 { "" } else { ", " })?;
        }
        let (cores, l3s) = (
            Count(self.cores, "physical core"),
            Count(self.l3_domains, "L3 domain"),
        );
        write!(f, " ({cores}, {l3s}")?;
        if self.is_oversubscribed() {
            let (roles, cpus) = (Count(self.cpus.len(), "role"), Count(self.distinct, "CPU"));
            write!(f, ", {roles} on {cpus}")?;
        }
        f.write_str(")")
    }
}

/// Where a core's roles would share a last-level cache.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Domain {
    L3(usize),
    /// No L3 known: the package stands in.
    Package(u32),
}

/// An eligible core.
struct Cand {
    core: usize,
    /// Its eligible CPUs, lowest first.
    cpus: Vec<CpuId>,
    domain: Domain,
    perf: u8,
    avoided: bool,
    numa: Option<u32>,
    package: u32,
}

/// Eligible cores of one domain, in preference order.
struct Group<'a> {
    cores: Vec<&'a Cand>,
}

impl Group<'_> {
    /// Up to `per_core` CPUs per core: every core's first CPU, then every
    /// core's second, ...
    fn slots(&self, per_core: usize) -> Vec<(CpuId, &Cand)> {
        let threads = self.cores.iter().map(|c| c.cpus.len()).max().unwrap_or(0);
        (0..per_core.min(threads))
            .flat_map(|t| {
                self.cores
                    .iter()
                    .filter_map(move |c| c.cpus.get(t).map(|&cpu| (cpu, *c)))
            })
            .collect()
    }

    fn first(&self) -> &Cand {
        self.cores[0]
    }
}

impl Topology {
    /// Picks `roles` CPUs for a pipeline of communicating threads, by the
    /// rules in [`PlanOptions`]'s module: eligible CPUs only, distinct
    /// physical cores, one L3 domain where possible, fastest cores first,
    /// avoided cores last; one role a CPU unless
    /// [`PlanOptions::allow_oversubscription`] says otherwise. Deterministic
    /// for a given topology and options.
    ///
    /// # Errors
    ///
    /// [`Error::NotEnoughCpus`] when the options leave too few CPUs (with
    /// oversubscription: none at all); its `detail` says what was filtered
    /// out and which option would help.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::{Error, PlanOptions, Topology};
    ///
    /// let topo = Topology::detect()?;
    /// match topo.plan(2, &PlanOptions::new()) {
    ///     Ok(plan) => println!("producer on {}, consumer on {}", plan.cpus()[0], plan.cpus()[1]),
    ///     Err(Error::NotEnoughCpus { detail, .. }) => println!("single core machine: {detail}"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn plan(&self, roles: usize, opts: &PlanOptions) -> Result<Plan, Error> {
        let eligible = self.eligible(opts);
        let cands = self.candidates(&eligible, opts);
        let groups = group(&cands);
        let attempts = [(false, true), (false, false), (true, true), (true, false)];
        for (smt, one_l3) in attempts {
            if (smt && !opts.smt_siblings) || (!one_l3 && opts.shared_l3) {
                continue;
            }
            let per_core = if smt { usize::MAX } else { 1 };
            let picked = if one_l3 {
                in_one_domain(&groups, roles, per_core)
            } else {
                spread(&groups, roles, per_core)
            };
            if let Some(cpus) = picked {
                return Ok(self.make_plan(cpus));
            }
        }
        if opts.oversubscribe {
            if let Some(cpus) = oversubscribed(&groups, roles, opts) {
                return Ok(self.make_plan(cpus));
            }
        }
        Err(self.not_enough(roles, &eligible, &groups, opts))
    }

    fn eligible(&self, opts: &PlanOptions) -> CpuSet {
        let mut set = if opts.ignore_affinity {
            self.online.clone()
        } else {
            self.allowed.clone()
        };
        if !opts.isolated {
            set = set.difference(&self.isolated);
        }
        set.difference(&opts.exclude)
    }

    /// Eligible cores, fastest first, avoided last, then by core order.
    fn candidates(&self, eligible: &CpuSet, opts: &PlanOptions) -> Vec<Cand> {
        let default_avoid = self.online.first().into_iter().collect();
        // A core with an excluded CPU still offers its other threads, last.
        let avoid = opts
            .avoid
            .as_ref()
            .unwrap_or(&default_avoid)
            .union(&opts.exclude);
        let avoid = &avoid;
        let mut cands: Vec<Cand> = (self.cores.iter().enumerate())
            .filter_map(|(i, core)| {
                let cpus: Vec<CpuId> = core.cpus.intersection(eligible).iter().collect();
                let first = self.cpu(*cpus.first()?)?;
                let domain = first.l3.map_or(Domain::Package(first.package), Domain::L3);
                let avoided = !core.cpus.intersection(avoid).is_empty();
                let (perf, numa, package) = (core.perf_class, first.numa_node, first.package);
                Some(Cand {
                    core: i,
                    cpus,
                    domain,
                    perf,
                    avoided,
                    numa,
                    package,
                })
            })
            .collect();
        cands.sort_by_key(|c| (std::cmp::Reverse(c.perf), c.avoided, c.core));
        cands
    }

    fn make_plan(&self, cpus: Vec<CpuId>) -> Plan {
        let mut cores: Vec<usize> = cpus
            .iter()
            .filter_map(|&c| self.cpu(c))
            .map(|c| c.core)
            .collect();
        let mut l3s: Vec<usize> = cpus.iter().filter_map(|&c| self.cpu(c)?.l3).collect();
        let mut distinct = cpus.clone();
        for v in [&mut cores, &mut l3s] {
            v.sort_unstable();
            v.dedup();
        }
        distinct.sort_unstable();
        distinct.dedup();
        Plan {
            distinct: distinct.len(),
            cpus,
            cores: cores.len(),
            l3_domains: l3s.len(),
        }
    }

    #[cold]
    fn not_enough(
        &self,
        roles: usize,
        eligible: &CpuSet,
        groups: &[Group<'_>],
        opts: &PlanOptions,
    ) -> Error {
        let per_core = if opts.smt_siblings { usize::MAX } else { 1 };
        let sizes = groups.iter().map(|g| g.slots(per_core).len());
        let available = if opts.shared_l3 {
            sizes.max().unwrap_or(0)
        } else {
            sizes.sum()
        };
        let mut detail = format!("{} online", Count(self.online.len(), "CPU"));
        let outside = self.online.difference(&self.allowed).len();
        if opts.ignore_affinity {
            detail += ", affinity mask ignored";
        } else if outside > 0 {
            detail += &format!(", {outside} outside the affinity mask");
        }
        let isolated = self.isolated.intersection(if opts.ignore_affinity {
            &self.online
        } else {
            &self.allowed
        });
        if !opts.isolated && !isolated.is_empty() {
            detail += &format!(
                ", {} isolated skipped (PlanOptions::allow_isolated)",
                isolated.len()
            );
        }
        if !opts.exclude.is_empty() {
            detail += &format!(", excluded [{}]", opts.exclude);
        }
        let cores: usize = groups.iter().map(|g| g.cores.len()).sum();
        detail += &format!(
            "; {} eligible on {} in {}",
            Count(eligible.len(), "CPU"),
            Count(cores, "physical core"),
            Count(groups.len(), "L3 domain"),
        );
        if !opts.smt_siblings && eligible.len() > cores {
            detail += "; SMT siblings not used (PlanOptions::allow_smt_siblings)";
        }
        if opts.shared_l3 {
            detail += "; one L3 domain required (PlanOptions::require_shared_l3)";
        }
        if !opts.oversubscribe && available > 0 {
            detail +=
                "; roles never share a CPU unless asked (PlanOptions::allow_oversubscription)";
        }
        Error::NotEnoughCpus {
            requested: roles,
            available,
            detail,
        }
    }
}

/// Groups candidates by domain; groups and their cores keep the candidates'
/// preference order.
fn group(cands: &[Cand]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for c in cands {
        match groups.iter_mut().find(|g| g.first().domain == c.domain) {
            Some(g) => g.cores.push(c),
            None => groups.push(Group { cores: vec![c] }),
        }
    }
    groups
}

/// The best single domain that holds all roles: fastest cores, then fewest
/// avoided cores, then the earliest domain.
fn in_one_domain(groups: &[Group<'_>], roles: usize, per_core: usize) -> Option<Vec<CpuId>> {
    let mut best: Option<(Vec<CpuId>, (u32, usize))> = None;
    for g in groups {
        let slots = g.slots(per_core);
        if slots.len() < roles {
            continue;
        }
        let chosen = &slots[..roles];
        let perf: u32 = chosen.iter().map(|(_, c)| u32::from(c.perf)).sum();
        let avoided = chosen.iter().filter(|(_, c)| c.avoided).count();
        let score = (perf, usize::MAX - avoided);
        if best.as_ref().is_none_or(|(_, s)| score > *s) {
            best = Some((chosen.iter().map(|(cpu, _)| *cpu).collect(), score));
        }
    }
    best.map(|(cpus, _)| cpus)
}

/// More roles than usable CPUs, by [`PlanOptions::allow_oversubscription`]'s
/// rule: the usable CPUs in spreading order (one per core, then SMT
/// siblings where allowed) — from the best single domain when one L3 is
/// required — given out round-robin. `None` when no CPU is usable.
fn oversubscribed(groups: &[Group<'_>], roles: usize, opts: &PlanOptions) -> Option<Vec<CpuId>> {
    let per_core = if opts.smt_siblings { usize::MAX } else { 1 };
    let sizes = groups.iter().map(|g| g.slots(per_core).len());
    let order = if opts.shared_l3 {
        in_one_domain(groups, sizes.max()?, per_core)?
    } else {
        spread(groups, sizes.sum(), per_core)?
    };
    if order.is_empty() {
        return None;
    }
    Some(order.iter().copied().cycle().take(roles).collect())
}

/// Roles over several domains: the largest domain first, then domains of
/// the same NUMA node, then of the same package, larger first. Every core's
/// first CPU before any second thread.
fn spread(groups: &[Group<'_>], roles: usize, per_core: usize) -> Option<Vec<CpuId>> {
    // Larger first; among equals, the one with fewer avoided cores.
    let size = |g: &Group<'_>| (g.cores.len(), g.cores.iter().filter(|c| !c.avoided).count());
    let start = groups
        .iter()
        .enumerate()
        .max_by_key(|(i, g)| (size(g), usize::MAX - i))?
        .1;
    let mut order: Vec<&Group<'_>> = groups.iter().filter(|g| !std::ptr::eq(*g, start)).collect();
    let home = start.first();
    order.sort_by_key(|g| {
        (
            g.first().numa != home.numa,
            g.first().package != home.package,
            std::cmp::Reverse(size(g)),
        )
    });
    order.insert(0, start);
    let threads = groups
        .iter()
        .flat_map(|g| &g.cores)
        .map(|c| c.cpus.len())
        .max()
        .unwrap_or(0);
    let mut cpus = Vec::with_capacity(roles);
    for t in 0..per_core.min(threads) {
        let round = order
            .iter()
            .flat_map(|g| g.cores.iter().filter_map(move |c| c.cpus.get(t).copied()));
        let before = cpus.len();
        cpus.extend(round.take(roles - cpus.len()));
        if cpus.len() == roles {
            return Some(cpus);
        }
        debug_assert!(
            cpus.len() > before,
            "every thread index up to the largest core adds a CPU"
        );
    }
    None
}

#[cfg(test)]
mod tests;
