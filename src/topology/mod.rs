//! Machine topology and pinning: which CPUs share a core, an L2, an L3, a
//! socket, a NUMA node; where this process may run; pinning threads there;
//! placement plans for a pipeline of threads; core-to-core latency.
//!
//! # Model
//!
//! [`Topology::detect`] reads the machine once: online logical CPUs
//! ([`Cpu`]), physical cores with their SMT siblings ([`Core`]), packages,
//! L2/L3 sharing sets ([`Cache`]), NUMA nodes, the process affinity mask
//! ([`allowed_cpus`]: the main thread's mask, so it is right even when
//! called from a pinned thread), `isolcpus=` CPUs and offline CPUs, and
//! performance classes on hybrid machines (P-cores above E-cores).
//!
//! Two back-ends fill the same model: Linux sysfs (the default, no C
//! dependency, a fraction of a millisecond) and, with the `hwloc` feature,
//! the hwloc library (`Topology::detect_hwloc`). Both are normalised the
//! same way, so on one machine they compare equal (tested).
//! [`Topology::from_sysfs_root`] reads a copy of the sysfs tree instead of
//! `/sys`; the crate's tests use fixture trees of a 2-socket 64-core SMT
//! machine, a hybrid P/E-core machine and a 2-CPU VM.
//!
//! # Pinning and placement
//!
//! [`pin_current_thread`] pins and verifies; [`Topology::plan`] picks CPUs
//! for `n` communicating roles: distinct physical cores first, inside one
//! L3 domain, fastest cores first; SMT siblings, isolated CPUs and more roles
//! than CPUs (oversubscription) only when asked (see [`PlanOptions`]).
//!
//! # Core-to-core latency
//!
//! [`c2c`] measures the cache-line round trip between two pinned threads,
//! for one pair or for every pair of allowed CPUs, and draws the matrix as an
//! SVG heat map.
//!
//! # Examples
//!
//! ```
//! use corelane::topology::{self, PlanOptions, Topology};
//!
//! let topo = Topology::detect()?;
//! println!("{} CPUs, {} cores, allowed [{}]", topo.cpus().len(), topo.cores().len(), topo.allowed());
//! let plan = topo.plan(1, &PlanOptions::new())?;
//! let cpu = plan.cpus()[0];
//! std::thread::spawn(move || topology::pin_current_thread(cpu)).join().unwrap()?;
//! # Ok::<(), topology::Error>(())
//! ```

mod affinity;
pub mod c2c;
mod cpuset;
mod error;
#[cfg(feature = "hwloc")]
mod hwloc;
mod model;
mod plan;
mod sysfs;

use std::path::Path;

pub use affinity::{
    allowed_cpus, current_cpu, pin_current_thread, thread_affinity, unpin_current_thread,
};
pub use cpuset::{CpuId, CpuSet, ParseCpuSetError};
pub use error::Error;
pub use model::{Backend, Cache, Core, Cpu, NumaNode, Package};
pub use plan::{Plan, PlanOptions};

/// A snapshot of the machine's topology. See the [module docs](self).
///
/// # Examples
///
/// ```
/// use corelane::topology::Topology;
///
/// let topo = Topology::detect()?;
/// assert!(topo.allowed().is_subset(topo.online()));
/// for core in topo.cores() {
///     println!("core [{}] in package {}", core.cpus, core.package);
/// }
/// # Ok::<(), corelane::topology::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Topology {
    backend: Backend,
    cpus: Vec<Cpu>,
    cores: Vec<Core>,
    packages: Vec<Package>,
    caches: Vec<Cache>,
    numa_nodes: Vec<NumaNode>,
    online: CpuSet,
    offline: CpuSet,
    isolated: CpuSet,
    allowed: CpuSet,
}

