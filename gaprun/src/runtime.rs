//! The GAP runtime: one initialisation per process, options → GAP's command
//! line, and the entry points every other module builds on.
//!
//! GAP cannot be initialised twice or finalised, and it is not thread-safe.
//! [`Gap::init`] therefore records the options and the initialising thread;
//! asking again with the same options on that thread hands out another
//! handle, anything else is an error. [`Gap`] is `!Send`/`!Sync`, so handles
//! (and the [`GapObj`]s borrowed from them) never leave that thread.

use crate::convert::FromGap;
use crate::error::{Error, GapError, Result};
use crate::obj::{self, GapObj};
use crate::raw::{check, cstring, list_elm, string_bytes, RawObj};
use crate::size::gap_flag_value;
use crate::sys;
pub use crate::token::Gap;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::ThreadId;

/// GAP root folders this build was made against (`-l` order).
pub fn built_in_roots() -> Vec<PathBuf> {
    sys::GAP_ROOTS
        .split(';')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// Names of the GAP packages installed under `roots` (folders
/// `pkg/NAME` holding a `PackageInfo.g`), sorted, each once: what
/// `gaprun info` counts. Unreadable folders count as empty.
pub fn installed_packages(roots: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = roots
        .iter()
        .filter_map(|root| std::fs::read_dir(root.join("pkg")).ok())
        .flat_map(|dir| dir.flatten())
        .filter(|entry| entry.path().join("PackageInfo.g").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Facts about the GAP this binary is built on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuildInfo {
    /// GAP version (from sysinfo.gap).
    pub gap_version: &'static str,
    /// "static-hooked" (libgap.a with the pool hook) or "dynamic".
    pub link_mode: &'static str,
    /// Where the build found GAP (environment, system, vendored …).
    pub gap_source: &'static str,
    /// The build's `GAPRUN_GAP` choice: "system" (the machine's GAP or
    /// Debian 12's pinned packages), "dist" (GAP 4.16.1 with the standard
    /// packages from pinned registry artifacts) or "path" (a user's tree).
    pub gap_kind: &'static str,
    /// Identity of the linked kernel library (sha256 prefix).
    pub libgap_id: &'static str,
    /// The distribution's `gap` kernel binary, when one was found.
    pub gap_executable: &'static str,
}

/// What this binary was built with.
pub fn build_info() -> BuildInfo {
    BuildInfo {
        gap_version: sys::GAP_VERSION,
        link_mode: sys::LINK_MODE,
        gap_source: sys::GAP_SOURCE,
        gap_kind: sys::GAP_KIND,
        libgap_id: sys::LIBGAP_ID,
        gap_executable: sys::GAP_EXECUTABLE,
    }
}

/// Whether GAP's pool mappings can be given MAP_NORESERVE in this build:
/// always with a static libgap (the renamed `mmap`); with a shared libgap
/// when the shim's `mmap` interposer is the one libgap binds to.
pub fn pool_hook_available() -> bool {
    build_info().link_mode == "static-hooked" || pool_stats().hooked
}

/// How to start GAP. Memory sizes are bytes; `None` leaves GAP's default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GapOptions {
    /// GAP root folders (`-l`); empty means the roots of this build.
    pub roots: Vec<PathBuf>,
    /// Initial pool size (`-s`).
    pub pool_size: Option<u64>,
    /// Workspace size at which GAP raises a (catchable) error (`-o`).
    pub warn_limit: Option<u64>,
    /// Hard workspace limit (`-K`).
    pub hard_limit: Option<u64>,
    /// Initial workspace (`-m`).
    pub initial_workspace: Option<u64>,
    /// Map the pool with MAP_NORESERVE (needs the pool hook).
    pub noreserve: bool,
    /// Advise transparent huge pages for the pool (needs the pool hook):
    /// forking a ready GAP then copies far fewer page-table entries.
    pub hugepages: bool,
    /// Load GAP's default packages at start-up (off = `-A`).
    pub autoload: bool,
    /// Packages to load after start-up.
    pub packages: Vec<String>,
    /// Saved workspace to restore (`-L`).
    pub workspace: Option<PathBuf>,
    /// Further GAP command-line arguments, passed as they are.
    pub extra_args: Vec<String>,
}

impl Default for GapOptions {
    fn default() -> Self {
        GapOptions {
            roots: Vec::new(),
            pool_size: None,
            warn_limit: None,
            hard_limit: None,
            initial_workspace: None,
            noreserve: false,
            hugepages: false,
            autoload: true,
            packages: Vec::new(),
            workspace: None,
            extra_args: Vec::new(),
        }
    }
}

impl GapOptions {
    /// The roots GAP will use.
    pub fn effective_roots(&self) -> Vec<PathBuf> {
        if self.roots.is_empty() {
            built_in_roots()
        } else {
            self.roots.clone()
        }
    }

    /// GAP's command line for these options.
    pub fn argv(&self) -> Vec<String> {
        let roots = self
            .effective_roots()
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(";");
        // -q: no banner; -E: no readline (gaprun edits lines itself, and the
        // kernel description saved in workspaces must not depend on it);
        // --nointeract: initialisation must not start GAP's own REPL.
        let mut argv: Vec<String> = vec!["gaprun".into(), "-l".into(), roots];
        argv.extend(["-q", "-E", "--nointeract"].map(String::from));
        if !self.autoload {
            argv.push("-A".into());
        }
        for (flag, value) in [
            ("-s", self.pool_size),
            ("-o", self.warn_limit),
            ("-K", self.hard_limit),
            ("-m", self.initial_workspace),
        ] {
            if let Some(bytes) = value {
                argv.push(flag.into());
                argv.push(gap_flag_value(bytes));
            }
        }
        if let Some(ws) = &self.workspace {
            argv.push("-L".into());
            argv.push(ws.display().to_string());
        }
        argv.extend(self.extra_args.iter().cloned());
        argv
    }

    /// Check the roots before GAP sees them: GAP exits the whole process
    /// when it cannot find its library.
    pub fn validate(&self) -> Result<()> {
        let roots = self.effective_roots();
        if roots.is_empty() {
            return Err(Error::Setup("no GAP root folder configured".into()));
        }
        let has_library = roots.iter().any(|r| {
            std::fs::File::open(r.join("lib/init.g")).is_ok()
                && std::fs::read_dir(r.join("lib")).is_ok()
        });
        if !has_library {
            return Err(Error::Setup(format!(
                "no readable GAP library (lib/init.g) under the GAP root(s) {}",
                roots
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if self.noreserve && !pool_hook_available() {
            return Err(Error::Setup(
                "MAP_NORESERVE was requested but GAP's mmap calls do not reach gaprun's pool hook (libgap is linked dynamically and this executable does not export gaprun's mmap interposer)"
                    .into(),
            ));
        }
        if let Some(ws) = &self.workspace {
            if std::fs::File::open(ws).is_err() {
                return Err(Error::Setup(format!(
                    "cannot read saved workspace {}",
                    ws.display()
                )));
            }
        }
        Ok(())
    }
}

struct InitRecord {
    options: GapOptions,
    thread: ThreadId,
    /// Why the start failed, if it did: GAP cannot be started again, and a
    /// half-started GAP is never handed out.
    failure: Option<String>,
}

static INIT: Mutex<Option<InitRecord>> = Mutex::new(None);

/// The result of one statement evaluated by [`Gap::eval`].
#[derive(Debug)]
pub struct Statement<'gap> {
    /// What the statement printed.
    pub output: String,
    /// The exact bytes printed when they are not UTF-8 (`output` then holds
    /// them lossily); `None` when `output` is exact.
    pub output_bytes: Option<Vec<u8>>,
    /// The exact bytes of GAP's error text when they are not UTF-8 (the
    /// `error` then holds them lossily).
    pub error_text_bytes: Option<Vec<u8>>,
    /// Its value, if it had one and raised no error.
    pub value: Option<GapObj<'gap>>,
    /// The value as GAP's REPL shows it (absent when `;;` suppressed it).
    pub view: Option<String>,
    /// The error it raised.
    pub error: Option<GapError>,
    /// It ended in `;;`.
    pub suppressed: bool,
    /// It was `quit;`/`QUIT;` or called `QuitGap(n)` (evaluation stopped
    /// there).
    pub quit: bool,
    /// For `QUIT;` / `QuitGap(n)`: the exit code GAP would exit with
    /// (`None` for `quit;`, which only leaves GAP's read-eval loop).
    pub quit_code: Option<i32>,
    /// It was interrupted (its `error` holds GAP's "user interrupt" text).
    pub interrupted: bool,
    /// It reached GAP's memory limit (`-o`; `error` holds GAP's text).
    pub memory_limit: bool,
}

impl Statement<'_> {
    /// How this statement failed, as the [`Error`] a single call would
    /// return: [`Error::Interrupted`], [`Error::MemoryLimit`],
    /// [`Error::Quit`] (for `QUIT;`/`QuitGap(n)`), [`Error::Gap`];
    /// `None` when it succeeded or was a plain `quit;`.
    pub fn failure(&self) -> Option<Error> {
        if self.interrupted {
            Some(Error::Interrupted)
        } else if self.memory_limit {
            Some(Error::MemoryLimit)
        } else if let Some(code) = self.quit_code {
            Some(Error::Quit { code })
        } else {
            self.error.clone().map(Error::Gap)
        }
    }
}

/// What a streaming read-eval loop did (command-line modes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopReport {
    /// Statements read and evaluated (including those that raised errors).
    pub statements: u64,
    /// Statements whose evaluation raised a GAP error.
    pub errors: u64,
    /// `QUIT;` or `QuitGap(n)` ended the input; GAP's exit code.
    pub quit_code: Option<i32>,
    /// `quit;` ended the input.
    pub quit: bool,
    /// Of the `errors`, how many were interrupts (the shim's status, not
    /// GAP's message).
    pub interrupted: u64,
    /// Of the `errors`, how many reached GAP's memory limit (`-o`,
    /// `GapOptions::warn_limit`; the shim's status, not GAP's message).
    pub memory_limit: u64,
}

/// How a streaming loop treats its input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopMode {
    /// Show values as GAP's REPL does (`;;` suppresses).
    pub echo: bool,
    /// Stop at the first error.
    pub stop_on_error: bool,
    /// After an error, send output to stderr until `quit;` (GAP's break
    /// loop reading from a pipe does this).
    pub break_output: bool,
}

impl LoopMode {
    fn flags(self) -> i32 {
        let mut f = 0;
        if self.echo {
            f |= sys::GAPRUN_LOOP_ECHO as i32;
        }
        if self.stop_on_error {
            f |= sys::GAPRUN_LOOP_STOP_ON_ERROR as i32;
        }
        if self.break_output {
            f |= sys::GAPRUN_LOOP_BREAK_OUTPUT as i32;
        }
        f
    }
}

/// Statistics of the pool hook.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct PoolStats {
    /// Pool mappings GAP made (initial map and growth).
    pub mappings: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// How many were given MAP_NORESERVE.
    pub noreserve: u64,
    /// Whether GAP's mmap calls reach the hook in this build.
    pub hooked: bool,
    /// How many were advised to use transparent huge pages.
    pub hugepages: u64,
}

/// Compiled GAP packages (`io`, …) resolve GAP's kernel symbols from the
/// process; without them they fail to load and GAP's library is left half
/// loaded. Checked before GAP starts, so the error names the fix.
fn check_kernel_symbols_visible() -> Result<()> {
    if sys::kernel_symbols_visible() {
        return Ok(());
    }
    Err(Error::Setup(
        "GAP's kernel symbols are not exported by this program, so GAP's compiled packages \
         (io, …) cannot load. gap-sys links an exports reference library into every executable \
         that depends on it; this one was linked without it (a cdylib, gap-sys built with \
         GAP_SYS_EXPORTS_REF=0, or its build warned that it could not make the library). \
         Fix: link the executable with `-Wl,--export-dynamic` (in its build.rs: \
         println!(\"cargo:rustc-link-arg=-Wl,--export-dynamic\")), or rebuild gap-sys \
         with a writable cache folder (GAP_SYS_EXPORTS_DIR)."
            .into(),
    ))
}

/// Starting GAP: the token it hands out lives as long as the thread (see
/// [`Gap`] for why `'static` is sound).
impl Gap<'static> {
    /// Initialise GAP with `options`, or get a handle to the GAP this
    /// thread already initialised with the same options.
    pub fn init(options: GapOptions) -> Result<Gap<'static>> {
        let mut init = INIT.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rec) = init.as_ref() {
            if let Some(failure) = &rec.failure {
                return Err(Error::Setup(format!(
                    "GAP failed to start earlier in this process: {failure}"
                )));
            }
            if rec.thread != std::thread::current().id() {
                return Err(Error::WrongThread);
            }
            if rec.options != options {
                return Err(Error::AlreadyInitialized(format!(
                    "it was started with {:?}, now asked for {:?}",
                    rec.options.argv(),
                    options.argv()
                )));
            }
            return Ok(Gap::assume_initialised_here());
        }
        options.validate()?;
        check_kernel_symbols_visible()?;
        let argv = options.argv();
        let cargs: Vec<CString> = argv.iter().map(|a| cstring(a)).collect::<Result<_>>()?;
        // GAP keeps argv itself, not a copy (`KERNEL_INFO().COMMAND_LINE`
        // reads it at any later time): the strings and the array live for
        // the rest of the process. Once per process, a few hundred bytes.
        let ptrs: &'static mut [*mut std::os::raw::c_char] = Box::leak(
            cargs
                .into_iter()
                .map(CString::into_raw)
                .chain(std::iter::once(std::ptr::null_mut()))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        // SAFETY: plain setter of the pool hook, before GAP maps its pool.
        unsafe {
            sys::gaprun_pool_set_noreserve(options.noreserve as i32);
            sys::gaprun_pool_set_hugepages(options.hugepages as i32);
        }
        // SAFETY: first and only initialisation in this process (guarded by
        // INIT); argv is leaked above, so what GAP keeps of it stays valid.
        let status = unsafe {
            sys::gaprun_initialize(
                (ptrs.len() - 1) as i32,
                ptrs.as_mut_ptr(),
                Some(obj::mark_roots),
            )
        };
        let gap = Gap::assume_initialised_here();
        let outcome = check(status)
            .map_err(|e| Error::Setup(format!("GAP start-up code failed: {e}")))
            .and_then(|()| gap.verify_started(options.autoload))
            .and_then(|()| {
                for pkg in &options.packages {
                    if !gap.load_package(pkg)? {
                        return Err(Error::Setup(format!(
                            "package `{pkg}` could not be loaded (not installed under the GAP roots, or its dependencies are missing)"
                        )));
                    }
                }
                Ok(())
            });
        *init = Some(InitRecord {
            options: options.clone(),
            thread: std::thread::current().id(),
            failure: outcome.as_ref().err().map(|e| e.to_string()),
        });
        drop(init);
        outcome.map(|()| gap)
    }

    /// The options GAP was initialised with in this process, if it was.
    pub fn initialized_options() -> Option<GapOptions> {
        INIT.lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|r| r.options.clone())
    }
}

