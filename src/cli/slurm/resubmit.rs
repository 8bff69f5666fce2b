//! `gaprun slurm resubmit DIR`: a new array of only the shards that have
//! tasks without a result. The shards skip tasks that have one (see
//! [`super::ShardRun`]) and never replace a result file, so nothing done is
//! recomputed or overwritten.

use super::job::JobDir;
use super::{fail, scheduler, status::shard_state, submit::submit_array};
use crate::cli::EXIT_OK;
use std::path::Path;

pub fn run(dir: &Path, wait: bool, hold: bool) -> i32 {
    let job = JobDir::new(dir);
    let m = match job.read_manifest() {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let states = match scheduler::array_states(&job.job_ids()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let present = job.present();
    let mut todo = Vec::new();
    for (k, tasks) in m.shards.iter().enumerate() {
        let have = tasks.iter().filter(|i| present.contains(i)).count();
        match shard_state(have, tasks.len(), states.get(&k)) {
            "done" => {}
            s @ ("pending" | "running") => {
                eprintln!("gaprun: shard {k} is {s}; not resubmitted");
            }
            _ => todo.push(k),
        }
    }
    if todo.is_empty() {
        eprintln!("gaprun: no shard to resubmit");
    } else {
        match submit_array(&job, &m, &todo, hold) {
            Ok(id) => {
                super::submit::announce(&id, &job, wait);
                if wait {
                    if let Err(e) = super::wait::wait(&job, &m, &[id]) {
                        return fail(e);
                    }
                }
            }
            Err(e) => return fail(e),
        }
    }
    if wait {
        super::collect::run(&job.root)
    } else {
        EXIT_OK
    }
}
