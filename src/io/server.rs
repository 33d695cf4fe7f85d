//! [`Server`]: one `SO_REUSEPORT` listener per core, a handler task per
//! connection.

use super::net::{listen_socket, local_addr, TcpListener, TcpStream};
use crate::sched::{self, JoinHandle, Priority, Runtime};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

/// The raw server loop: every core of a runtime accepts on its own
/// `SO_REUSEPORT` listener (multishot accept on its ring) and runs a
/// handler task per connection, on that core, at the chosen priority.
///
/// ```no_run
/// use corelane::{io, sched::{Priority, Runtime}};
///
/// let rt = Runtime::builder().build()?;
/// let server = io::Server::builder("127.0.0.1:7000".parse()?)
///     .priority(Priority::High)
///     .serve(&rt, |mut s: io::TcpStream| async move {
///         while let Ok(Some(b)) = s.recv().await {
///             if s.send(b).await.is_err() {
///                 break;
///             }
///         }
///     })?;
/// println!("echo on {}", server.local_addr());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Server;

impl Server {
    /// A server for `addr` (port 0: the kernel picks one, shared by every
    /// core's listener).
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub fn builder(addr: SocketAddr) -> ServerBuilder {
        ServerBuilder {
            addr,
            priority: Priority::Normal,
            nodelay: true,
            backlog: 4096,
            cores: None,
        }
    }
}

/// Settings of a [`Server`]; [`serve`](ServerBuilder::serve) starts it.
///
/// # Examples
///
/// See [`Server`].
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    addr: SocketAddr,
    priority: Priority,
    nodelay: bool,
    backlog: i32,
    cores: Option<Vec<usize>>,
}

impl ServerBuilder {
    /// The class connection handlers (and the acceptors) run at. Default
    /// `Normal`.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub fn priority(mut self, p: Priority) -> Self {
        self.priority = p;
        self
    }

    /// `TCP_NODELAY` on accepted connections. Default on.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub fn nodelay(mut self, yes: bool) -> Self {
        self.nodelay = yes;
        self
    }

    /// The listen backlog of each core's listener. Default 4096.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub fn backlog(mut self, n: i32) -> Self {
        self.backlog = n;
        self
    }

    /// Accept only on these cores (indices of the runtime). Default: all.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub fn cores(mut self, cores: impl IntoIterator<Item = usize>) -> Self {
        self.cores = Some(cores.into_iter().collect());
        self
    }

    /// Binds one listener per core (all on the same port) and starts
    /// accepting; `handler` makes each connection's task.
    ///
    /// Fails if a bind fails, a core index is out of range, a core has no
    /// io (the error wraps [`Unavailable`](super::Unavailable)), or it is
    /// called from one of `rt`'s own cores (it blocks until every core's
    /// listener is up). An accept error (descriptors running out,
    /// `EMFILE`/`ENFILE`, say) makes that core's acceptor pause 1 ms and
    /// try again; its multishot accept pauses once about 256 connections
    /// wait unclaimed (the rest wait in the listen backlog).
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub fn serve<F, Fut>(self, rt: &Runtime, handler: F) -> io::Result<ServerHandle>
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        if rt.is_own_core() {
            // It waits for every core's listener: from one of them it
            // would wait for itself.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Server::serve called from a core of the runtime it serves on",
            ));
        }
        let cores = self
            .cores
            .clone()
            .unwrap_or_else(|| (0..rt.cores()).collect());
        if cores.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no core to serve on",
            ));
        }
        if let Some(&c) = cores.iter().find(|&&c| c >= rt.cores()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "core {c} is not a core of this runtime ({} cores)",
                    rt.cores()
                ),
            ));
        }
        // Bind every listener here, in order, so port 0 resolves once.
        let mut addr = self.addr;
        let mut fds: Vec<OwnedFd> = Vec::with_capacity(cores.len());
        for _ in &cores {
            let fd = listen_socket(&addr, self.nodelay, self.backlog)?;
            if addr.port() == 0 {
                addr = local_addr(fd.as_raw_fd())?;
            }
            fds.push(fd);
        }
        let handler = Arc::new(handler);
        let mut acceptors = Vec::with_capacity(cores.len());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        for (&core, fd) in cores.iter().zip(fds) {
            let (handler, ready, prio) = (handler.clone(), ready_tx.clone(), self.priority);
            let h = rt.spawn_on(core, prio, async move {
                // The listener is `!Send`: it is made here, on its core,
                // inside a local task.
                let local = sched::spawn_local(prio, async move {
                    let mut l = match TcpListener::from_owned_fd(fd) {
                        Ok(l) => {
                            let _ = ready.send(Ok(()));
                            l
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e));
                            return;
                        }
                    };
                    loop {
                        match l.accept().await {
                            Ok(s) => {
                                drop(sched::spawn_local(prio, handler(s)));
                            }
                            // Out of descriptors (EMFILE/ENFILE) and the like:
                            // back off one tick and try again.
                            Err(_) => sched::sleep(std::time::Duration::from_millis(1)).await,
                        }
                    }
                });
                // Aborting this task (the handle's drop) drops the guard,
                // which aborts the local acceptor: its listener closes.
                let mut guard = AbortOnDrop(local);
                let _ = (&mut guard.0).await;
            });
            acceptors.push(h);
        }
        drop(ready_tx);
        for _ in &cores {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    acceptors.iter().for_each(|a| a.abort());
                    return Err(e);
                }
                Err(_) => {
                    return Err(io::Error::other(
                        "the runtime stopped before the server started",
                    ))
                }
            }
        }
        Ok(ServerHandle { addr, acceptors })
    }
}

/// A running [`Server`]. Dropping it (or [`stop`](ServerHandle::stop))
/// asks every core to stop accepting and returns without waiting: a
/// connection a core accepts before it gets the request still gets its
/// handler; connections already accepted run on to their end.
///
/// # Examples
///
/// See [`Server`].
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    acceptors: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address every core's listener is bound to.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting (each core's listener is closed on its core).
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub fn stop(self) {}
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        for a in &self.acceptors {
            a.abort();
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
