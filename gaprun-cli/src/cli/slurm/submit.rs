//! `gaprun slurm submit`: write the job folder and submit the array.

use super::job::{JobDir, Manifest, Versions, FORMAT};
use super::{fail, scheduler};
use crate::cli::{Cli, Command};
use clap::{Args, Parser, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Run,
    Test,
    Batch,
}

impl Sub {
    fn name(self) -> &'static str {
        match self {
            Sub::Run => "run",
            Sub::Test => "test",
            Sub::Batch => "batch",
        }
    }
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// Number of shards (array tasks).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    shards: u32,
    /// CPUs per array task; the shard's fork pool runs that many tasks at once.
    #[arg(long = "cpus-per-task", value_name = "C", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    cpus_per_task: u32,
    /// Memory per array task (sbatch --mem), e.g. 4G.
    #[arg(long, value_name = "SIZE")]
    mem: Option<String>,
    /// Time limit per array task (sbatch --time), e.g. 1:00:00.
    #[arg(long, value_name = "T")]
    time: Option<String>,
    /// Partition (sbatch --partition).
    #[arg(long, value_name = "P")]
    partition: Option<String>,
    /// Any other sbatch option, passed as is (repeatable), e.g. --sbatch-arg=--qos=long.
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    sbatch_arg: Vec<String>,
    /// The job folder (default: a new `gaprun-slurm-…` folder here).
    #[arg(long = "job-dir", value_name = "DIR")]
    job_dir: Option<PathBuf>,
    /// Submit held: nothing runs until `scontrol release JOBID`.
    #[arg(long)]
    hold: bool,
    /// Wait for the array, showing progress, then collect.
    #[arg(long)]
    wait: bool,
    /// What to run on the cluster.
    #[arg(value_enum, value_name = "run|test|batch")]
    subcommand: Sub,
    /// Its arguments, as for the local subcommand (GAP options after it).
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

/// The tasks of the input as the local subcommand would see them.
struct Input {
    weights: Vec<u64>,
    labels: Vec<String>,
    skipped: usize,
    /// The arguments for the array tasks (a batch's task file is replaced
    /// by the job folder's copy).
    args: Vec<String>,
    /// `batch`: the task lines, copied into the job folder.
    tasks_copy: Option<String>,
}

