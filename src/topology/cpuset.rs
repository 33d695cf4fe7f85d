//! Logical CPU ids and sets of them, in the kernel's list format (`0-3,8`).

use std::fmt;
use std::str::FromStr;

/// The largest CPU id a [`CpuSet`] accepts when parsing (exclusive): far above
/// any Linux `NR_CPUS`, low enough that a garbled file such as `0-4294967295`
/// cannot make us allocate gigabytes.
pub(crate) const MAX_CPUS: u32 = 1 << 16;

/// A logical CPU as the kernel numbers it: the `N` of
/// `/sys/devices/system/cpu/cpuN`, the bit of an affinity mask.
///
/// # Examples
///
/// ```
/// use corelane::topology::CpuId;
///
/// let cpu = CpuId::new(3);
/// assert_eq!(cpu.get(), 3);
/// assert_eq!(cpu.to_string(), "cpu3");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct CpuId(u32);

impl CpuId {
    /// The CPU with kernel number `n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::CpuId;
    /// assert_eq!(CpuId::new(0).get(), 0);
    /// ```
    #[inline]
    pub const fn new(n: u32) -> Self {
        CpuId(n)
    }

    /// The kernel number of this CPU.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::CpuId;
    /// assert_eq!(CpuId::new(7).get(), 7);
    /// ```
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The kernel number as an index (bit position in an affinity mask).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::CpuId;
    /// assert_eq!(CpuId::new(7).index(), 7usize);
    /// ```
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for CpuId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpu{}", self.0)
    }
}

impl From<u32> for CpuId {
    fn from(n: u32) -> Self {
        CpuId(n)
    }
}

/// A set of logical CPUs (an affinity mask), printed and parsed in the
/// kernel's list format: `0-3,8,10-11`.
///
/// # Examples
///
/// ```
/// use corelane::topology::{CpuId, CpuSet};
///
/// let set: CpuSet = "0-3,8".parse()?;
/// assert_eq!(set.len(), 5);
/// assert!(set.contains(CpuId::new(8)));
/// assert_eq!(set.to_string(), "0-3,8");
/// # Ok::<(), corelane::topology::ParseCpuSetError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct CpuSet {
    /// Bit `i % 64` of word `i / 64` is CPU `i`. Invariant: no trailing zero
    /// word, so derived equality is set equality.
    words: Vec<u64>,
}

