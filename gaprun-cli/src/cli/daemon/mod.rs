//! `gaprun daemon start|stop|status`: one warm GAP per user and
//! configuration, so that one-shot commands skip GAP's start-up.
//!
//! The daemon initialises GAP once and waits on a Unix socket in a private
//! folder ([`dir`]). A command that may use it (`gaprun FILE`, `-c`, `-`,
//! `run`, `test`, `batch`) computes its configuration's [`key`], connects
//! to the socket named after it and sends its argument list, working
//! folder, environment, umask, resource limits and — as `SCM_RIGHTS` — its
//! standard input, output and error ([`protocol`]). The daemon, which stays
//! single-threaded so that it may always fork, forks a fresh child per
//! command ([`child`]): the child takes the caller's folder, environment and
//! files and runs the very same code as `gaprun` without the daemon
//! ([`crate::cli::main_with_args`]), except that starting GAP hands out the
//! inherited, already initialised GAP ([`warm_gap`]). The exit status or
//! signal goes back to the client, which exits the same way; the client
//! forwards Ctrl-C (SIGINT), SIGTERM, SIGHUP and SIGQUIT to the child's
//! process group, and the daemon kills that group when the client goes
//! away ([`server`], [`client`]).
//!
//! Without a daemon, with a stale one, or when it refuses, the command
//! starts GAP itself as always. See docs/daemon.md.

mod child;
mod client;
mod dir;
mod key;
mod protocol;
mod server;

pub use client::try_delegate;

use super::{GapArgs, EXIT_GAP_ERROR, EXIT_OK, EXIT_USAGE};
use clap::{Args, Subcommand};
use gaprun::size::parse_seconds;
use gaprun::Gap;
use protocol::{Reply, Request, StatusInfo};
use std::ffi::OsString;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Environment variable choosing whether commands use a daemon.
pub const MODE_ENV: &str = "GAPRUN_DAEMON";

/// How long an automatically started daemon stays when unused.
const AUTO_IDLE: Duration = Duration::from_secs(30 * 60);

#[derive(Args, Debug)]
pub struct DaemonArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Subcommand, Debug)]
pub enum Action {
    /// Start a warm GAP for this configuration in the background (GAP
    /// roots, packages and memory flags as given here).
    Start(StartArgs),
    /// Stop the daemon of this configuration.
    Stop {
        /// Stop every daemon of yours (any configuration, stale ones too).
        #[arg(long)]
        all: bool,
    },
    /// Show the daemon of this configuration (key, pid, uptime, commands
    /// served) and any other of yours; exit 0 when one serves this
    /// configuration, 1 otherwise.
    Status,
    /// Run the daemon in this process (what `start` launches).
    #[command(hide = true)]
    Serve(StartArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct StartArgs {
    /// Exit after this many seconds without a command (default: never).
    #[arg(long = "idle-timeout", value_name = "SECONDS", value_parser = parse_seconds)]
    pub idle_timeout: Option<Duration>,

    /// How often an idle daemon checks its socket and whether it went
    /// stale (default 30 s; tests use less).
    #[arg(long = "check-every", value_name = "SECONDS", value_parser = parse_seconds, hide = true)]
    pub check_every: Option<Duration>,
}

/// Whether commands use a daemon (`GAPRUN_DAEMON`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `off`, `0`, `no`: never.
    Off,
    /// Unset (or `on`, `1`, `yes`): when one is running for the
    /// configuration.
    On,
    /// `auto`: as `On`, and when none is running start one in the
    /// background for the next command (it exits after 30 idle minutes).
    Auto,
}

pub fn mode_from(value: Option<&str>) -> Mode {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("0") | Some("off") | Some("no") | Some("false") | Some("never") => Mode::Off,
        Some("auto") => Mode::Auto,
        _ => Mode::On,
    }
}

fn mode() -> Mode {
    mode_from(std::env::var(MODE_ENV).ok().as_deref())
}

/// `GAPRUN_DEBUG=daemon` (or `all`): say on stderr why a command did not
/// use the daemon.
fn debug(msg: &str) {
    if std::env::var("GAPRUN_DEBUG")
        .is_ok_and(|v| v.split(',').any(|p| p == "daemon" || p == "all"))
    {
        eprintln!("gaprun: daemon: {msg}");
    }
}

/// In a child forked by the daemon: the write end of its control pipe,
/// through which it can still refuse (before it touched stdin or wrote).
static CHILD_CONTROL: AtomicI32 = AtomicI32::new(-1);

/// Whether this process is a command run by the daemon.
pub fn in_daemon_child() -> bool {
    CHILD_CONTROL.load(Ordering::Relaxed) >= 0
}