pub fn run(a: &SubmitArgs) -> i32 {
    match submit(a) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

fn submit(a: &SubmitArgs) -> Result<i32, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?;
    let job = JobDir::new(&a.job_dir.clone().unwrap_or_else(|| default_dir(&cwd)));
    let input = read_input(a, &job)?;
    if input.weights.is_empty() {
        return Err("no tasks to submit".into());
    }
    job.create()?;
    if let Some(text) = &input.tasks_copy {
        super::job::write_atomic(&job.tasks_copy(), text.as_bytes(), true)?;
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the gaprun executable: {e}"))?;
    let shards = gaprun::shard::partition(&input.weights, a.shards as usize);
    let mut sbatch = vec![
        format!("--job-name=gaprun-{}", a.subcommand.name()),
        format!("--output={}/%A_%a.log", job.logs().display()),
        format!("--cpus-per-task={}", a.cpus_per_task),
    ];
    let opt = |name: &str, v: &Option<String>| v.as_ref().map(|v| format!("--{name}={v}"));
    sbatch.extend(opt("mem", &a.mem));
    sbatch.extend(opt("time", &a.time));
    sbatch.extend(opt("partition", &a.partition));
    sbatch.extend(a.sbatch_arg.iter().cloned());
    let manifest = Manifest {
        format: FORMAT.into(),
        subcommand: a.subcommand.name().into(),
        args: input.args,
        cwd,
        gaprun: exe,
        total: input.weights.len(),
        skipped: input.skipped,
        shards,
        labels: input.labels,
        sbatch,
        versions: Versions::current(),
    };
    job.write_manifest(&manifest)?;
    super::job::write_atomic(&job.script(), script(&job, &manifest).as_bytes(), true)?;
    // More shards than tasks: the empty ones are not worth a GAP start.
    let nonempty: Vec<usize> = (0..manifest.shards.len())
        .filter(|&k| !manifest.shards[k].is_empty())
        .collect();
    let id = submit_array(&job, &manifest, &nonempty, a.hold)?;
    announce(&id, &job, a.wait);
    if !a.wait {
        return Ok(crate::cli::EXIT_OK);
    }
    super::wait::wait(&job, &manifest, std::slice::from_ref(&id))?;
    Ok(super::collect::run(&job.root))
}

/// Say which job and folder: on stdout, or on stderr with `--wait` (whose
/// stdout is then exactly what the local subcommand prints).
pub fn announce(id: &str, job: &JobDir, wait: bool) {
    let text = format!("job {id}\nfolder {}", job.root.display());
    if wait {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}

/// `gaprun-slurm-SECONDS-PID` in `cwd`.
fn default_dir(cwd: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    cwd.join(format!("gaprun-slurm-{secs}-{}", std::process::id()))
}

/// Submit the array tasks `shards` of the job folder's script; record and
/// return the job id.
pub fn submit_array(
    job: &JobDir,
    m: &Manifest,
    shards: &[usize],
    hold: bool,
) -> Result<String, String> {
    let spec = array_spec(shards);
    let mut args = vec![format!("--array={spec}")];
    args.extend(m.sbatch.iter().cloned());
    if hold {
        args.push("--hold".into());
    }
    let id = scheduler::sbatch(&args, &job.script())?;
    job.add_job(&id, &spec)?;
    Ok(id)
}

/// `0-3`, or `2,5,7` for a selection.
fn array_spec(shards: &[usize]) -> String {
    let contiguous = shards.windows(2).all(|w| w[1] == w[0] + 1);
    match (shards.first(), shards.last()) {
        (Some(a), Some(b)) if contiguous && a != b => format!("{a}-{b}"),
        _ => shards
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Single-quote for /bin/sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The sbatch script: array task K runs shard K in the submit folder and
/// records its results in the job folder.
fn script(job: &JobDir, m: &Manifest) -> String {
    let args: Vec<String> = m.args.iter().map(|a| sh_quote(a)).collect();
    format!(
        "#!/bin/sh\n\
         # Written by `gaprun slurm submit`: array task K runs shard K of {n}.\n\
         cd {cwd} || exit 2\n\
         exec {exe} {sub} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --shard-results {dir} \
         -j \"${{SLURM_CPUS_PER_TASK:-1}}\" {args}\n",
        n = m.shards.len(),
        cwd = sh_quote(&m.cwd.to_string_lossy()),
        exe = sh_quote(&m.gaprun.to_string_lossy()),
        sub = m.subcommand,
        dir = sh_quote(&job.root.to_string_lossy()),
        args = args.join(" "),
    )
}

/// The subcommand's arguments as typed. Clap hands GAP options (`-A`,
/// `--gap-root`, …; global options of every subcommand) that come first to
/// `submit` itself, so `parsed` (what clap left for ARGS) may lack them:
/// take everything after the subcommand's name in the raw command line —
/// the last occurrence after which `parsed` still follows, so an option
/// value equal to the name (`--partition batch`) is not mistaken for it.
fn subcommand_args(raw: &[String], name: &str, parsed: &[String]) -> Vec<String> {
    let follows = |rest: &[String]| {
        let mut it = rest.iter();
        parsed.iter().all(|p| it.any(|r| r == p))
    };
    (0..raw.len())
        .rev()
        .find(|&i| raw[i] == name && follows(&raw[i + 1..]))
        .map_or_else(|| parsed.to_vec(), |i| raw[i + 1..].to_vec())
}

/// Parse the subcommand's arguments as the local subcommand would, and list
/// its tasks. Usage errors surface here, before anything is submitted.
fn read_input(a: &SubmitArgs, job: &JobDir) -> Result<Input, String> {
    let raw: Vec<String> = std::env::args_os()
        .map(|s| s.into_string())
        .collect::<Result<_, _>>()
        .map_err(|s| format!("argument {s:?} is not UTF-8"))?;
    let sub_args = subcommand_args(&raw, a.subcommand.name(), &a.args);
    let argv = ["gaprun", a.subcommand.name()]
        .into_iter()
        .map(String::from)
        .chain(sub_args.iter().cloned());
    let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string().trim_end().to_string())?;
    let pool = match &cli.command {
        Some(Command::Run(r)) => &r.pool,
        Some(Command::Test(t)) => &t.pool,
        Some(Command::Batch(b)) => &b.pool,
        _ => unreachable!("the subcommand is run, test or batch"),
    };
    if pool.jobs.is_some() || pool.shard.is_some() || pool.shard_results.is_some() {
        return Err(
            "give no -j/--jobs, --shard or --shard-results to a submitted subcommand: \
             each array task runs -j ${SLURM_CPUS_PER_TASK} (--cpus-per-task) on its own shard"
                .into(),
        );
    }
    let display = |p: &Path| p.display().to_string();
    match &cli.command {
        Some(Command::Run(r)) => {
            crate::cli::options::check_readable_files(&r.files).map_err(|_| "cannot submit")?;
            Ok(Input {
                weights: vec![1; r.files.len()],
                labels: r.files.iter().map(|f| display(f)).collect(),
                skipped: 0,
                args: sub_args.clone(),
                tasks_copy: None,
            })
        }
        Some(Command::Test(t)) => {
            let all = crate::cli::test::collect_test_files(&t.paths)?;
            let (skipped, files) = crate::cli::test::split_skipped(all, &t.skip);
            Ok(Input {
                weights: crate::cli::test::file_sizes(&files),
                labels: files.iter().map(|f| display(f)).collect(),
                skipped: skipped.len(),
                args: sub_args.clone(),
                tasks_copy: None,
            })
        }
        Some(Command::Batch(b)) => {
            let lines = crate::cli::batch::read_input(&b.tasks)
                .map_err(|e| format!("cannot read {}: {e}", b.tasks.display()))?;
            let mut labels = Vec::new();
            for (n, text) in lines.iter().enumerate() {
                if text.trim().is_empty() {
                    continue;
                }
                let (id, _) = crate::cli::batch::line::parse_line(
                    text,
                    crate::cli::options::check_readable_file,
                )
                .map_err(|e| format!("{}:{}: {e}", b.tasks.display(), n + 1))?;
                labels.push(match id {
                    Some(id) => format!("line {} (id {id})", n + 1),
                    None => format!("line {}", n + 1),
                });
            }
            // The array tasks read a copy: the input cannot change under them
            // (or between submit and resubmit), and `-` (stdin) works.
            let mut text = lines.join("\n");
            text.push('\n');
            let copy = job.tasks_copy().to_string_lossy().into_owned();
            let mut args = sub_args.clone();
            let original = b.tasks.to_string_lossy();
            match args.iter().rposition(|x| *x == original) {
                Some(i) => args[i] = copy,
                None => {
                    return Err(format!(
                        "cannot find the task file {original} among the arguments"
                    ))
                }
            }
            Ok(Input {
                weights: vec![1; labels.len()],
                labels,
                skipped: 0,
                args,
                tasks_copy: Some(text),
            })
        }
        _ => unreachable!("the subcommand is run, test or batch"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs() {
        assert_eq!(array_spec(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_spec(&[2]), "2");
        assert_eq!(array_spec(&[1, 3, 4]), "1,3,4");
    }

    #[test]
    fn subcommand_arguments_from_the_raw_command_line() {
        let v = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let raw = v("gaprun slurm submit --partition batch batch -A t.jsonl");
        assert_eq!(
            subcommand_args(&raw, "batch", &v("t.jsonl")),
            v("-A t.jsonl")
        );
        let raw = v("gaprun slurm submit batch -A batch");
        assert_eq!(subcommand_args(&raw, "batch", &v("batch")), v("-A batch"));
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a b'c"), r"'a b'\''c'");
    }
}