impl Topology {
    /// Reads this machine's topology from `/sys` and the process affinity
    /// mask ([`allowed_cpus`]).
    ///
    /// # Errors
    ///
    /// [`Error::Read`] / [`Error::Parse`] naming the sysfs file that is
    /// missing or garbled (e.g. no `/sys` mounted), [`Error::Syscall`] if
    /// `sched_getaffinity` fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// assert!(!topo.cpus().is_empty());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn detect() -> Result<Topology, Error> {
        let allowed = allowed_cpus()?;
        let mut raw = sysfs::load(Path::new("/sys"))?;
        raw.allowed = allowed;
        raw.assemble(Backend::Sysfs)
    }

    /// Reads a sysfs tree rooted at `root` (the directory that holds
    /// `devices/system/cpu`), e.g. a fixture copied from another machine.
    /// The allowed set is every online CPU of the tree; narrow it with
    /// [`with_allowed`](Self::with_allowed).
    ///
    /// # Errors
    ///
    /// [`Error::Read`] / [`Error::Parse`] naming the file that is missing or
    /// garbled.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::Topology;
    ///
    /// let topo = Topology::from_sysfs_root("/sys")?;
    /// assert_eq!(topo.allowed(), topo.online());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn from_sysfs_root(root: impl AsRef<Path>) -> Result<Topology, Error> {
        let mut raw = sysfs::load(root.as_ref())?;
        raw.allowed = raw.online.clone();
        raw.assemble(Backend::Sysfs)
    }

    /// Reads this machine's topology through the hwloc library. hwloc does
    /// not report `isolcpus=` or offline CPUs; those two sets are read from
    /// `/sys/devices/system/cpu/{isolated,offline}`. The allowed set is the
    /// main thread's binding as hwloc reports it (the definition of
    /// [`allowed_cpus`], read fresh).
    ///
    /// Available with the `hwloc` feature.
    ///
    /// # Errors
    ///
    /// [`Error::Hwloc`] if hwloc fails to load the topology or the process
    /// binding, [`Error::Read`] / [`Error::Parse`] for the two sysfs files.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::{Backend, Topology};
    ///
    /// let topo = Topology::detect_hwloc()?;
    /// assert_eq!(topo.backend(), Backend::Hwloc);
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    #[cfg(feature = "hwloc")]
    pub fn detect_hwloc() -> Result<Topology, Error> {
        hwloc::load()?.assemble(Backend::Hwloc)
    }

    /// Replaces the allowed set (cut to online CPUs), e.g. to plan for a
    /// `taskset` that will be applied later or to test a fixture.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::{CpuSet, Topology};
    ///
    /// let topo = Topology::detect()?.with_allowed("0".parse()?);
    /// assert!(topo.allowed().len() <= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_allowed(mut self, allowed: CpuSet) -> Topology {
        self.allowed = allowed.intersection(&self.online);
        self
    }

    /// The back-end that built this value.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::{Backend, Topology};
    /// assert_eq!(Topology::detect()?.backend(), Backend::Sysfs);
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Online logical CPUs, by increasing id.
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// assert_eq!(topo.cpus().len(), topo.online().len());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn cpus(&self) -> &[Cpu] {
        &self.cpus
    }

    /// The online CPU `id`, if there is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::{CpuId, Topology};
    ///
    /// let topo = Topology::detect()?;
    /// let first = topo.online().first().unwrap();
    /// assert_eq!(topo.cpu(first).unwrap().id, first);
    /// assert!(topo.cpu(CpuId::new(60_000)).is_none());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn cpu(&self, id: CpuId) -> Option<&Cpu> {
        self.cpus
            .binary_search_by_key(&id, |c| c.id)
            .ok()
            .map(|i| &self.cpus[i])
    }

    /// Physical cores, ordered by their lowest CPU.
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// assert!(topo.cores().len() <= topo.cpus().len());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn cores(&self) -> &[Core] {
        &self.cores
    }

    /// Packages (sockets) with online CPUs, by id.
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// assert!(!topo.packages().is_empty());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }

    /// Data/unified caches of level 2 and above, by (level, lowest CPU).
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// let l3s = topo.caches().iter().filter(|c| c.level == 3).count();
    /// println!("{l3s} L3 domains");
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn caches(&self) -> &[Cache] {
        &self.caches
    }

    /// NUMA nodes, by id (a memory-only node has no CPUs).
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// assert!(!topo.numa_nodes().is_empty());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn numa_nodes(&self) -> &[NumaNode] {
        &self.numa_nodes
    }

    /// Online CPUs.
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// assert!(!topo.online().is_empty());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn online(&self) -> &CpuSet {
        &self.online
    }

    /// CPUs that exist but are offline (not in any other set).
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// assert!(topo.offline().intersection(topo.online()).is_empty());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn offline(&self) -> &CpuSet {
        &self.offline
    }

    /// Online CPUs isolated from the scheduler (`isolcpus=`).
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// println!("isolated: [{}]", topo.isolated());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn isolated(&self) -> &CpuSet {
        &self.isolated
    }

    /// Online CPUs this process may run on (see [`allowed_cpus`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// assert!(topo.allowed().is_subset(topo.online()));
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn allowed(&self) -> &CpuSet {
        &self.allowed
    }

    /// The other hardware threads of `cpu`'s core (empty without SMT or for
    /// an unknown CPU).
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// let cpu = topo.online().first().unwrap();
    /// assert!(!topo.smt_siblings(cpu).contains(cpu));
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn smt_siblings(&self, cpu: CpuId) -> CpuSet {
        let mut set = self
            .cpu(cpu)
            .map(|c| self.cores[c.core].cpus.clone())
            .unwrap_or_default();
        set.remove(cpu);
        set
    }

    /// The smallest cache (L2 before L3) shared by `a` and `b`, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// if let [a, b, ..] = topo.cpus() {
    ///     match topo.shared_cache(a.id, b.id) {
    ///         Some(cache) => println!("{} and {} share an L{}", a.id, b.id, cache.level),
    ///         None => println!("{} and {} share no cache", a.id, b.id),
    ///     }
    /// }
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn shared_cache(&self, a: CpuId, b: CpuId) -> Option<&Cache> {
        self.caches
            .iter()
            .find(|c| c.cpus.contains(a) && c.cpus.contains(b))
    }

    /// Whether the machine has more than one kind of core (P/E cores,
    /// big.LITTLE).
    ///
    /// # Examples
    ///
    /// ```
    /// let topo = corelane::topology::Topology::detect()?;
    /// println!("hybrid: {}", topo.is_hybrid());
    /// # Ok::<(), corelane::topology::Error>(())
    /// ```
    pub fn is_hybrid(&self) -> bool {
        self.cores.iter().any(|c| c.perf_class > 0)
    }
}
