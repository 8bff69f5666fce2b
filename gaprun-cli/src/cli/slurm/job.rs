//! The job folder of `gaprun slurm submit`: its layout, the manifest that
//! says what was submitted, one result file per finished task, and one
//! metadata file per shard run.
//!
//! ```text
//! DIR/job.json          manifest (what to run, the shard split, versions)
//! DIR/job.sh            the sbatch script (array task K runs shard K)
//! DIR/tasks.jsonl       batch: the copy of the task file the shards read
//! DIR/jobs              one line per sbatch: `JOBID ARRAY-SPEC`
//! DIR/results/I.json    the result of task I (global index), written once
//! DIR/shards/K-J.json   shard K's run in Slurm job J: host, versions
//! DIR/logs/             Slurm's output of every array task
//! ```
//!
//! Every file a shard writes is written to a temporary file in the same
//! folder and renamed into place, so a reader (or a shard killed mid-way)
//! never leaves a half-written result, and a result, once there, is never
//! replaced.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Format tag of `job.json`.
pub const FORMAT: &str = "gaprun-slurm/1";

/// What one submitted job folder runs.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Manifest {
    pub format: String,
    /// `run`, `test` or `batch`.
    pub subcommand: String,
    /// The subcommand's arguments as the array tasks pass them.
    pub args: Vec<String>,
    /// The folder the array tasks run in (where `submit` ran): relative
    /// paths in `args` mean what they meant there.
    pub cwd: PathBuf,
    /// The gaprun executable every array task runs (shared filesystem).
    pub gaprun: PathBuf,
    /// Number of tasks in the whole input.
    pub total: usize,
    /// `test` only: files left out by `--skip` (for the closing line).
    pub skipped: usize,
    /// Each shard's task indices (ascending), from [`gaprun::shard`].
    pub shards: Vec<Vec<usize>>,
    /// One label per task, naming it in "missing" reports.
    pub labels: Vec<String>,
    /// sbatch options every submission of this folder uses.
    pub sbatch: Vec<String>,
    /// The versions `submit` ran with; every shard must match them.
    pub versions: Versions,
}

/// What must be the same on every node.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    /// `gaprun --version`.
    pub gaprun: String,
    /// The GAP kernel version and the identity of the linked libgap.
    pub gap: String,
}

impl Versions {
    pub fn current() -> Versions {
        let info = gaprun::runtime::build_info();
        Versions {
            gaprun: super::super::version_string().to_string(),
            gap: format!("GAP {} (libgap {})", info.gap_version, info.libgap_id),
        }
    }
}

/// A shard run's record of itself, written when it starts.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ShardMeta {
    pub shard: usize,
    pub slurm_job: String,
    pub host: String,
    /// Tasks still to do when it started (results already present are skipped).
    pub tasks: usize,
    pub versions: Versions,
}

/// One task's result: what the local subcommand printed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub index: usize,
    /// The task's status name (`ok`, `gap_error`, `timeout`, …).
    pub status: String,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl TaskRecord {
    fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("index".into(), self.index.into());
        obj.insert("status".into(), self.status.clone().into());
        gaprun::json_text::insert_text(&mut obj, "stdout", &self.stdout);
        gaprun::json_text::insert_text(&mut obj, "stderr", &self.stderr);
        Value::Object(obj)
    }

    fn from_json(v: &Value) -> Option<TaskRecord> {
        use base64::Engine;
        let text = |field: &str| -> Option<Vec<u8>> {
            if let Some(b) = v.get(format!("{field}_base64")).and_then(Value::as_str) {
                return base64::engine::general_purpose::STANDARD.decode(b).ok();
            }
            Some(v.get(field)?.as_str()?.as_bytes().to_vec())
        };
        Some(TaskRecord {
            index: usize::try_from(v.get("index")?.as_u64()?).ok()?,
            status: v.get("status")?.as_str()?.to_string(),
            stdout: text("stdout")?,
            stderr: text("stderr")?,
        })
    }
}

/// Paths inside a job folder.
#[derive(Debug, Clone)]
pub struct JobDir {
    pub root: PathBuf,
}

