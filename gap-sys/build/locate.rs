//! Where is GAP? Environment first, then pkg-config, then the distribution's
//! standard layout, then the project's own fetched copy in `vendor/gap`.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A GAP installation usable for building.
pub struct GapInstall {
    /// Folder holding `libgap-api.h` (and GAP's other kernel headers).
    pub include_dir: PathBuf,
    /// Folder holding `libgap.a` and/or `libgap.so`.
    pub lib_dir: PathBuf,
    /// GAP root folders, in GAP's `-l` order (`lib/init.g` lives in one).
    pub roots: Vec<PathBuf>,
    /// The distribution's `gap` kernel binary, if present (used by tests and
    /// benchmarks to compare against).
    pub gap_executable: Option<PathBuf>,
    /// GAP version from `sysinfo.gap`.
    pub version: Option<String>,
    /// How it was found, for `gaprun info`.
    pub source: &'static str,
}

impl GapInstall {
    pub fn roots_string(&self) -> String {
        self.roots
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// Debian's multiarch folder name for the target (`x86_64-linux-gnu`,
/// `aarch64-linux-gnu`, `i386-linux-gnu`, `arm-linux-gnueabihf`, …), from
/// the `CARGO_CFG_TARGET_*` variables cargo gives build scripts.
pub fn multiarch() -> String {
    let var = |name: &str| env::var(name).unwrap_or_default();
    let arch = var("CARGO_CFG_TARGET_ARCH");
    let os = var("CARGO_CFG_TARGET_OS");
    let abi = var("CARGO_CFG_TARGET_ENV");
    let little = var("CARGO_CFG_TARGET_ENDIAN") == "little";
    let debian_arch = match arch.as_str() {
        "x86" => "i386",
        "powerpc64" if little => "powerpc64le",
        other => other,
    };
    let abi = match (arch.as_str(), abi.as_str()) {
        ("arm", "gnu") => "gnueabihf",
        (_, "") => "gnu",
        (_, other) => other,
    };
    format!("{debian_arch}-{os}-{abi}")
}

/// Find GAP; on failure return a description of every place searched.
pub fn find_gap(manifest_dir: &Path) -> Result<GapInstall, String> {
    let mut searched = String::new();

    // 1. Explicit environment.
    let env_root = env::var_os("GAP_ROOT").map(PathBuf::from);
    let env_inc = env::var_os("GAP_INCLUDE_DIR").map(PathBuf::from);
    let env_lib = env::var_os("GAP_LIB_DIR").map(PathBuf::from);
    if env_root.is_some() || env_inc.is_some() || env_lib.is_some() {
        let roots: Vec<PathBuf> = env_root
            .as_ref()
            .map(|r| env::split_paths(r).collect())
            .unwrap_or_default();
        let inc = env_inc
            .clone()
            .unwrap_or_else(|| PathBuf::from("/usr/include/gap"));
        let lib = env_lib
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/usr/lib/{}", multiarch())));
        match check(
            inc,
            lib,
            roots,
            "environment (GAP_ROOT/GAP_INCLUDE_DIR/GAP_LIB_DIR)",
        ) {
            Ok(found) => return Ok(found),
            Err(e) => {
                // An explicit setting that does not work is an error, not a
                // reason to look elsewhere.
                return Err(format!("  environment: {e}\n"));
            }
        }
    }
    let _ = writeln!(
        searched,
        "  environment: GAP_ROOT / GAP_INCLUDE_DIR / GAP_LIB_DIR not set"
    );

    // 2. pkg-config, when the distribution ships a libgap.pc.
    match pkg_config() {
        Some((inc, lib)) => match check(inc, lib, Vec::new(), "pkg-config libgap") {
            Ok(found) => return Ok(found),
            Err(e) => {
                let _ = writeln!(searched, "  pkg-config libgap: {e}");
            }
        },
        None => {
            let _ = writeln!(searched, "  pkg-config libgap: not available");
        }
    }

    // 3. The distribution's layout (Debian/Ubuntu multiarch).
    match prefix_layout(Path::new("/usr"), "system (/usr)") {
        Ok(found) => return Ok(found),
        Err(e) => {
            let _ = writeln!(searched, "  /usr: {e}");
        }
    }

    // 4. The project's own fetched copy.
    let vendored = manifest_dir.join("vendor/gap/usr");
    match prefix_layout(&vendored, "vendored (vendor/gap)") {
        Ok(found) => Ok(found),
        Err(e) => {
            let _ = writeln!(searched, "  {}: {e}", vendored.display());
            Err(searched)
        }
    }
}

/// `GAPRUN_GAP=<PATH>`: a user's GAP, either installed under a prefix
/// (`PATH/include/gap`, `PATH/lib[/<multiarch>]`, roots `PATH/lib/gap` and
/// `PATH/share/gap`) or a GAP build tree (`PATH/src`, `PATH/.libs`, root
/// `PATH`).
pub fn from_path(path: &Path) -> Result<GapInstall, String> {
    let mut tried = Vec::new();
    for attempt in [
        prefix_layout(path, "path"),
        check(
            path.join("include/gap"),
            path.join("lib"),
            vec![path.join("lib/gap"), path.join("share/gap")],
            "path",
        ),
        check(
            path.join("src"),
            path.join(".libs"),
            vec![path.to_path_buf()],
            "path",
        ),
    ] {
        match attempt {
            Ok(found) => return Ok(found),
            Err(e) => tried.push(e),
        }
    }
    Err(format!(
        "GAPRUN_GAP={} is neither an installed GAP prefix nor a GAP build tree: {}",
        path.display(),
        tried.join("; ")
    ))
}

pub fn prefix_layout(prefix: &Path, source: &'static str) -> Result<GapInstall, String> {
    let inc = prefix.join("include/gap");
    let lib = prefix.join(format!("lib/{}", multiarch()));
    // Debian splits the root: architecture-dependent files (package
    // binaries, sysinfo.gap) under lib/gap, the library under share/gap.
    let roots = vec![prefix.join("lib/gap"), prefix.join("share/gap")];
    check(inc, lib, roots, source)
}

pub fn check(
    inc: PathBuf,
    lib: PathBuf,
    mut roots: Vec<PathBuf>,
    source: &'static str,
) -> Result<GapInstall, String> {
    if !inc.join("libgap-api.h").is_file() {
        return Err(format!("no libgap-api.h in {}", inc.display()));
    }
    if !lib.join("libgap.a").is_file() && !lib.join("libgap.so").exists() {
        return Err(format!("no libgap.a or libgap.so in {}", lib.display()));
    }
    if roots.is_empty() {
        // Guess the root from the header location (…/include/gap → …/share/gap).
        if let Some(prefix) = inc.parent().and_then(Path::parent) {
            roots = vec![prefix.join("lib/gap"), prefix.join("share/gap")];
        }
    }
    roots.retain(|r| r.is_dir());
    if !roots.iter().any(|r| r.join("lib/init.g").is_file()) {
        return Err(format!(
            "GAP library (lib/init.g) not found under {}",
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let version = roots
        .iter()
        .find_map(|r| read_version(&r.join("sysinfo.gap")));
    let gap_executable = inc
        .parent()
        .and_then(Path::parent)
        .map(|prefix| prefix.join(format!("lib/{}/gap/gap", multiarch())))
        .filter(|p| p.is_file());
    Ok(GapInstall {
        include_dir: inc,
        lib_dir: lib,
        roots,
        gap_executable,
        version,
        source,
    })
}

fn read_version(sysinfo: &Path) -> Option<String> {
    let text = std::fs::read_to_string(sysinfo).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("GAP_VERSION="))
        .map(|v| v.trim_matches('"').to_string())
}

fn pkg_config() -> Option<(PathBuf, PathBuf)> {
    let out = Command::new("pkg-config")
        .args(["--variable=includedir", "libgap"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let includedir = String::from_utf8(out.stdout).ok()?.trim().to_string();
    let out = Command::new("pkg-config")
        .args(["--variable=libdir", "libgap"])
        .output()
        .ok()?;
    let libdir = String::from_utf8(out.stdout).ok()?.trim().to_string();
    Some((PathBuf::from(includedir).join("gap"), PathBuf::from(libdir)))
}