impl<'gap> Gap<'gap> {
    /// After `GAP_Initialize`: GAP prints an error in its start-up (a
    /// library file, a package whose kernel module cannot load) and goes on
    /// with a half-loaded library. So check that every package the library
    /// needs (and, with `autoload`, every installed default package) is
    /// loaded, and that the library works (a constructor and `Size` have
    /// methods). The first check names the culprit; the second catches what
    /// it cannot (its own code may be what failed to load).
    fn verify_started(self, autoload: bool) -> Result<()> {
        let default_packages = if autoload {
            "Filtered(UserPreference(\"PackagesToLoad\"), n -> TestPackageAvailability(n) <> fail)"
        } else {
            "[]"
        };
        let code = format!(
            "Filtered(Concatenation(List(GAPInfo.Dependencies.NeededOtherPackages, p -> p[1]), \
             {default_packages}), n -> not IsPackageLoaded(n))"
        );
        if let Ok(missing) = self
            .eval_value(&code)
            .and_then(|v| v.extract::<Vec<String>>())
        {
            if !missing.is_empty() {
                return Err(Error::Setup(format!(
                    "GAP started without package(s) {} (they failed to load; GAP's messages are on \
                     standard error)",
                    missing.join(", ")
                )));
            }
        }
        let size: Result<i64> = self
            .eval_value("Size(SymmetricGroup(3))")
            .and_then(|v| v.extract());
        match size {
            Ok(6) => Ok(()),
            Ok(other) => Err(Error::Setup(format!(
                "GAP's library did not load completely: Size(SymmetricGroup(3)) gave {other}"
            ))),
            Err(e) => Err(Error::Setup(format!(
                "GAP's library did not load completely: Size(SymmetricGroup(3)) failed: {e}"
            ))),
        }
    }

