//! Scaffolding shared by the `io_*` integration tests: skip (saying why)
//! where io_uring is unavailable, and a runtime whose cores must have it.
//!
//! Each test file includes it as `#[path = "common/io.rs"] mod io_common;`.
#![allow(dead_code)]

use corelane::io::{self, Config};
use corelane::sched::{Idle, Runtime};

/// True (and a line on stderr) when this machine cannot run the io driver.
pub fn skip() -> bool {
    match io::probe() {
        Ok(()) => false,
        Err(why) => {
            eprintln!("skipped: io_uring unavailable here: {why}");
            true
        }
    }
}

/// `cores` unpinned parking cores (CPUs 0..cores), io required.
pub fn runtime(cores: usize, cfg: Config) -> Runtime {
    Runtime::builder()
        .cores(0..cores as u32)
        .pin(false)
        .idle(Idle::Park)
        .io(cfg.required(true))
        .build()
        .expect("runtime with io")
}