impl JobDir {
    pub fn new(root: &Path) -> JobDir {
        JobDir {
            root: std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf()),
        }
    }
    pub fn manifest(&self) -> PathBuf {
        self.root.join("job.json")
    }
    pub fn script(&self) -> PathBuf {
        self.root.join("job.sh")
    }
    pub fn jobs_file(&self) -> PathBuf {
        self.root.join("jobs")
    }
    pub fn results(&self) -> PathBuf {
        self.root.join("results")
    }
    pub fn shards(&self) -> PathBuf {
        self.root.join("shards")
    }
    /// `batch`: the copy of the task file the array tasks read.
    pub fn tasks_copy(&self) -> PathBuf {
        self.root.join("tasks.jsonl")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Create the folder layout (the folder must be new or empty).
    pub fn create(&self) -> Result<(), String> {
        if let Ok(mut entries) = std::fs::read_dir(&self.root) {
            if entries.next().is_some() {
                return Err(format!("{} exists and is not empty", self.root.display()));
            }
        }
        for d in [
            self.root.clone(),
            self.results(),
            self.shards(),
            self.logs(),
        ] {
            std::fs::create_dir_all(&d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        Ok(())
    }

    pub fn read_manifest(&self) -> Result<Manifest, String> {
        let path = self.manifest();
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "{} is not a gaprun job folder (cannot read {}: {e})",
                self.root.display(),
                path.display()
            )
        })?;
        let m: Manifest =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if m.format != FORMAT {
            return Err(format!(
                "{}: format {:?}, expected {FORMAT:?}",
                path.display(),
                m.format
            ));
        }
        Ok(m)
    }

    pub fn write_manifest(&self, m: &Manifest) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(m).map_err(|e| e.to_string())?;
        write_atomic(&self.manifest(), &text, true)
    }

    /// The Slurm job ids submitted for this folder, oldest first.
    pub fn job_ids(&self) -> Vec<String> {
        std::fs::read_to_string(self.jobs_file())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    }

    pub fn add_job(&self, id: &str, array: &str) -> Result<(), String> {
        let path = self.jobs_file();
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{id} {array}"))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    fn result_path(&self, index: usize) -> PathBuf {
        self.results().join(format!("{index}.json"))
    }

    /// Indices of the tasks that have a result.
    pub fn present(&self) -> std::collections::BTreeSet<usize> {
        std::fs::read_dir(self.results())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                name.to_str()?.strip_suffix(".json")?.parse().ok()
            })
            .collect()
    }

    /// Write a task's result unless one is already there (then it is kept:
    /// a result is never recomputed into a different file content).
    pub fn write_result(&self, record: &TaskRecord) -> Result<(), String> {
        let text = serde_json::to_vec(&record.to_json()).map_err(|e| e.to_string())?;
        write_atomic(&self.result_path(record.index), &text, false)
    }

    /// Every result present, by index. A file that does not parse is an
    /// error (results are renamed into place whole, so it was not ours).
    pub fn read_results(&self) -> Result<BTreeMap<usize, TaskRecord>, String> {
        let mut out = BTreeMap::new();
        for index in self.present() {
            let path = self.result_path(index);
            let text =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let record = serde_json::from_slice(&text)
                .ok()
                .and_then(|v| TaskRecord::from_json(&v))
                .filter(|r| r.index == index)
                .ok_or_else(|| format!("{} is not a gaprun task result", path.display()))?;
            out.insert(index, record);
        }
        Ok(out)
    }

    pub fn write_shard_meta(&self, meta: &ShardMeta) -> Result<(), String> {
        let name = format!("{}-{}.json", meta.shard, meta.slurm_job.replace('/', "_"));
        let text = serde_json::to_vec_pretty(meta).map_err(|e| e.to_string())?;
        write_atomic(&self.shards().join(name), &text, true)
    }

    pub fn shard_metas(&self) -> Vec<(PathBuf, Result<ShardMeta, String>)> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.shards())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|p| {
                let meta = std::fs::read(&p)
                    .map_err(|e| e.to_string())
                    .and_then(|t| serde_json::from_slice(&t).map_err(|e| e.to_string()));
                (p, meta)
            })
            .collect()
    }
}

/// Write `bytes` to `path` through a temporary file in the same folder and a
/// rename; with `replace` false an existing file is left as it is.
pub fn write_atomic(path: &Path, bytes: &[u8], replace: bool) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| fail(&e))?;
    tmp.write_all(bytes).map_err(|e| fail(&e))?;
    if replace {
        tmp.persist(path).map_err(|e| fail(&e.error))?;
    } else if let Err(e) = tmp.persist_noclobber(path) {
        if e.error.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(fail(&e.error));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_including_non_utf8_output() {
        let dir = tempfile::tempdir().unwrap();
        let job = JobDir::new(dir.path());
        job.create().unwrap();
        let r = TaskRecord {
            index: 7,
            status: "gap_error".into(),
            stdout: b"ok\n".to_vec(),
            stderr: vec![0xff, b'\n'],
        };
        job.write_result(&r).unwrap();
        // A second result for the same task never replaces the first.
        job.write_result(&TaskRecord {
            status: "ok".into(),
            ..r.clone()
        })
        .unwrap();
        assert_eq!(job.present().into_iter().collect::<Vec<_>>(), vec![7]);
        assert_eq!(job.read_results().unwrap()[&7], r);
    }
}
