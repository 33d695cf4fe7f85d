//! [`TcpStream`]'s vectored send: a batch of `Bytes` in one op (the
//! driver's `vectored` module holds the iovecs and resumes short sends).

use super::TcpStream;
use bytes::Bytes;
use std::io;

impl TcpStream {
    /// Queues every buffer of `bufs`, in order, as one send: a single
    /// `SENDMSG` op whose iovecs point at the buffers (no copy, no
    /// concatenation), so a batch of small frames costs one op instead of
    /// one per frame. All buffers are taken out of `bufs`, which is left
    /// empty with its capacity kept for the next batch; the ring holds them
    /// until the kernel has taken every byte, then drops them on this
    /// core. The same [`Bytes`] can go into the batches of many streams
    /// (each clone is a reference count): its memory is freed after the
    /// last of those sends is done with it.
    ///
    /// Otherwise it is [`send`](TcpStream::send): at most one send in
    /// flight per stream (this first waits for the previous one), it only
    /// queues ([`flush`](TcpStream::flush) waits for the bytes to be
    /// taken), short sends are resumed from the first unsent byte, a
    /// failure is reported once to the first call that looks, and dropping
    /// the stream lets the send finish before the close, for up to
    /// [`Config::send_grace`](crate::io::Config::send_grace). More than
    /// 1024 non-empty buffers (the kernel's iovec limit) go out as one
    /// send made of several ops, each starting where the last one stopped.
    ///
    /// Empty `bufs`, or only empty buffers: `Ok` with nothing queued (the
    /// buffers are dropped, `bufs` is left empty).
    ///
    /// # Errors
    ///
    /// The previous send's failure, or `InvalidInput` if the buffers'
    /// lengths add up to more than `usize::MAX`; `bufs` is then untouched,
    /// as it is if the future is dropped while it waits for the previous
    /// send.
    ///
    /// # Examples
    ///
    /// A broker fanning one batch of frames out to its subscribers:
    ///
    /// ```no_run
    /// use bytes::Bytes;
    /// use corelane::{io, sched::{self, Priority, Runtime}};
    ///
    /// let rt = Runtime::builder().build()?;
    /// rt.block_on(async {
    ///     sched::spawn_local(Priority::Normal, async {
    ///         let mut subs = Vec::new();
    ///         for port in [7001, 7002] {
    ///             let addr = ([127, 0, 0, 1], port).into();
    ///             subs.push(io::TcpStream::connect(addr).await?);
    ///         }
    ///         let frames: Vec<Bytes> = (0..64u8).map(|i| Bytes::from(vec![i; 71])).collect();
    ///         let mut batch = Vec::with_capacity(frames.len());
    ///         for s in &mut subs {
    ///             batch.extend(frames.iter().cloned()); // reference counts, no copies
    ///             s.send_vectored(&mut batch).await?; // one op for 64 frames
    ///             assert!(batch.is_empty()); // ready for the next stream
    ///         }
    ///         for s in &mut subs {
    ///             s.flush().await?;
    ///         }
    ///         Ok::<(), std::io::Error>(())
    ///     })
    ///     .await
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn send_vectored(&mut self, bufs: &mut Vec<Bytes>) -> io::Result<()> {
        self.flush().await?;
        self.start_send_vectored(bufs)
    }

    /// Queues `bufs` like [`send_vectored`](TcpStream::send_vectored)
    /// without waiting: the poll form, as
    /// [`start_send`](TcpStream::start_send) is for
    /// [`send`](TcpStream::send). On `Ok` every buffer has been taken
    /// (`bufs` is empty, its capacity kept).
    ///
    /// # Errors
    ///
    /// `WouldBlock` if a send is still in flight, `NotConnected` after
    /// [`close`](TcpStream::close), `InvalidInput` if the buffers' lengths
    /// add up to more than `usize::MAX`: `bufs` is then untouched.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use corelane::{io, sched::{self, Priority, Runtime}};
    /// # use std::future::poll_fn;
    /// use bytes::Bytes;
    ///
    /// # let rt = Runtime::builder().io(io::Config::default()).build()?;
    /// rt.block_on(async {
    ///     sched::spawn_local(Priority::Normal, async {
    ///         let mut s = io::TcpStream::connect("127.0.0.1:7000".parse().unwrap()).await?;
    ///         let mut batch = vec![Bytes::from_static(b"8=FIX.4.4|"), Bytes::from_static(b"35=0|")];
    ///         poll_fn(|cx| s.poll_flush(cx)).await?; // nothing in flight
    ///         s.start_send_vectored(&mut batch)?;
    ///         assert!(batch.is_empty());
    ///         s.flush().await
    ///     })
    ///     .await
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_send_vectored(&mut self, bufs: &mut Vec<Bytes>) -> io::Result<()> {
        if self.send.is_some() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let target = self.target()?;
        // The send's length: the driver's progress counts against it, so
        // it must not wrap (only a 32-bit target gets there for real).
        let Some(total) = bufs.iter().try_fold(0usize, |n, b| n.checked_add(b.len())) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the buffers add up to more than usize::MAX bytes",
            ));
        };
        if total == 0 {
            // Dropped here, outside the driver's borrow.
            bufs.clear();
            return Ok(());
        }
        let key = self.inner.with(|d| {
            let mem = d.vectored(bufs, total);
            d.submit_send(target, mem)
        });
        self.send = Some(key);
        Ok(())
    }
}
