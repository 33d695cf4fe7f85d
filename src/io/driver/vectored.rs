//! Vectored sends: many `Bytes` in one `IORING_OP_SENDMSG`.
//!
//! **Ground rules.**
//!
//! - A vectored send's memory is one [`Vectored`] in a `Box`, held by the
//!   op's slot as [`Mem::Vectored`] from submission to the op's terminal
//!   completion, like any op memory (see the driver's ownership rule). The
//!   entry points at the box's `msghdr`, the `msghdr` at the box's iovec
//!   array, the iovecs at the data of the box's `Bytes`. Moving the `Mem`
//!   (into the slot, out of it) moves the box pointer, never the heap block
//!   it points to; the iovec array is a `Vec` written (and so possibly
//!   reallocated) only while no SQE of the op is in the kernel
//!   ([`Driver::vectored`], [`Vectored::aim`], [`Vectored::clear`]); a
//!   `Bytes` handle points at data that does not move when the handle
//!   does (a heap block, a static, or an owner kept in its own
//!   allocation), and the buffer list is not touched while the op is in
//!   flight. So every pointer stays valid until the slot lets go of the
//!   box, after the terminal completion.
//! - `aim` runs only when no SQE of the op is in the kernel: before the
//!   first submission, and on a short completion before the resubmission
//!   (the kernel is done with the previous `msghdr` once it has posted
//!   that completion).
//! - At most [`IOV_MAX`] iovecs per SQE (the kernel refuses more); the rest
//!   of a longer list goes out through the short-send path, which resumes
//!   from the first unsent byte, across buffer boundaries.
//! - The `Bytes` are dropped only after the driver's borrow has ended
//!   ([`park::discard`](super::park::discard)); the emptied box then goes
//!   back to the driver's pool ([`Driver::put_vectored`]).

use super::{opcode, squeue, types, Driver, Mem, Target};
use bytes::Bytes;

/// The most iovecs one `sendmsg` takes (`UIO_MAXIOV`).
pub(crate) const IOV_MAX: usize = libc::UIO_MAXIOV as usize;

/// Spare vectored-send storage the driver keeps, and the largest buffer
/// list it keeps one for.
const POOL: usize = 64;
const POOL_BUFS: usize = 4096;

/// A vectored send's memory: the buffers, and the iovecs and `msghdr` of
/// the SQE in flight (pointing into them).
pub(crate) struct Vectored {
    bufs: Vec<Bytes>,
    /// The sum of the buffers' lengths.
    total: usize,
    /// Where the last `aim` started: a buffer's index and the stream offset
    /// of its first byte (the next `aim` starts its search there).
    cursor: (usize, usize),
    iov: Vec<libc::iovec>,
    msg: libc::msghdr,
}

impl Vectored {
    fn new() -> Vectored {
        Vectored {
            bufs: Vec::new(),
            total: 0,
            cursor: (0, 0),
            iov: Vec::new(),
            // SAFETY: all-zero is a valid msghdr: null pointers, zero lengths.
            msg: unsafe { std::mem::zeroed() },
        }
    }

    /// The bytes the send sends.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// Points the iovecs at the bytes from stream offset `off` on (the
    /// rest of the buffer that holds it, then the next non-empty buffers,
    /// at most [`IOV_MAX`]) and the `msghdr` at the iovecs.
    fn aim(&mut self, off: usize) {
        let (mut i, mut pos) = if off >= self.cursor.1 {
            self.cursor
        } else {
            (0, 0)
        };
        while i < self.bufs.len() && pos + self.bufs[i].len() <= off {
            pos += self.bufs[i].len();
            i += 1;
        }
        self.cursor = (i, pos);
        self.iov.clear();
        let mut skip = off - pos;
        for b in self.bufs[i..].iter().filter(|b| !b.is_empty()) {
            let s = &b[skip..];
            skip = 0;
            self.iov.push(libc::iovec {
                // The kernel only reads through it (a send).
                iov_base: s.as_ptr() as *mut libc::c_void,
                iov_len: s.len(),
            });
            if self.iov.len() == IOV_MAX {
                break;
            }
        }
        self.msg.msg_iov = self.iov.as_mut_ptr();
        self.msg.msg_iovlen = self.iov.len() as _;
    }

    /// A `SENDMSG` of the bytes from `off` on (no SIGPIPE, WAITALL as for
    /// a plain send; the caller sets user_data). Only while no SQE of this
    /// op is in the kernel (see the ground rules).
    pub(super) fn entry(&mut self, t: Target, off: usize) -> squeue::Entry {
        self.aim(off);
        let msg: *const libc::msghdr = &self.msg;
        match t {
            Target::Fd(fd) => opcode::SendMsg::new(types::Fd(fd), msg),
            Target::Fixed(i) => opcode::SendMsg::new(types::Fixed(i), msg),
        }
        .flags((libc::MSG_NOSIGNAL | libc::MSG_WAITALL) as u32)
        .build()
    }

    /// Drops the buffers (user code may run: only outside the driver's
    /// borrow) and forgets the iovecs into them; capacities are kept.
    pub(super) fn clear(&mut self) {
        self.iov.clear();
        self.msg.msg_iov = std::ptr::null_mut();
        self.msg.msg_iovlen = 0;
        self.total = 0;
        self.cursor = (0, 0);
        self.bufs.clear();
    }
}

