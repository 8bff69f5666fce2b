//! `gaprun slurm resubmit DIR`: a new array of only the shards that have
//! tasks without a result. The shards skip tasks that have one (see
//! [`super::ShardRun`]) and never replace a result file, so nothing done is
//! recomputed or overwritten.

use super::job::JobDir;
use super::{fail, status::survey, submit::submit_array};
use crate::cli::EXIT_OK;
use std::path::Path;

pub fn run(dir: &Path, wait: bool, hold: bool) -> i32 {
    let job = JobDir::new(dir);
    let (m, shards) = match survey(&job) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut todo = Vec::new();
    for v in &shards {
        match v.state {
            "done" => {}
            s @ ("pending" | "running") => {
                eprintln!("gaprun: shard {} is {s}; not resubmitted", v.index);
            }
            _ => todo.push(v.index),
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