impl CpuSet {
    /// The empty set.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::CpuSet;
    /// assert!(CpuSet::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        CpuSet { words: Vec::new() }
    }

    /// Adds `cpu`; returns whether it was absent.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::{CpuId, CpuSet};
    /// let mut set = CpuSet::new();
    /// assert!(set.insert(CpuId::new(2)));
    /// assert!(!set.insert(CpuId::new(2)));
    /// ```
    pub fn insert(&mut self, cpu: CpuId) -> bool {
        let (w, bit) = (cpu.index() / 64, 1u64 << (cpu.index() % 64));
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let absent = self.words[w] & bit == 0;
        self.words[w] |= bit;
        absent
    }

    /// Removes `cpu`; returns whether it was present.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::{CpuId, CpuSet};
    /// let mut set: CpuSet = [CpuId::new(1)].into_iter().collect();
    /// assert!(set.remove(CpuId::new(1)));
    /// assert!(set.is_empty());
    /// ```
    pub fn remove(&mut self, cpu: CpuId) -> bool {
        let present = self.contains(cpu);
        if present {
            self.words[cpu.index() / 64] &= !(1u64 << (cpu.index() % 64));
            self.trim();
        }
        present
    }

    /// Whether `cpu` is in the set.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::{CpuId, CpuSet};
    /// let set: CpuSet = [CpuId::new(1)].into_iter().collect();
    /// assert!(set.contains(CpuId::new(1)));
    /// assert!(!set.contains(CpuId::new(1000)));
    /// ```
    #[inline]
    pub fn contains(&self, cpu: CpuId) -> bool {
        self.words
            .get(cpu.index() / 64)
            .is_some_and(|w| w & (1u64 << (cpu.index() % 64)) != 0)
    }

    /// Number of CPUs in the set.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::CpuSet;
    /// assert_eq!("0-2,5".parse::<CpuSet>()?.len(), 4);
    /// # Ok::<(), corelane::topology::ParseCpuSetError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::CpuSet;
    /// assert!("".parse::<CpuSet>()?.is_empty());
    /// # Ok::<(), corelane::topology::ParseCpuSetError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The lowest CPU of the set.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::{CpuId, CpuSet};
    /// assert_eq!("4-6".parse::<CpuSet>()?.first(), Some(CpuId::new(4)));
    /// # Ok::<(), corelane::topology::ParseCpuSetError>(())
    /// ```
    pub fn first(&self) -> Option<CpuId> {
        self.iter().next()
    }

    /// The CPUs of the set, in increasing order.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::{CpuId, CpuSet};
    /// let set: CpuSet = "1,3".parse()?;
    /// assert_eq!(set.iter().collect::<Vec<_>>(), [CpuId::new(1), CpuId::new(3)]);
    /// # Ok::<(), corelane::topology::ParseCpuSetError>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = CpuId> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut rest = w;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros();
                rest &= rest - 1;
                Some(CpuId::new(i as u32 * 64 + bit))
            })
        })
    }

    /// CPUs in `self` or in `other`.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::CpuSet;
    /// let a: CpuSet = "0-1".parse()?;
    /// assert_eq!(a.union(&"4".parse()?).to_string(), "0-1,4");
    /// # Ok::<(), corelane::topology::ParseCpuSetError>(())
    /// ```
    pub fn union(&self, other: &CpuSet) -> CpuSet {
        let (long, short) = if self.words.len() >= other.words.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut words = long.words.clone();
        words
            .iter_mut()
            .zip(&short.words)
            .for_each(|(a, b)| *a |= b);
        CpuSet { words }
    }

    /// CPUs in both `self` and `other`.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::CpuSet;
    /// let a: CpuSet = "0-3".parse()?;
    /// assert_eq!(a.intersection(&"2-9".parse()?).to_string(), "2-3");
    /// # Ok::<(), corelane::topology::ParseCpuSetError>(())
    /// ```
    pub fn intersection(&self, other: &CpuSet) -> CpuSet {
        let words = self
            .words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| a & b)
            .collect();
        let mut set = CpuSet { words };
        set.trim();
        set
    }

    /// CPUs in `self` but not in `other`.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::CpuSet;
    /// let a: CpuSet = "0-3".parse()?;
    /// assert_eq!(a.difference(&"1-2".parse()?).to_string(), "0,3");
    /// # Ok::<(), corelane::topology::ParseCpuSetError>(())
    /// ```
    pub fn difference(&self, other: &CpuSet) -> CpuSet {
        let mut words = self.words.clone();
        words
            .iter_mut()
            .zip(&other.words)
            .for_each(|(a, b)| *a &= !b);
        let mut set = CpuSet { words };
        set.trim();
        set
    }

    /// Whether every CPU of `self` is in `other`.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::topology::CpuSet;
    /// let a: CpuSet = "1-2".parse()?;
    /// assert!(a.is_subset(&"0-3".parse()?));
    /// # Ok::<(), corelane::topology::ParseCpuSetError>(())
    /// ```
    pub fn is_subset(&self, other: &CpuSet) -> bool {
        self.difference(other).is_empty()
    }

    /// The raw mask words (bit `i % 64` of word `i / 64` is CPU `i`).
    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    /// Builds a set from raw mask words.
    pub(crate) fn from_words(words: Vec<u64>) -> CpuSet {
        let mut set = CpuSet { words };
        set.trim();
        set
    }

    fn trim(&mut self) {
        while self.words.last() == Some(&0) {
            self.words.pop();
        }
    }
}

impl FromIterator<CpuId> for CpuSet {
    fn from_iter<I: IntoIterator<Item = CpuId>>(iter: I) -> Self {
        let mut set = CpuSet::new();
        set.extend(iter);
        set
    }
}

impl Extend<CpuId> for CpuSet {
    fn extend<I: IntoIterator<Item = CpuId>>(&mut self, iter: I) {
        for cpu in iter {
            self.insert(cpu);
        }
    }
}

