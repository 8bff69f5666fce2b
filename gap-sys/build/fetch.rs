//! Obtain GAP when the machine has none: download the pinned Debian packages
//! with `apt-get download`, check each sha256 against
//! `vendor/gap-packages.lock`, and unpack them with `dpkg-deb -x` into
//! `vendor/gap/`. Needs neither root nor a change to the system: apt runs
//! with a private state and cache folder under `vendor/.apt/`.

use sha2::{Digest, Sha256};
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Pin {
    package: String,
    version: String,
    sha256: String,
}

fn read_pins(lock: &Path) -> Result<Vec<Pin>, String> {
    let text =
        fs::read_to_string(lock).map_err(|e| format!("cannot read {}: {e}", lock.display()))?;
    let mut pins = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() != 3 || cols[2].len() != 64 {
            return Err(format!(
                "{}:{}: expected `package version sha256`",
                lock.display(),
                n + 1
            ));
        }
        pins.push(Pin {
            package: cols[0].to_string(),
            version: cols[1].to_string(),
            sha256: cols[2].to_lowercase(),
        });
    }
    Ok(pins)
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let digest = Sha256::digest(&bytes);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn deb_name(pin: &Pin) -> String {
    // apt-get download names files NAME_VERSION_ARCH.deb, with ':' in the
    // version escaped as %3a.
    format!("{}_{}_", pin.package, pin.version.replace(':', "%3a"))
}

fn find_deb(dir: &Path, pin: &Pin) -> Option<PathBuf> {
    let prefix = deb_name(pin);
    fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// apt options for a private state/cache folder (no root, system untouched).
fn apt_private_options(apt_dir: &Path) -> Vec<String> {
    let mut opts = vec![
        format!("-oDir::State::Lists={}", apt_dir.join("lists").display()),
        format!("-oDir::Cache={}", apt_dir.join("cache").display()),
        "-oDebug::NoLocking=1".to_string(),
    ];
    if is_root() {
        // apt drops to the _apt user for downloads, which cannot write into
        // the project folder; as root keep the download as root.
        opts.push("-oAPT::Sandbox::User=root".to_string());
    }
    opts
}

fn is_root() -> bool {
    // Avoid a libc dependency in the build script: ask `id -u`.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Download (if needed), verify and unpack every pinned package.
pub fn fetch_pinned(manifest_dir: &Path) -> Result<(), String> {
    let vendor = manifest_dir.join("vendor");
    let lock = vendor.join("gap-packages.lock");
    let pins = read_pins(&lock)?;
    let archives = vendor.join(".apt/archives");
    let target = vendor.join("gap");
    fs::create_dir_all(&archives)
        .map_err(|e| format!("cannot create {}: {e}", archives.display()))?;

    let missing: Vec<&Pin> = pins
        .iter()
        .filter(|p| find_deb(&archives, p).is_none())
        .collect();
    if !missing.is_empty() {
        if env::var_os("GAPRUN_OFFLINE").is_some_and(|v| v != "0") {
            return Err(format!(
                "GAPRUN_OFFLINE is set and {} pinned package(s) are not in {} (first: {})",
                missing.len(),
                archives.display(),
                missing[0].package
            ));
        }
        if Command::new("apt-get").arg("--version").output().is_err() {
            return Err("apt-get is not available on this machine".into());
        }
        let apt_dir = vendor.join(".apt");
        for sub in ["lists/partial", "cache/archives/partial"] {
            fs::create_dir_all(apt_dir.join(sub)).map_err(|e| e.to_string())?;
        }
        let opts = apt_private_options(&apt_dir);
        println!(
            "cargo:warning=gaprun: fetching GAP {} packages with apt-get (once)",
            missing.len()
        );
        run(Command::new("apt-get").args(&opts).arg("-qq").arg("update"))?;
        let mut cmd = Command::new("apt-get");
        cmd.current_dir(&archives)
            .args(&opts)
            .arg("-qq")
            .arg("download");
        for pin in &missing {
            cmd.arg(format!("{}={}", pin.package, pin.version));
        }
        run(&mut cmd)?;
    }

    // Verify every archive, then unpack into a fresh folder and swap it in,
    // so an interrupted build never leaves a half-unpacked GAP behind.
    let staging = vendor.join("gap.partial");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(|e| e.to_string())?;
    for pin in &pins {
        let deb = find_deb(&archives, pin)
            .ok_or_else(|| format!("{} {} was not downloaded", pin.package, pin.version))?;
        let got = sha256_file(&deb)?;
        if got != pin.sha256 {
            let _ = fs::remove_file(&deb);
            return Err(format!(
                "checksum mismatch for {}: expected {}, got {} (file removed; check vendor/gap-packages.lock)",
                deb.display(),
                pin.sha256,
                got
            ));
        }
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&staging))?;
    }
    let _ = fs::remove_dir_all(&target);
    fs::rename(&staging, &target)
        .map_err(|e| format!("cannot move unpacked GAP into place: {e}"))?;
    Ok(())
}
