//! `--wait`: poll Slurm until the array tasks are finished, showing how many
//! tasks have a result (a progress bar on a terminal, a line now and then
//! otherwise).

use super::job::{JobDir, Manifest};
use super::scheduler;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often squeue is asked. Slurm answers in milliseconds; a shorter
/// period only loads the controller.
const POLL: Duration = Duration::from_millis(500);
/// Consecutive squeue failures tolerated (a busy controller times out).
const MAX_FAILURES: u32 = 20;
/// Without a terminal, a progress line at most this often.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Wait until no array task of `job_ids` is pending or running.
pub fn wait(job: &JobDir, m: &Manifest, job_ids: &[String]) -> Result<(), String> {
    let bar = crate::cli::workers::progress(m.total);
    let terminal = std::io::stderr().is_terminal();
    let mut failures = 0;
    let mut last_report = Instant::now();
    let mut last_done = usize::MAX;
    loop {
        let done = job.present().len();
        bar.set_position(done as u64);
        if !terminal && done != last_done && last_report.elapsed() >= REPORT_EVERY {
            eprintln!("gaprun: {done}/{} tasks done", m.total);
            last_report = Instant::now();
            last_done = done;
        }
        match scheduler::array_states(job_ids) {
            Ok(states) => {
                failures = 0;
                let active = states.values().filter(|s| s.is_active()).count();
                bar.set_message(format!("{active} shards queued or running"));
                if active == 0 {
                    break;
                }
            }
            Err(e) => {
                failures += 1;
                if failures >= MAX_FAILURES {
                    bar.finish_and_clear();
                    return Err(e);
                }
            }
        }
        std::thread::sleep(POLL);
    }
    bar.finish_and_clear();
    Ok(())
}