impl Driver {
    /// A vectored send's memory holding every buffer of `bufs` (`bufs` is
    /// left empty, its capacity kept), `total` the sum of their lengths
    /// (checked by the caller: it did not overflow). Drops nothing;
    /// allocates only when the pool is dry (or a longer list than before
    /// comes).
    pub(crate) fn vectored(&mut self, bufs: &mut Vec<Bytes>, total: usize) -> Mem {
        debug_assert_eq!(total, bufs.iter().map(Bytes::len).sum::<usize>());
        let mut v = self
            .vec_pool
            .pop()
            .unwrap_or_else(|| Box::new(Vectored::new()));
        v.total = total;
        v.bufs.append(bufs);
        let n = v.bufs.len().min(IOV_MAX);
        v.iov.reserve(n);
        Mem::Vectored(v)
    }

    /// Takes back an emptied vectored send's storage for the next one.
    pub(crate) fn put_vectored(&mut self, v: Box<Vectored>) {
        debug_assert!(v.bufs.is_empty(), "pooled with its buffers");
        if self.vec_pool.len() < POOL && v.bufs.capacity() <= POOL_BUFS {
            self.vec_pool.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes the iovecs of the last `aim` cover, in order.
    fn aimed(v: &Vectored) -> Vec<u8> {
        assert_eq!(v.msg.msg_iov, v.iov.as_ptr() as *mut libc::iovec);
        assert_eq!(v.msg.msg_iovlen, v.iov.len());
        let mut out = Vec::new();
        for io in &v.iov {
            assert!(io.iov_len > 0, "an empty iovec");
            // SAFETY: each iovec points into a `Bytes` that `v` holds, and
            // covers only bytes of it.
            let s = unsafe { std::slice::from_raw_parts(io.iov_base as *const u8, io.iov_len) };
            out.extend_from_slice(s);
        }
        out
    }

    fn with(bufs: Vec<Bytes>) -> Vectored {
        let mut v = Vectored::new();
        v.total = bufs.iter().map(Bytes::len).sum();
        v.bufs = bufs;
        v
    }

    /// Buffers of lengths 0, 1, 2, ... 9 (three empty in between), each
    /// byte its stream offset.
    fn numbered() -> (Vec<Bytes>, Vec<u8>) {
        let lens = [0usize, 1, 2, 0, 3, 4, 0, 5, 6, 7, 8, 9];
        let all: Vec<u8> = (0..lens.iter().sum::<usize>() as u8).collect();
        let mut bufs = Vec::new();
        let mut at = 0;
        for n in lens {
            bufs.push(Bytes::copy_from_slice(&all[at..at + n]));
            at += n;
        }
        (bufs, all)
    }

    #[test]
    fn aim_resumes_from_every_offset_across_buffer_boundaries() {
        let (bufs, all) = numbered();
        for start in 0..all.len() {
            let mut v = with(bufs.clone());
            // In steps of 1..: mid-buffer and at boundaries, forwards only
            // (as a send's progress goes), and once from scratch.
            for off in (start..all.len()).step_by(1 + start % 4) {
                v.aim(off);
                assert_eq!(aimed(&v), &all[off..], "aimed at {off} after {start}");
            }
            let mut fresh = with(bufs.clone());
            fresh.aim(start);
            assert_eq!(aimed(&fresh), &all[start..]);
        }
    }

    #[test]
    fn aim_takes_at_most_iov_max_and_the_rest_later() {
        let bufs: Vec<Bytes> = (0..IOV_MAX * 2 + 5)
            .map(|i| Bytes::from(vec![i as u8; 1 + i % 3]))
            .collect();
        let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        let mut v = with(bufs);
        let mut off = 0;
        let mut sqes = 0;
        while off < v.total() {
            v.aim(off);
            assert!(v.iov.len() <= IOV_MAX);
            let got = aimed(&v);
            assert_eq!(got, &all[off..off + got.len()]);
            // A short completion mid-buffer every other time.
            off += if sqes % 2 == 0 {
                got.len()
            } else {
                got.len() - 1
            };
            sqes += 1;
        }
        assert_eq!(off, all.len());
        assert!(sqes >= 3, "the list took {sqes} SQEs");
    }

    #[test]
    fn empty_buffers_around_the_iov_max_boundary_count_for_nothing() {
        // 1-byte buffers, each followed by 0..3 empty ones: the 1024th
        // iovec's buffer is followed by empties, and resumes land exactly
        // at the boundary, one byte short of it, and every 7 bytes.
        let mut bufs = Vec::new();
        for i in 0..IOV_MAX * 3 {
            bufs.push(Bytes::from(vec![i as u8; 1]));
            for _ in 0..i % 4 {
                bufs.push(Bytes::new());
            }
        }
        let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        for step in [IOV_MAX, IOV_MAX - 1, 7] {
            let mut v = with(bufs.clone());
            let mut off = 0;
            while off < v.total() {
                v.aim(off);
                assert_eq!(v.iov.len(), IOV_MAX.min(all.len() - off));
                assert_eq!(aimed(&v), &all[off..off + v.iov.len()]);
                off += step.min(v.iov.len());
            }
            assert_eq!(off, all.len());
        }
    }

    #[test]
    fn aim_past_the_end_and_backwards_is_harmless() {
        let (bufs, all) = numbered();
        let mut v = with(bufs);
        v.aim(all.len());
        assert!(v.iov.is_empty());
        v.aim(3);
        assert_eq!(aimed(&v), &all[3..]);
        v.clear();
        assert_eq!((v.total(), v.bufs.len(), v.iov.len()), (0, 0, 0));
        assert!(v.msg.msg_iov.is_null());
    }
}
