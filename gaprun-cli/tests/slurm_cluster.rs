//! `gaprun slurm` against a real Slurm scheduler (a one-node Slurm 22.05
//! cluster on this machine, `.ci/local-cluster.sh`).
//!
//! When `sinfo` answers, the tests use that cluster. When it does not, they
//! start the local cluster only when asked to with `GAPRUN_TEST_SLURM=1`
//! (it installs Debian's Slurm packages and starts system daemons, so a
//! plain `cargo test` never does; `.ci/run` opts in) and as root (under a
//! file lock, so concurrent test runs start it once), and stop it at the end
//! if no other run is still using it. Otherwise they are skipped with a
//! message saying why; `GAPRUN_TEST_SLURM=0` skips them on purpose.
//!
//! Own harness (Cargo.toml: `harness = false`): the scenarios share one
//! scheduler and one 2-core node, so they run one after the other, and the
//! cluster is stopped after the last one. `cargo test --test slurm_cluster
//! NAME` runs the scenarios whose name contains NAME.
//!
//! Timing: nothing asserts a duration. Jobs are watched by polling squeue
//! every 0.5 s against deadlines of minutes.

mod common;

use serde_json::Value;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const LOCK: &str = "/tmp/gaprun-test-slurm-cluster.lock";
const DEADLINE: Duration = Duration::from_secs(600);

// --- the cluster ---------------------------------------------------------------

fn sinfo_answers() -> bool {
    Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

fn cluster_script() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("GAPRUN_LOCAL_CLUSTER")
        .map(PathBuf::from)
        .into_iter()
        .chain([here.join("../.ci/local-cluster.sh")])
        .find(|p| p.is_file())
}

/// flock(2) on the lock file: `op` is LOCK_EX, LOCK_SH, with LOCK_NB or not.
fn flock(file: &std::fs::File, op: i32) -> bool {
    // SAFETY: flock on a file descriptor this function borrows; no memory involved.
    unsafe { libc::flock(file.as_raw_fd(), op) == 0 }
}

/// The scheduler for this run: held with a shared lock while tests use it.
struct Cluster {
    lock: std::fs::File,
    started: Option<PathBuf>,
}

