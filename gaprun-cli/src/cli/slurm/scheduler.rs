//! The Slurm commands gaprun uses: `sbatch --parsable` to submit, `squeue`
//! to see array tasks. No accounting daemon is assumed (`sacct` is not
//! used): a finished job stays in `squeue -t all` for Slurm's MinJobAge
//! (300 s by default); after that, the result files alone say what happened.

use std::collections::BTreeMap;
use std::process::Command;

/// An array task's state as `squeue` names it (`PENDING`, `RUNNING`,
/// `COMPLETED`, `CANCELLED`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// `JOBID_K`.
    pub id: String,
    pub state: String,
}

impl TaskState {
    /// Still queued or running (will write more results).
    pub fn is_active(&self) -> bool {
        !matches!(
            self.state.as_str(),
            "COMPLETED"
                | "CANCELLED"
                | "FAILED"
                | "TIMEOUT"
                | "OUT_OF_MEMORY"
                | "NODE_FAIL"
                | "PREEMPTED"
                | "BOOT_FAIL"
                | "DEADLINE"
                | "SPECIAL_EXIT"
                | "REVOKED"
        )
    }
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let name = format!("{:?}", cmd.get_program());
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {name} (is Slurm installed and on PATH?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Submit `script` with `args`; the job id.
pub fn sbatch(args: &[String], script: &std::path::Path) -> Result<String, String> {
    let out = run(Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script))?;
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    let id = out.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("sbatch printed {:?}, not a job id", out.trim()));
    }
    Ok(id)
}

/// Parse `squeue -h -r -o '%i|%T'` lines into shard → state (array task
/// `JOB_K` is shard K).
pub fn parse_squeue(text: &str) -> BTreeMap<usize, TaskState> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((id, state)) = line.trim().split_once('|') else {
            continue;
        };
        let Some(k) = id.rsplit_once('_').and_then(|(_, k)| k.parse().ok()) else {
            continue;
        };
        out.insert(
            k,
            TaskState {
                id: id.to_string(),
                state: state.trim().to_string(),
            },
        );
    }
    out
}

/// The state of every array task of `job_ids` that Slurm still knows, by
/// shard; later submissions override earlier ones for the same shard.
pub fn array_states(job_ids: &[String]) -> Result<BTreeMap<usize, TaskState>, String> {
    let mut states = BTreeMap::new();
    for id in job_ids {
        let text = match run(
            Command::new("squeue").args(["-h", "-r", "-t", "all", "-o", "%i|%T", "-j", id])
        ) {
            Ok(t) => t,
            // Forgotten after MinJobAge: only the result files tell.
            Err(e) if e.contains("Invalid job id") => continue,
            Err(e) => return Err(e),
        };
        states.extend(parse_squeue(&text));
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_by_shard() {
        let s = parse_squeue("12_0|COMPLETED\n12_3|RUNNING\n12_[1-2]|PENDING\nnoise\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[&3].state, "RUNNING");
        assert!(s[&3].is_active());
        assert!(!s[&0].is_active());
    }
}