/// In a child of the daemon, the inherited GAP, as the command's own start
/// of GAP would have made it for `planned_workers` forked workers: the
/// warning limit (`-o`), which the pool policy divides among workers, is
/// set for them; if anything else would differ the child refuses (the
/// client then starts GAP itself). `None` outside the daemon.
pub fn warm_gap(args: &GapArgs, planned_workers: u32) -> Option<gaprun::Result<Gap<'static>>> {
    let control = CHILD_CONTROL.load(Ordering::Relaxed);
    if control < 0 {
        return None;
    }
    let have = Gap::initialized_options()?;
    let want = match args.resolve(planned_workers) {
        Ok((want, _, _)) => want,
        Err(e) => child::refuse(control, &format!("memory policy: {e}")),
    };
    if !key::same_start(&have, &want) {
        child::refuse(
            control,
            &format!("this command needs GAP started with {:?}", want.argv()),
        );
    }
    if want.warn_limit != have.warn_limit {
        if let Some(bytes) = want.warn_limit {
            // SAFETY: sets two integers GAP reads at its next allocation;
            // GAP runs on this thread only and is not running now.
            unsafe { gaprun::sys::gaprun_fork_set_memory_limits(bytes.div_ceil(1024), 0) };
        }
    }
    let gap = match Gap::init(have) {
        Ok(gap) => gap,
        Err(e) => return Some(Err(e)),
    };
    if let Err(e) = refresh_environment(gap) {
        child::refuse(control, &format!("cannot pass the environment to GAP: {e}"));
    }
    Some(Ok(gap))
}

/// GAP reads the process's environment once, at start-up (lib/system.g,
/// after a workspace restore too): `GAPInfo.SystemEnvironment` (also
/// `GAPInfo.KernelInfo.ENVIRONMENT`), `GAPInfo.UserHome` from `HOME` and
/// `GAPInfo.DirectoriesSystemPrograms` from `PATH`. The daemon's GAP read
/// the daemon's; set them from this command's environment as a fresh
/// start would, immutable as there. (`GAPInfo.UserGapRoot` follows `HOME`
/// too, but `~/.gap` is part of the key.)
fn refresh_environment(gap: Gap<'_>) -> gaprun::Result<()> {
    use gaprun::fork::gap_string_literal as lit;
    use std::os::unix::ffi::OsStrExt;
    let mut code = String::from("GAPRUN_DAEMON_ENV := rec();;\n");
    for (name, value) in std::env::vars_os() {
        code.push_str(&format!(
            "GAPRUN_DAEMON_ENV.({}) := {};;\n",
            lit(name.as_bytes()),
            lit(value.as_bytes())
        ));
    }
    let home = std::env::var_os("HOME").map_or("fail".to_string(), |h| lit(h.as_bytes()));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let programs: Vec<String> = path
        .as_bytes()
        .split(|&b| b == b':')
        .filter(|p| !p.is_empty())
        .map(lit)
        .collect();
    code.push_str(&format!(
        "GAPRUN_DAEMON_INFO := ShallowCopy(GAPInfo.KernelInfo);;\n\
         GAPRUN_DAEMON_INFO.ENVIRONMENT := GAPRUN_DAEMON_ENV;;\n\
         GAPInfo.KernelInfo := MakeImmutable(GAPRUN_DAEMON_INFO);;\n\
         GAPInfo.SystemEnvironment := GAPInfo.KernelInfo.ENVIRONMENT;;\n\
         GAPInfo.UserHome := {home};;\n\
         GAPInfo.DirectoriesSystemPrograms := List([{}], MakeImmutable);;\n\
         GAPInfo.DirectoryCurrent := false;;\n\
         Unbind(GAPRUN_DAEMON_ENV);; Unbind(GAPRUN_DAEMON_INFO);;\n",
        programs.join(", ")
    ));
    // Nothing of this may reach the command's stderr (the caller turns
    // capturing off again, as for any start).
    gap.set_error_capture(true)?;
    for st in gap.eval(&code)? {
        if let Some(e) = st.failure() {
            return Err(e);
        }
    }
    Ok(())
}

/// The command line that starts a daemon for `args` (GAP options as flags,
/// so the daemon resolves the same configuration).
pub fn serve_argv(args: &GapArgs, start: &StartArgs) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec!["daemon".into(), "serve".into()];
    argv.extend(gap_args_to_argv(args));
    for (flag, value) in [
        ("--idle-timeout", start.idle_timeout),
        ("--check-every", start.check_every),
    ] {
        if let Some(t) = value {
            argv.push(flag.into());
            argv.push(t.as_secs_f64().to_string().into());
        }
    }
    argv
}

