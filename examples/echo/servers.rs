//! The servers `examples/echo_load.rs` drives: `echo_server` child
//! processes, one per implementation, each checked by its banner and killed
//! when dropped (also on error and panic), plus the CPU-time readings.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a server may take to print its banner.
const BANNER_WAIT: Duration = Duration::from_secs(10);

/// One running `echo_server`; killed (SIGKILL) and reaped when dropped.
pub struct Server {
    /// The implementation, as the banner names it.
    pub name: String,
    pub addr: SocketAddr,
    pub pid: u32,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `echo_server` binary beside this one (`cargo build --release
/// --examples` builds both into the same directory).
pub fn server_binary() -> io::Result<PathBuf> {
    binary("echo_server")
}

/// The example binary `name` beside this one.
pub fn binary(name: &str) -> io::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let bin = me.with_file_name(name);
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(io::Error::other(format!(
            "{} not found: build it with `cargo build --release --examples`",
            bin.display()
        )))
    }
}

/// Starts `bin --impl name --port 0` with its one thread on `cpu`, and
/// waits for its banner; it exits by itself after `run_for`.
pub fn spawn(bin: &Path, name: &str, cpu: u32, run_for: Duration) -> io::Result<Server> {
    let args = [
        "--threads".to_string(),
        "1".into(),
        "--cpus".into(),
        cpu.to_string(),
        "--for".into(),
        run_for.as_secs().max(1).to_string(),
    ];
    spawn_child(bin, "echo_server", name, &args)
}

/// Starts `bin --impl name --port 0 args..` and waits for its banner,
/// `<prog> impl=<name> addr=<addr> pid=<pid>`.
pub fn spawn_child(bin: &Path, prog: &str, name: &str, args: &[String]) -> io::Result<Server> {
    let mut cmd = Command::new(bin);
    cmd.args(["--impl", name, "--port", "0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls prctl(2), which is async-signal-safe and allocates nothing.
    unsafe {
        // The server dies with the thread that started it (this one, the
        // main thread), even if this process is killed by SIGKILL.
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut server = Server {
        name: name.to_string(),
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        pid: child.id(),
        child,
    };
    let banner = read_banner(stdout)?;
    let (imp, addr, pid) = parse_banner(&banner, prog)
        .ok_or_else(|| io::Error::other(format!("{name}: unexpected banner {banner:?}")))?;
    if imp != name || pid != server.pid || !addr.ip().is_loopback() {
        return Err(io::Error::other(format!(
            "asked for {name} as pid {}, the banner says {banner:?}",
            server.pid
        )));
    }
    server.addr = addr;
    Ok(server)
}

/// The first stdout line, within [`BANNER_WAIT`].
fn read_banner(stdout: std::process::ChildStdout) -> io::Result<String> {
    let (tx, rx) = mpsc::channel();
    // The reader ends at EOF at the latest, when the child dies.
    std::thread::spawn(move || {
        let mut line = String::new();
        let res = BufReader::new(stdout).read_line(&mut line).map(|_| line);
        let _ = tx.send(res);
    });
    match rx.recv_timeout(BANNER_WAIT) {
        Ok(Ok(line)) if !line.is_empty() => Ok(line.trim_end().to_string()),
        Ok(Ok(_)) => Err(io::Error::other("the server exited before its banner")),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other(format!("no banner in {BANNER_WAIT:?}"))),
    }
}

/// `<prog> impl=<name> addr=<addr> pid=<pid>` to its three fields.
fn parse_banner(line: &str, prog: &str) -> Option<(String, SocketAddr, u32)> {
    let mut words = line.split_whitespace();
    if words.next()? != prog {
        return None;
    }
    let mut field = |key: &str| words.next()?.strip_prefix(key).map(str::to_string);
    let imp = field("impl=")?;
    let addr = field("addr=")?.parse().ok()?;
    let pid = field("pid=")?.parse().ok()?;
    Some((imp, addr, pid))
}

/// CPU time (user + system) a process has used so far, µs, from
/// `/proc/<pid>/stat` (clock-tick resolution, 10 ms at 100 Hz).
pub fn process_cpu_us(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name's closing parenthesis, from field 3
    // (state); utime and stime are fields 14 and 15.
    let rest = &stat[stat
        .rfind(')')
        .ok_or_else(|| io::Error::other("bad stat"))?
        + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> io::Result<u64> {
        f.get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| io::Error::other("bad stat"))
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(total as f64 * 1e6 / clock_ticks_per_sec())
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf(3) takes no pointers.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// CPU time the calling thread has used so far, µs (getrusage(2)).
pub fn thread_cpu_us() -> f64 {
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage for the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    if rc != 0 {
        return 0.0;
    }
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(ru.ru_utime) + us(ru.ru_stime)
}
