//! Test support: GAP lives on one thread per process, but the test harness
//! runs each test on a thread of its own. `with_gap` runs a closure on one
//! dedicated GAP thread (initialised once, without autoloaded packages
//! unless `GapOptions` say otherwise), so tests in a binary share one GAP.
//! The CLI's tests (gaprun-cli/tests/common) include this file.
#![allow(dead_code)]

use gaprun::{Gap, GapOptions};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce(Gap<'_>) + Send>;

fn gap_thread() -> &'static Mutex<Sender<Job>> {
    static SENDER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    SENDER.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("gap".into())
            .stack_size(64 << 20)
            .spawn(move || {
                let gap = Gap::init(test_options()).expect("GAP starts");
                for job in rx {
                    job(gap);
                }
            })
            .expect("spawn GAP thread");
        Mutex::new(tx)
    })
}

/// Options every in-process test uses.
pub fn test_options() -> GapOptions {
    GapOptions {
        autoload: false,
        ..GapOptions::default()
    }
}

/// Run `f` on the GAP thread and return its result (panics propagate).
pub fn with_gap<R: Send + 'static>(f: impl FnOnce(Gap<'_>) -> R + Send + 'static) -> R {
    let (tx, rx) = channel();
    let job: Job = Box::new(move |gap| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(gap)));
        let _ = tx.send(r);
    });
    gap_thread()
        .lock()
        .unwrap()
        .send(job)
        .expect("GAP thread alive");
    match rx.recv().expect("GAP thread answered") {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// The distribution's gap kernel with this build's roots, if there is one.
pub fn gap_command() -> Option<std::process::Command> {
    let exe = gaprun::runtime::build_info().gap_executable;
    if exe.is_empty() || !std::path::Path::new(exe).is_file() {
        eprintln!("skipping comparison: no distribution `gap` binary in this build");
        return None;
    }
    let roots = gaprun::runtime::built_in_roots()
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(";");
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("-l").arg(roots).arg("-q");
    Some(cmd)
}