/// `args` as command-line flags (parsing them gives `args` back).
pub fn gap_args_to_argv(args: &GapArgs) -> Vec<OsString> {
    let mut v: Vec<OsString> = Vec::new();
    for root in &args.gap_root {
        v.push("--gap-root".into());
        v.push(root.clone().into_os_string());
    }
    for (flag, value) in [
        ("--pool-size", args.pool_size),
        ("--warn-limit", args.warn_limit),
        ("--hard-limit", args.hard_limit),
        ("--initial-workspace", args.initial_workspace),
    ] {
        if let Some(bytes) = value {
            v.push(flag.into());
            v.push(bytes.to_string().into());
        }
    }
    if !args.packages.is_empty() {
        v.push("--packages".into());
        v.push(args.packages.join(",").into());
    }
    for (flag, on) in [
        ("--no-autoload", args.no_autoload),
        ("--noreserve", args.noreserve),
        ("--reserve", args.reserve),
        ("--no-hugepages", args.no_hugepages),
        ("--no-workspace", args.no_workspace),
    ] {
        if on {
            v.push(flag.into());
        }
    }
    if let Some(dir) = &args.workspace_cache {
        v.push("--workspace-cache".into());
        v.push(dir.clone().into_os_string());
    }
    v
}

pub fn run(gap: &GapArgs, args: &DaemonArgs) -> i32 {
    match &args.action {
        Action::Start(start) => start_daemon(gap, start),
        Action::Stop { all } => stop(gap, *all),
        Action::Status => status(gap),
        Action::Serve(start) => server::serve(gap, start),
    }
}