impl Cluster {
    fn ensure() -> Result<Cluster, String> {
        if std::env::var("GAPRUN_TEST_SLURM").as_deref() == Ok("0") {
            return Err("GAPRUN_TEST_SLURM=0".into());
        }
        // Made by whoever came first; others (another user) open it to read,
        // which is enough for flock.
        let lock = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(LOCK)
            .or_else(|_| std::fs::File::open(LOCK))
            .map_err(|e| format!("cannot open {LOCK}: {e}"))?;
        flock(&lock, libc::LOCK_EX);
        let mut started = None;
        if !sinfo_answers() {
            if std::env::var("GAPRUN_TEST_SLURM").as_deref() != Ok("1") {
                return Err(
                    "Slurm is not up (sinfo does not answer); starting the local cluster \
                     installs packages and starts system daemons, so it is opt-in: \
                     set GAPRUN_TEST_SLURM=1 (as root)"
                        .into(),
                );
            }
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                return Err(
                    "Slurm is not up (sinfo does not answer) and starting the local \
                     cluster needs root: run `sudo .ci/local-cluster.sh start`"
                        .into(),
                );
            }
            let script =
                cluster_script().ok_or("Slurm is not up and .ci/local-cluster.sh is missing")?;
            let out = Command::new("bash")
                .arg(&script)
                .arg("start")
                .output()
                .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
            if !out.status.success() || !sinfo_answers() {
                return Err(format!(
                    "{} start failed: {}{}",
                    script.display(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            println!(
                "slurm_cluster: {}",
                String::from_utf8_lossy(&out.stdout).trim()
            );
            started = Some(script);
        }
        flock(&lock, libc::LOCK_SH);
        Ok(Cluster { lock, started })
    }

    /// Stop the cluster if this run started it and no other run uses it.
    fn release(self) {
        let Some(script) = self.started else { return };
        if !flock(&self.lock, libc::LOCK_EX | libc::LOCK_NB) {
            println!("slurm_cluster: another test run uses the cluster; leaving it up");
            return;
        }
        let out = Command::new("bash").arg(&script).arg("stop").output();
        println!(
            "slurm_cluster: stopped the cluster this run started ({:?})",
            out.map(|o| o.status)
        );
    }
}

// --- helpers -------------------------------------------------------------------

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn gaprun(args: &[&str], dir: &Path) -> Output {
    Command::new(common::gaprun_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("gaprun runs")
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

/// The local and the cluster run both exited with `code`.
fn both_exit(local: &Output, cluster: &Output, code: i32) -> Result<(), String> {
    let codes = (local.status.code(), cluster.status.code());
    check(codes == (Some(code), Some(code)), || {
        format!("exit codes {codes:?}, expected {code} for both")
    })
}

/// `slurm submit` without --wait: the job id and folder it printed.
fn submit(args: &[&str], dir: &Path) -> Result<(String, PathBuf), String> {
    let mut all = vec!["slurm", "submit"];
    all.extend_from_slice(args);
    let out = gaprun(&all, dir);
    let stdout = text(&out.stdout);
    let job = stdout.lines().find_map(|l| l.strip_prefix("job "));
    let folder = stdout.lines().find_map(|l| l.strip_prefix("folder "));
    match (out.status.code(), job, folder) {
        (Some(0), Some(j), Some(f)) => Ok((j.to_string(), PathBuf::from(f))),
        _ => Err(format!("submit failed: {stdout}{}", text(&out.stderr))),
    }
}

/// States of a job's array tasks (`JOB_K STATE`).
fn states(job: &str) -> Vec<(String, String)> {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-t", "all", "-o", "%i %T", "-j", job])
        .output()
        .expect("squeue runs");
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn poll_until(what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > DEADLINE {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}

fn finished(job: &str) -> Result<(), String> {
    let active = [
        "PENDING",
        "RUNNING",
        "CONFIGURING",
        "COMPLETING",
        "SUSPENDED",
    ];
    poll_until(&format!("job {job} to finish"), || {
        states(job)
            .iter()
            .all(|(_, s)| !active.contains(&s.as_str()))
    })
}

fn json_lines(s: &str) -> Result<Vec<Value>, String> {
    s.lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("not JSON ({e}): {l}")))
        .collect()
}

/// Batch results without the fields that legitimately differ between runs.
fn stable(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .map(|v| {
            let mut v = v.clone();
            for k in ["wall_ms", "cpu_ms", "peak_rss_kb"] {
                v.as_object_mut().map(|o| o.remove(k));
            }
            v
        })
        .collect()
}

fn write_tasks(dir: &Path, lines: impl IntoIterator<Item = String>) {
    let text: Vec<String> = lines.into_iter().collect();
    std::fs::write(dir.join("tasks.jsonl"), text.join("\n") + "\n").unwrap();
}

/// Each result file's identity (inode, modification time), by name.
fn result_files(folder: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    let mut v: Vec<_> = std::fs::read_dir(folder.join("results"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .map(|e| {
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                m.ino(),
                m.modified().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Lines `missing: task I (…)` of collect's stderr, as indices.
fn missing(stderr: &str) -> Vec<usize> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("missing: task "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect()
}

// --- scenarios -----------------------------------------------------------------

/// 200 batch tasks over 4 shards: the same per-task id/status/value (indeed
/// every field but the timings) in the same order as a local batch, and the
/// same exit code. A shard's versions differing from submit's are reported.
fn batch_of_200_over_4_shards_matches_local() -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    write_tasks(
        dir.path(),
        (0..200).map(|i| match i % 10 {
            3 => format!(r#"{{"id": "t{i}", "code": "Error(\"bad {i}\");"}}"#),
            7 => format!(
                r#"{{"id": {i}, "code": "Print(\"p\", n, \"\\n\"); n^2;", "vars": {{"n": {i}}}}}"#
            ),
            _ => format!(
                r#"{{"id": {i}, "code": "Size(SymmetricGroup({})) * {i};"}}"#,
                i % 6 + 1
            ),
        }),
    );
    let local = gaprun(&["batch", "-A", "-j", "2", "tasks.jsonl"], dir.path());
    let cluster = gaprun(
        &[
            "slurm",
            "submit",
            "--shards",
            "4",
            "--wait",
            "batch",
            "-A",
            "tasks.jsonl",
        ],
        dir.path(),
    );
    let (l, c) = (
        json_lines(&text(&local.stdout))?,
        json_lines(&text(&cluster.stdout))?,
    );
    check(l.len() == 200, || {
        format!("local batch printed {} lines", l.len())
    })?;
    let key = |v: &Value| (v["id"].clone(), v["status"].clone(), v["value"].clone());
    let (lk, ck): (Vec<_>, Vec<_>) = (l.iter().map(key).collect(), c.iter().map(key).collect());
    check(lk == ck, || {
        format!("id/status/value differ: {}", text(&cluster.stderr))
    })?;
    check(stable(&l) == stable(&c), || "other fields differ".into())?;
    both_exit(&local, &cluster, 1)?;

    // Pretend shard 1 ran another GAP: collect must say so and fail.
    let folder = text(&cluster.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("folder ").map(PathBuf::from))
        .ok_or("submit --wait did not name its folder on stderr")?;
    let meta = std::fs::read_dir(folder.join("shards"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("1-"))
        .ok_or("no metadata of shard 1")?;
    let original = std::fs::read_to_string(&meta).unwrap();
    let mut v: Value = serde_json::from_str(&original).unwrap();
    v["versions"]["gap"] = "GAP 4.99.0 (libgap other)".into();
    std::fs::write(&meta, v.to_string()).unwrap();
    let collect = gaprun(&["slurm", "collect", folder.to_str().unwrap()], dir.path());
    check(
        collect.status.code() == Some(2)
            && text(&collect.stderr).contains("version mismatch: shard 1"),
        || {
            format!(
                "collect with a mismatch: {:?} {}",
                collect.status.code(),
                text(&collect.stderr)
            )
        },
    )?;
    check(
        stable(&json_lines(&text(&collect.stdout))?) == stable(&c),
        || "collect printed other results".into(),
    )
}

/// A shard cancelled before it ran is reported missing; resubmit runs only
/// that shard and never touches the results already there.
fn cancelled_shard_is_missing_then_resubmitted() -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    write_tasks(
        dir.path(),
        (0..40).map(|i| format!(r#"{{"id": {i}, "code": "{i} * 3;"}}"#)),
    );
    let (job, folder) = submit(
        &["--shards", "4", "--hold", "batch", "-A", "tasks.jsonl"],
        dir.path(),
    )?;
    let f = folder.to_str().unwrap();
    poll_until("the held array to be listed", || states(&job).len() == 4)?;
    let ok = |args: &[&str]| {
        Command::new(args[0])
            .args(&args[1..])
            .status()
            .is_ok_and(|s| s.success())
    };
    check(ok(&["scancel", &format!("{job}_2")]), || {
        "scancel failed".into()
    })?;
    check(ok(&["scontrol", "release", &job]), || {
        "scontrol release failed".into()
    })?;
    finished(&job)?;

    let status = text(&gaprun(&["slurm", "status", f], dir.path()).stdout);
    check(status.contains("shard 2: incomplete 0/10 results"), || {
        status.clone()
    })?;
    let collect = gaprun(&["slurm", "collect", f], dir.path());
    let want: Vec<usize> = (0..40).filter(|i| i % 4 == 2).collect();
    check(missing(&text(&collect.stderr)) == want, || {
        text(&collect.stderr)
    })?;
    check(collect.status.code() == Some(2), || {
        format!("collect exit {:?}", collect.status)
    })?;
    check(json_lines(&text(&collect.stdout))?.len() == 30, || {
        text(&collect.stdout)
    })?;

    let before = result_files(&folder);
    let resubmit = gaprun(&["slurm", "resubmit", "--wait", f], dir.path());
    check(resubmit.status.code() == Some(0), || text(&resubmit.stderr))?;
    let after = result_files(&folder);
    check(
        after.len() == 40 && before.iter().all(|b| after.contains(b)),
        || "results already present were rewritten".into(),
    )?;
    let array = std::fs::read_to_string(folder.join("jobs")).unwrap();
    check(
        array.lines().nth(1).is_some_and(|l| l.ends_with(" 2")),
        || format!("resubmitted other shards: {array}"),
    )?;
    let local = gaprun(&["batch", "-A", "-j", "2", "tasks.jsonl"], dir.path());
    check(
        stable(&json_lines(&text(&resubmit.stdout))?) == stable(&json_lines(&text(&local.stdout))?),
        || "resubmit --wait did not print the local results".into(),
    )
}

/// A shard killed while running keeps every task it finished; resubmit does
/// only the rest.
fn killed_shard_keeps_finished_tasks() -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    write_tasks(
        dir.path(),
        (0..40).map(|i| format!(r#"{{"id": {i}, "code": "MicroSleep(250000); {i};"}}"#)),
    );
    let (job, folder) = submit(&["--shards", "1", "batch", "-A", "tasks.jsonl"], dir.path())?;
    let f = folder.to_str().unwrap();
    poll_until("5 results", || result_files(&folder).len() >= 5)?;
    Command::new("scancel")
        .arg(&job)
        .status()
        .map_err(|e| e.to_string())?;
    finished(&job)?;
    let kept = result_files(&folder);
    check(kept.len() >= 5 && kept.len() < 40, || {
        format!("{} results after the kill", kept.len())
    })?;

    let collect = gaprun(&["slurm", "collect", f], dir.path());
    let got = json_lines(&text(&collect.stdout))?;
    check(
        got.len() == kept.len() && got.iter().all(|r| r["status"] == "ok"),
        || format!("collect after the kill: {}", text(&collect.stdout)),
    )?;
    check(
        missing(&text(&collect.stderr)).len() == 40 - kept.len(),
        || text(&collect.stderr),
    )?;

    let resubmit = gaprun(&["slurm", "resubmit", "--wait", f], dir.path());
    check(resubmit.status.code() == Some(0), || text(&resubmit.stderr))?;
    let after = result_files(&folder);
    check(kept.iter().all(|k| after.contains(k)), || {
        "a kept result was rewritten".into()
    })?;
    // The second run of the shard did only what was missing.
    let todo: Vec<u64> = std::fs::read_dir(folder.join("shards"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let v: Value = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            v["tasks"].as_u64()
        })
        .collect();
    check(
        todo.contains(&40) && todo.contains(&(40 - kept.len() as u64)),
        || format!("tasks per shard run: {todo:?}"),
    )?;
    let all = json_lines(&text(&resubmit.stdout))?;
    let values: Vec<String> = all
        .iter()
        .map(|r| r["value"].as_str().unwrap_or("").to_string())
        .collect();
    let want: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    check(values == want, || format!("values {values:?}"))
}

/// A folder of test files over 3 shards prints what a local run prints (the
/// `ok`/`FAIL` lines, GAP's diffs, `N passed, N failed`), times aside.
fn test_folder_over_shards_matches_local() -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let tests = dir.path().join("tests");
    std::fs::create_dir_all(tests.join("sub")).unwrap();
    for i in 0..9 {
        let mut body = "gap> Size(SymmetricGroup(4));\n24\n".repeat(1 + i * 3);
        if i % 4 == 1 {
            body.push_str("gap> 1 + 1;\n3\n");
        }
        let name = if i % 3 == 0 {
            format!("sub/t{i}.tst")
        } else {
            format!("t{i}.tst")
        };
        std::fs::write(tests.join(name), body).unwrap();
    }
    let strip_ms = |s: &str| -> String {
        s.lines()
            .map(|l| {
                match (
                    l.starts_with("ok ") || l.starts_with("FAIL "),
                    l.find(" ms)"),
                ) {
                    (true, Some(end)) => {
                        let open = l[..end].rfind('(').unwrap();
                        format!("{}(_{}", &l[..open], &l[end..])
                    }
                    _ => l.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let local = gaprun(&["test", "-A", "-j", "2", "tests"], dir.path());
    let cluster = gaprun(
        &[
            "slurm", "submit", "--shards", "3", "--wait", "test", "-A", "tests",
        ],
        dir.path(),
    );
    let (l, c) = (
        strip_ms(&text(&local.stdout)),
        strip_ms(&text(&cluster.stdout)),
    );
    check(l.contains("7 passed, 2 failed"), || {
        format!("local run: {l}")
    })?;
    check(l == c, || {
        format!("local:\n{l}\ncluster:\n{c}\n{}", text(&cluster.stderr))
    })?;
    both_exit(&local, &cluster, 1)
}

/// `run` over shards: the files' outputs in input order, byte for byte, the
/// failure lines on stderr, and the exit code.
fn run_files_over_shards_match_local() -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["run".to_string(), "-A".to_string()];
    for i in 0..7 {
        let name = format!("f{i}.g");
        let body = if i == 4 {
            "Print(\"before\\n\");\nError(\"four\");\n".to_string()
        } else {
            format!("Print(\"file {i}\\n\", Factorial({i}), \"\\n\");\n")
        };
        std::fs::write(dir.path().join(&name), body).unwrap();
        args.push(name);
    }
    let mut local_args: Vec<&str> = args.iter().map(String::as_str).collect();
    local_args.extend(["-j", "2"]);
    let local = gaprun(&local_args, dir.path());
    let mut submit: Vec<&str> = vec!["slurm", "submit", "--shards", "3", "--wait"];
    submit.extend(args.iter().map(String::as_str));
    let cluster = gaprun(&submit, dir.path());
    check(local.stdout == cluster.stdout, || {
        format!(
            "stdout: local {:?}, cluster {:?}",
            text(&local.stdout),
            text(&cluster.stdout)
        )
    })?;
    let failures = |o: &Output| -> Vec<String> {
        text(&o.stderr)
            .lines()
            .filter(|l| l.starts_with("gaprun: f"))
            .map(String::from)
            .collect()
    };
    check(
        failures(&local) == failures(&cluster) && failures(&local).len() == 1,
        || {
            format!(
                "stderr: local {}, cluster {}",
                text(&local.stderr),
                text(&cluster.stderr)
            )
        },
    )?;
    both_exit(&local, &cluster, 1)
}

/// Inside a job with --mem, gaprun sees the job's cgroup limit, and tasks
/// that outgrow their share stop as `memory_limit` — two at once, which the
/// job's limit could not hold — instead of being killed by the OOM killer.
fn memory_inside_a_job() -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("info.json");
    let bin = common::gaprun_bin();
    let status = Command::new("sbatch")
        .args(["--wait", "--mem=700M", "-c", "1", "-o"])
        .arg(&out)
        .arg(format!("--wrap={} info -A --json", bin.display()))
        .current_dir(dir.path())
        .output()
        .map_err(|e| e.to_string())?;
    check(status.status.success(), || text(&status.stderr))?;
    let info: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap())
        .map_err(|e| format!("info --json in a job: {e}"))?;
    let cgroup = &info["facts"]["cgroup_memory_max"];
    if cgroup["source"]
        .as_str()
        .is_some_and(|s| s.contains("memory.limit_in_bytes") || s.contains("memory.max"))
    {
        check(cgroup["value"] == 700 << 20, || {
            format!("cgroup limit seen in the job: {cgroup}")
        })?;
    } else {
        println!(
            "slurm_cluster: note: the cluster runs without cgroups ({cgroup}); memory part skipped"
        );
        return Ok(());
    }

    let hog = r#"L := [];; for i in [1..10^8] do Add(L, [i]); od;"#;
    write_tasks(
        dir.path(),
        [
            r#"{"id": "small", "code": "Size(SymmetricGroup(5));"}"#.to_string(),
            format!(r#"{{"id": "hog1", "code": "{hog}"}}"#),
            format!(r#"{{"id": "hog2", "code": "{hog}"}}"#),
            r#"{"id": "small2", "code": "2^10;"}"#.to_string(),
        ],
    );
    let run = gaprun(
        &[
            "slurm",
            "submit",
            "--mem",
            "700M",
            "--cpus-per-task",
            "2",
            "--wait",
            "batch",
            "-A",
            "tasks.jsonl",
        ],
        dir.path(),
    );
    let got = json_lines(&text(&run.stdout))?;
    let statuses: Vec<&str> = got
        .iter()
        .map(|r| r["status"].as_str().unwrap_or("?"))
        .collect();
    check(
        statuses == ["ok", "memory_limit", "memory_limit", "ok"],
        || {
            format!(
                "statuses {statuses:?}: {}{}",
                text(&run.stdout),
                text(&run.stderr)
            )
        },
    )?;
    check(run.status.code() == Some(1), || {
        format!("exit {:?}", run.status.code())
    })
}

/// A scenario: Ok, or what went wrong.
type Scenario = fn() -> Result<(), String>;

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let scenarios: [(&str, Scenario); 6] = [
        (
            "batch_of_200_over_4_shards_matches_local",
            batch_of_200_over_4_shards_matches_local,
        ),
        (
            "cancelled_shard_is_missing_then_resubmitted",
            cancelled_shard_is_missing_then_resubmitted,
        ),
        (
            "killed_shard_keeps_finished_tasks",
            killed_shard_keeps_finished_tasks,
        ),
        (
            "test_folder_over_shards_matches_local",
            test_folder_over_shards_matches_local,
        ),
        (
            "run_files_over_shards_match_local",
            run_files_over_shards_match_local,
        ),
        ("memory_inside_a_job", memory_inside_a_job),
    ];
    let chosen: Vec<_> = scenarios
        .iter()
        .filter(|(name, _)| filter.as_deref().map_or(true, |f| name.contains(f)))
        .collect();
    if chosen.is_empty() {
        println!("slurm_cluster: no scenario matches");
        return;
    }
    let cluster = match Cluster::ensure() {
        Ok(c) => c,
        Err(why) => {
            println!("slurm_cluster: skipped {} scenarios: {why}", chosen.len());
            return;
        }
    };
    let mut failed = 0;
    for (name, f) in &chosen {
        let start = Instant::now();
        let result = std::panic::catch_unwind(f).unwrap_or_else(|_| Err("panicked".into()));
        match result {
            Ok(()) => println!(
                "test {name} ... ok ({:.1} s)",
                start.elapsed().as_secs_f64()
            ),
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED\n{e}");
            }
        }
    }
    cluster.release();
    println!("{} passed, {failed} failed", chosen.len() - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