    /// Evaluate GAP statements; one [`Statement`] per statement read.
    /// A GAP error in one statement is reported in its `error` and does
    /// not stop the following ones (as in GAP's REPL).
    pub fn eval(self, code: &str) -> Result<Vec<Statement<'gap>>> {
        self.eval_inner(code, true)
    }

    fn eval_inner(self, code: &str, want_view: bool) -> Result<Vec<Statement<'gap>>> {
        let mut out: RawObj = std::ptr::null_mut();
        // SAFETY: code is a valid byte range; the shim catches GAP errors.
        check(unsafe {
            sys::gaprun_eval_capture(
                code.as_ptr() as *const _,
                code.len(),
                want_view as i32,
                &mut out,
            )
        })?;
        let results = GapObj::from_raw(self, out)?;
        let mut len = 0usize;
        // SAFETY: `results` is rooted.
        check(unsafe { sys::gaprun_list_length(results.raw(), &mut len) })?;
        let mut statements = Vec::with_capacity(len);
        for i in 1..=len {
            let entry = GapObj::from_raw(self, list_elm(results.raw(), i)?)?;
            let status = {
                let raw = list_elm(entry.raw(), 1)?;
                let mut v = 0i64;
                // SAFETY: reading a small integer, no allocation.
                unsafe { sys::gaprun_int_value(raw, &mut v) };
                v
            };
            let suppressed = {
                let raw = list_elm(entry.raw(), 2)?;
                // SAFETY: GAP_True is a constant object set at start-up.
                raw == unsafe { sys::GAP_True } as RawObj
            };
            let value_raw = list_elm(entry.raw(), 3)?;
            let value = if value_raw.is_null() {
                None
            } else {
                Some(GapObj::from_raw(self, value_raw)?)
            };
            let text_at = |pos: usize| -> Result<Option<String>> {
                let raw = list_elm(entry.raw(), pos)?;
                if raw.is_null() {
                    return Ok(None);
                }
                Ok(string_bytes(raw).map(|b| String::from_utf8_lossy(&b).into_owned()))
            };
            let view = text_at(4)?;
            // Text and, when it is not UTF-8, its exact bytes.
            let exact_text_at = |pos: usize| -> Result<(String, Option<Vec<u8>>)> {
                let raw = list_elm(entry.raw(), pos)?;
                let bytes = if raw.is_null() {
                    None
                } else {
                    string_bytes(raw)
                };
                Ok(match bytes.map(String::from_utf8) {
                    None => (String::new(), None),
                    Some(Ok(text)) => (text, None),
                    Some(Err(e)) => (
                        String::from_utf8_lossy(e.as_bytes()).into_owned(),
                        Some(e.into_bytes()),
                    ),
                })
            };
            let (output, output_bytes) = exact_text_at(5)?;
            let (error_text, error_text_bytes) = exact_text_at(6)?;
            let status = status as u32;
            let failed = matches!(
                status,
                sys::GAPRUN_ERROR | sys::GAPRUN_INTERRUPTED | sys::GAPRUN_MEMORY_LIMIT
            );
            let error = failed.then(|| GapError::from_gap_text(&error_text));
            let quit = status == sys::GAPRUN_QUIT;
            // Position 7: the exit code, bound for QUIT;/QuitGap(n) only.
            let code_raw = list_elm(entry.raw(), 7)?;
            let quit_code = (quit && !code_raw.is_null()).then(|| {
                let mut v = 0i64;
                // SAFETY: reading a small integer, no allocation.
                unsafe { sys::gaprun_int_value(code_raw, &mut v) };
                v as i32
            });
            statements.push(Statement {
                output,
                output_bytes,
                error_text_bytes,
                value,
                view,
                error,
                suppressed,
                quit,
                quit_code,
                interrupted: status == sys::GAPRUN_INTERRUPTED,
                memory_limit: status == sys::GAPRUN_MEMORY_LIMIT,
            });
        }
        Ok(statements)
    }

    /// Evaluate statements and return the value of the last one; the first
    /// GAP error becomes `Err`.
    ///
    /// A lone expression needs no final `;`: `gap.eval_value("2^10")`.
    pub fn eval_value(self, code: &str) -> Result<GapObj<'gap>> {
        let trimmed = code.trim_end();
        let owned;
        let code = if trimmed.ends_with(';') || trimmed.is_empty() {
            code
        } else {
            owned = format!("{trimmed};");
            &owned
        };
        let statements = self.eval_inner(code, false)?;
        let mut last = None;
        for st in statements {
            if let Some(e) = st.failure() {
                return Err(e);
            }
            if st.quit {
                // a plain `quit;`: GAP leaves its read-eval loop with code 0
                return Err(Error::Quit { code: 0 });
            }
            last = st.value;
        }
        last.ok_or_else(|| {
            Error::conversion("no value", "GapObj", format!("`{code}` has no value"))
        })
    }

    /// Evaluate GAP code and convert the value of its last statement.
    pub fn eval_as<T: FromGap<'gap>>(self, code: &str) -> Result<T> {
        self.eval_value(code)?.extract()
    }

    /// `LoadPackage(name)`: true when the package is (now) loaded.
    pub fn load_package(self, name: &str) -> Result<bool> {
        let func = self
            .global("LoadPackage")?
            .ok_or_else(|| Error::Setup("LoadPackage is not defined".into()))?;
        let arg = self.string(name)?;
        let result = self.call(&func, &[&arg])?;
        // SAFETY: GAP_True is a constant set at start-up.
        Ok(result.is_some_and(|r| r.raw() == unsafe { sys::GAP_True } as RawObj))
    }

    /// Run a file statement by statement (output straight to stdout).
    pub fn run_file(self, path: &Path, mode: LoopMode) -> Result<LoopReport> {
        let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            Error::InvalidArgument(format!("{} contains a NUL byte", path.display()))
        })?;
        self.run_loop(|report| {
            // SAFETY: valid C string; the shim catches GAP errors.
            unsafe { sys::gaprun_loop_file(cpath.as_ptr(), mode.flags(), report) }
        })
        .map_err(|e| match e {
            Error::InvalidArgument(_) => Error::Setup(format!("cannot read {}", path.display())),
            other => other,
        })
    }

    /// Run GAP statements read from standard input (GAP's `*stdin*`).
    pub fn run_stdin(self, mode: LoopMode) -> Result<LoopReport> {
        self.run_file(Path::new(OsStr::new("*stdin*")), mode)
    }

    /// Run GAP statements from a string, output straight to stdout.
    pub fn run_string(self, code: &str, mode: LoopMode) -> Result<LoopReport> {
        self.run_loop(|report| {
            // SAFETY: valid byte range; the shim catches GAP errors.
            unsafe {
                sys::gaprun_loop_string(code.as_ptr() as *const _, code.len(), mode.flags(), report)
            }
        })
    }

    fn run_loop(self, f: impl FnOnce(&mut sys::gaprun_loop_report) -> i32) -> Result<LoopReport> {
        let mut raw = sys::gaprun_loop_report {
            statements: 0,
            errors: 0,
            quit: 0,
            exit_code: 0,
            interrupted: 0,
            memory_limit: 0,
        };
        let status = f(&mut raw);
        if status == sys::GAPRUN_ERROR as i32 || status == sys::GAPRUN_MISUSE as i32 {
            check(status)?;
        }
        Ok(LoopReport {
            statements: raw.statements,
            errors: raw.errors,
            quit_code: (raw.quit == 2).then_some(raw.exit_code),
            quit: raw.quit == 1,
            interrupted: raw.interrupted,
            memory_limit: raw.memory_limit,
        })
    }

    /// Capture GAP's error messages (library use, the default) or let GAP
    /// print them on stderr itself (command-line use).
    ///
    /// An error when GAP refuses (someone made `ERROR_OUTPUT` read-only).
    pub fn set_error_capture(self, capture: bool) -> Result<()> {
        // SAFETY: assigns a global that the shim keeps rooted, inside the
        // shim's jump point.
        check(unsafe { sys::gaprun_error_capture(capture as i32) })
    }

    /// Statistics of GAP's pool mappings seen by the pool hook.
    pub fn pool_stats(self) -> PoolStats {
        pool_stats()
    }

    /// Run GAP's garbage collector (full or partial).
    pub fn collect(self, full: bool) -> Result<()> {
        // SAFETY: plain collection inside the shim's jump point.
        check(unsafe { sys::gaprun_collect(full as i32) })
    }
}

/// Whether GAP's last write to standard output ended mid-line (and reset
/// that): lets an interactive front end end the line before its prompt.
/// Always false where libgap is linked dynamically (no output hook).
pub fn stdout_mid_line() -> bool {
    // SAFETY: reads and clears a flag kept by the shim's write hook.
    unsafe { sys::gaprun_stdout_mid_line() != 0 }
}

/// Statistics of the pool hook (callable before GAP starts too).
pub fn pool_stats() -> PoolStats {
    let mut raw = sys::gaprun_pool_stats {
        mappings: 0,
        bytes: 0,
        noreserve: 0,
        hooked: 0,
        hugepages: 0,
    };
    // SAFETY: copies a plain C struct.
    unsafe { sys::gaprun_pool_get_stats(&mut raw) };
    PoolStats {
        mappings: raw.mappings,
        bytes: raw.bytes,
        noreserve: raw.noreserve,
        hooked: raw.hooked != 0,
        hugepages: raw.hugepages,
    }
}