/// Ask the daemon behind `socket` for its status.
fn query(socket: &Path) -> Result<StatusInfo, String> {
    let mut s = UnixStream::connect(socket).map_err(|e| e.to_string())?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    protocol::send(&s, &Request::Status).map_err(|e| e.to_string())?;
    match protocol::receive::<Reply>(&mut s) {
        Ok(Reply::Status(info)) => Ok(info),
        Ok(Reply::Refused { reason }) => Err(format!("refused: {reason}")),
        Ok(other) => Err(format!("unexpected answer {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// This configuration's key and the daemon folder, made safe to use
/// (`start` and the daemon itself); the exit code when either fails.
pub(super) fn key_and_folder(gap: &GapArgs) -> Result<(key::Key, std::path::PathBuf), i32> {
    let key = key::compute(gap).map_err(|e| {
        eprintln!("gaprun: {e}");
        EXIT_USAGE
    })?;
    let dir = dir::runtime_dir();
    dir::ensure(&dir).map_err(|e| {
        eprintln!("gaprun: {e}");
        EXIT_USAGE
    })?;
    Ok((key, dir))
}

fn start_daemon(gap: &GapArgs, start: &StartArgs) -> i32 {
    let (key, dir) = match key_and_folder(gap) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let files = dir::files(&dir, &key.id);
    if let Ok(info) = query(&files.socket) {
        if info.stale.is_none() {
            println!(
                "gaprun: a daemon already serves this configuration (pid {}, key {})",
                info.pid, info.key
            );
            return EXIT_OK;
        }
        // A stale daemon under this key: replace it.
        let _ = stop_one(&files.socket);
    }
    let mut child = match client::spawn_serve(gap, start, &files.log, false) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gaprun: cannot start the daemon: {e}");
            return EXIT_USAGE;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Ok(info) = query(&files.socket) {
            if info.key == key.id {
                println!(
                    "gaprun: daemon started (pid {}, key {}, socket {})",
                    info.pid,
                    info.key,
                    files.socket.display()
                );
                return EXIT_OK;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(&files.log).unwrap_or_default();
            eprintln!("gaprun: the daemon did not start ({status}):");
            eprint!("{log}");
            return EXIT_USAGE;
        }
        if Instant::now() > deadline {
            eprintln!(
                "gaprun: the daemon did not answer within 10 minutes (see {})",
                files.log.display()
            );
            return EXIT_USAGE;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stop the daemon behind `socket` and wait until its process is gone.
fn stop_one(socket: &Path) -> Result<i32, String> {
    let info = query(socket)?;
    let mut s = UnixStream::connect(socket).map_err(|e| e.to_string())?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    protocol::send(&s, &Request::Stop).map_err(|e| e.to_string())?;
    match protocol::receive::<Reply>(&mut s) {
        Ok(Reply::Stopping) => {}
        Ok(other) => return Err(format!("unexpected answer {other:?}")),
        Err(e) => return Err(e.to_string()),
    }
    let pid = nix::unistd::Pid::from_raw(info.pid);
    let deadline = Instant::now() + Duration::from_secs(10);
    while nix::sys::signal::kill(pid, None).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(info.pid)
}

fn stop(gap: &GapArgs, all: bool) -> i32 {
    let dir = dir::runtime_dir();
    if let Err(e) = dir::check(&dir) {
        if std::fs::symlink_metadata(&dir).is_err() {
            println!("gaprun: no daemon is running");
            return EXIT_OK;
        }
        eprintln!("gaprun: {e}");
        return EXIT_USAGE;
    }
    let sockets = if all {
        dir::sockets(&dir)
    } else {
        match key::compute(gap) {
            Ok(k) => vec![dir::files(&dir, &k.id).socket],
            Err(e) => {
                eprintln!("gaprun: {e}");
                return EXIT_USAGE;
            }
        }
    };
    let mut stopped = 0;
    for socket in sockets {
        match stop_one(&socket) {
            Ok(pid) => {
                stopped += 1;
                println!("gaprun: stopped the daemon with pid {pid}");
            }
            Err(_) if !socket.exists() => {}
            Err(e) => {
                // A socket nobody answers on: a daemon that died.
                debug(&format!("{}: {e}", socket.display()));
                let _ = std::fs::remove_file(&socket);
            }
        }
    }
    if stopped == 0 {
        println!(
            "gaprun: no daemon is running{}",
            if all { "" } else { " for this configuration" }
        );
    }
    EXIT_OK
}

fn uptime(secs: f64) -> String {
    let s = secs as u64;
    match s {
        0..=59 => format!("{secs:.1} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s / 60 % 60),
    }
}

fn print_info(info: &StatusInfo) {
    println!("  key:     {}", info.key);
    println!("  pid:     {}", info.pid);
    println!("  uptime:  {}", uptime(info.uptime_secs));
    println!(
        "  served:  {} command(s), {} running",
        info.served, info.running
    );
    println!("  config:  {}", info.config);
    match &info.stale {
        Some(why) => println!("  state:   stale ({why}); commands start GAP themselves"),
        None => println!("  state:   serving"),
    }
}

fn status(gap: &GapArgs) -> i32 {
    let key = match key::compute(gap) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("gaprun: {e}");
            return EXIT_USAGE;
        }
    };
    let dir = dir::runtime_dir();
    println!("configuration key: {}", key.id);
    println!("configuration:     {}", key.config);
    println!("daemon folder:     {}", dir.display());
    if let Err(e) = dir::check(&dir) {
        if std::fs::symlink_metadata(&dir).is_ok() {
            eprintln!("gaprun: {e}");
            return EXIT_USAGE;
        }
        println!("no daemon is running");
        return EXIT_GAP_ERROR;
    }
    let mine = dir::files(&dir, &key.id).socket;
    let mut code = EXIT_GAP_ERROR;
    let mut others = 0;
    for socket in dir::sockets(&dir) {
        let this = socket == mine;
        match query(&socket) {
            Ok(info) => {
                if this && info.stale.is_none() {
                    println!("daemon for this configuration: running");
                    code = EXIT_OK;
                } else if this {
                    println!("daemon for this configuration: stale");
                } else {
                    others += 1;
                    println!(
                        "other daemon ({}):",
                        if info.stale.is_some() {
                            "stale"
                        } else {
                            "another configuration"
                        }
                    );
                }
                print_info(&info);
            }
            Err(e) => println!(
                "socket {}: no daemon answers ({e}); stale, `gaprun daemon stop --all` removes it",
                socket.display()
            ),
        }
    }
    if code != EXIT_OK && !mine.exists() {
        println!(
            "no daemon for this configuration{}",
            if others > 0 {
                " (the one(s) above were started with other GAP roots, packages, memory flags or another gaprun binary)"
            } else {
                ""
            }
        );
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn mode_values() {
        let cases = [
            (None, Mode::On),
            (Some(""), Mode::On),
            (Some("on"), Mode::On),
            (Some("1"), Mode::On),
            (Some("off"), Mode::Off),
            (Some("0"), Mode::Off),
            (Some("No"), Mode::Off),
            (Some("auto"), Mode::Auto),
            (Some(" AUTO "), Mode::Auto),
        ];
        for (v, want) in cases {
            assert_eq!(mode_from(v), want, "{v:?}");
        }
    }

    #[test]
    fn gap_args_survive_the_trip_to_the_daemon() {
        let lines: [&[&str]; 4] = [
            &[],
            &[
                "-A",
                "--packages",
                "io,smallgrp",
                "-s",
                "512m",
                "--noreserve",
            ],
            &[
                "--gap-root",
                "/a;/b",
                "-o",
                "1g",
                "-K",
                "3g",
                "-m",
                "64m",
                "--no-workspace",
            ],
            &["--reserve", "--no-hugepages", "--workspace-cache", "/c"],
        ];
        for line in lines {
            let mut argv = vec!["gaprun", "info"];
            argv.extend(line);
            let cli = crate::cli::Cli::try_parse_from(&argv).unwrap();
            let mut again: Vec<OsString> = vec!["gaprun".into(), "info".into()];
            again.extend(gap_args_to_argv(&cli.gap));
            let back = crate::cli::Cli::try_parse_from(&again).unwrap();
            assert_eq!(
                format!("{:?}", back.gap),
                format!("{:?}", cli.gap),
                "{line:?}"
            );
        }
    }
}