impl fmt::Display for CpuSet {
    /// The kernel list format, e.g. `0-3,8`; the empty set prints as nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut run: Option<(u32, u32)> = None;
        let mut first = true;
        let mut flush = |f: &mut fmt::Formatter<'_>, (lo, hi): (u32, u32)| {
            let sep = if std::mem::take(&mut first) { "" } else { "," };
            match hi - lo {
                0 => write!(f, "{sep}{lo}"),
                _ => write!(f, "{sep}{lo}-{hi}"),
            }
        };
        for cpu in self.iter().map(CpuId::get) {
            run = match run {
                Some((lo, hi)) if hi + 1 == cpu => Some((lo, cpu)),
                Some(r) => {
                    flush(f, r)?;
                    Some((cpu, cpu))
                }
                None => Some((cpu, cpu)),
            };
        }
        run.map_or(Ok(()), |r| flush(f, r))
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuSet{{{self}}}")
    }
}

/// A CPU list (`0-3,8`) that did not parse.
///
/// # Examples
///
/// ```
/// use corelane::topology::CpuSet;
/// let err = "3-1".parse::<CpuSet>().unwrap_err();
/// assert!(err.to_string().contains("3-1"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseCpuSetError {
    item: String,
}

impl fmt::Display for ParseCpuSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid CPU list item {:?} (expected `N` or `N-M`, N <= M < {MAX_CPUS})",
            self.item
        )
    }
}

impl std::error::Error for ParseCpuSetError {}

impl FromStr for CpuSet {
    type Err = ParseCpuSetError;

    /// Parses the kernel list format: comma-separated `N` or `N-M` items,
    /// surrounding whitespace ignored, the empty string is the empty set.
    /// The `N-M:stride` form of `isolcpus` is accepted too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = CpuSet::new();
        for item in s.trim().split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || ParseCpuSetError {
                item: item.to_owned(),
            };
            let (range, stride) = match item.split_once(':') {
                Some((r, s)) => (r, s.parse::<u32>().ok().filter(|&s| s > 0).ok_or_else(bad)?),
                None => (item, 1),
            };
            let (lo, hi) = match range.split_once('-') {
                Some((lo, hi)) => (
                    parse_cpu(lo).ok_or_else(bad)?,
                    parse_cpu(hi).ok_or_else(bad)?,
                ),
                None => {
                    let n = parse_cpu(range).ok_or_else(bad)?;
                    (n, n)
                }
            };
            if lo > hi {
                return Err(bad());
            }
            set.extend((lo..=hi).step_by(stride as usize).map(CpuId::new));
        }
        Ok(set)
    }
}

fn parse_cpu(s: &str) -> Option<u32> {
    s.trim().parse::<u32>().ok().filter(|&n| n < MAX_CPUS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_round_trips() {
        for s in ["", "0", "0-1", "0-3,8,10-11", "63-65,127-128", "1,3,5"] {
            let set: CpuSet = s.parse().unwrap();
            assert_eq!(set.to_string(), s);
        }
    }

    #[test]
    fn parse_tolerates_whitespace_and_strides() {
        let set: CpuSet = " 0-1 ,4\n".parse().unwrap();
        assert_eq!(set.to_string(), "0-1,4");
        let set: CpuSet = "0-8:4".parse().unwrap();
        assert_eq!(set.to_string(), "0,4,8");
    }

    #[test]
    fn parse_rejects_garbage() {
        for s in [
            "x",
            "1-",
            "-1",
            "3-1",
            "0-4294967295",
            "70000",
            "1:0",
            "1,,2x",
        ] {
            assert!(s.parse::<CpuSet>().is_err(), "{s:?} parsed");
        }
    }

    #[test]
    fn set_algebra_keeps_canonical_form() {
        let a: CpuSet = "0-3,200".parse().unwrap();
        let b: CpuSet = "200".parse().unwrap();
        assert_eq!(a.difference(&b), "0-3".parse().unwrap());
        assert_eq!(a.intersection(&"0".parse().unwrap()), "0".parse().unwrap());
        assert_eq!(b.union(&a), a);
        assert!(b.is_subset(&a));
        let mut c = b.clone();
        c.remove(CpuId::new(200));
        assert_eq!(c, CpuSet::new());
        assert_eq!(CpuSet::from_words(vec![0b101, 0]).to_string(), "0,2");
    }
}
