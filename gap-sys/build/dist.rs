//! `GAPRUN_GAP=dist` (the default): GAP 4.16.1 with its standard packages,
//! from pinned, immutable registry artifacts.
//!
//! - Debian's `libgap-dev` 4.16.1-1 (testing/unstable pool, else
//!   snapshot.debian.org): the kernel headers and the static `libgap.a`
//!   (links on Debian 12: only glibc, gmp, zlib, readline and libgcc are
//!   needed).
//! - Debian's `gap-online-help` 4.16.1-1: the main manuals (`doc/ref`,
//!   `doc/tut`, …) as `?`/`HELP` reads them.
//! - PyPI's `passagemath-gap` 10.8.13 wheel: `gap/` (lib, grp, 166 packages
//!   with compiled modules for kernel kv11, the `gap` executable the tests
//!   compare with) beside `passagemath_gap.libs/` (the bundled libraries the
//!   package modules find through `$ORIGIN` RPATHs, so the layout is kept).
//! - PyPI's `passagemath-gap-pkg-semigroups` wheel (Semigroups is not in
//!   the main wheel) and its `passagemath-gap-pkg-*-data` wheels: the data of packages the
//!   main wheel ships without it (SmallGroups, TransGrp, …), unpacked over
//!   the same `gap/`.
//!
//! Everything is downloaded over HTTPS in Rust (no apt, no system tool),
//! checked against the pinned sha256 and unpacked in Rust into a per-user
//! cache keyed by the pins (`$XDG_CACHE_HOME/gaprun/gap/<key>/`, else
//! `~/.cache/…`), so every clone and CI run on the machine shares one copy.
//! `GAPRUN_OFFLINE=1` forbids downloading: the cache (or the download folder
//! in it) must already hold everything.

use crate::locate::{self, GapInstall};
use sha2::{Digest, Sha256};
use std::env;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A Debian package (`ar` archive holding `data.tar.xz`) with the
    /// kernel headers and `libgap.a`, unpacked into `dev/`.
    Deb,
    /// A Debian package whose `usr/share/gap/doc` becomes the root's `doc/`
    /// (the manuals `?`/`HELP` read).
    DebDocs,
    /// A Python wheel (zip), unpacked over the wheel tree.
    Wheel,
}

struct Artifact {
    /// File name as the registry serves it (also the download's name).
    file: &'static str,
    /// Where to get it, tried in order. A Debian pool file disappears when
    /// testing moves past its version, so Debian pins also name
    /// snapshot.debian.org's permanent by-hash URL of the same file.
    urls: &'static [&'static str],
    sha256: &'static str,
    size: u64,
    kind: Kind,
}

/// The name under which the workspace cache recognises a root unpacked from
/// these pins (`gaprun::workspace::PINNED_ROOT_STAMP`: it keys such a root
/// on this file's content instead of walking its 24,000 files). Written
/// last, at unpack time; holds the pins' hash and the root's final path.
pub const PINNED_ROOT_STAMP: &str = ".gaprun-pinned-root";

/// GAP version these pins provide (checked against `sysinfo.gap`).
pub const VERSION: &str = "4.16.1";

macro_rules! wheel {
    ($path:literal, $file:literal, $sha:literal, $size:literal) => {
        Artifact {
            file: $file,
            // PyPI keeps a release's files at these URLs for good (even a
            // yanked release's).
            urls: &[concat!(
                "https://files.pythonhosted.org/packages/",
                $path,
                "/",
                $file
            )],
            sha256: $sha,
            size: $size,
            kind: Kind::Wheel,
        }
    };
}

/// The pins. The main wheel is the CPython 3.12 build; its `gap/` tree is the
/// same for every CPython tag (only the `sage` Python modules differ).
const ARTIFACTS: &[Artifact] = &[
    // snapshot.debian.org serves every file Debian ever published at
    // /file/<its sha1>.
    Artifact {
        file: "libgap-dev_4.16.1-1_amd64.deb",
        urls: &[
            "http://deb.debian.org/debian/pool/main/g/gap/libgap-dev_4.16.1-1_amd64.deb",
            "https://snapshot.debian.org/file/bbaf1c3cd14bc4bbc076a4882a7c69886bc4e8af",
        ],
        sha256: "90af334a6969a363c1e9e9aac8ba550878799edd104443a380ce0222bc217c35",
        size: 970_476,
        kind: Kind::Deb,
    },
    // The manuals in the form `?`/`HELP` read (`manual.six`, `chap*.txt`)
    // for the reference manual, the tutorial and the other main books
    // (gap-doc holds only their HTML and PDF).
    Artifact {
        file: "gap-online-help_4.16.1-1_all.deb",
        urls: &[
            "http://deb.debian.org/debian/pool/main/g/gap/gap-online-help_4.16.1-1_all.deb",
            "https://snapshot.debian.org/file/a6fd60bf0d511d9ba812c253fba8cb8a07427320",
        ],
        sha256: "3af188b3a5aa009085744f5b95099cc367fb0dcff4b70523f02a9f79579a228f",
        size: 1_404_604,
        kind: Kind::DebDocs,
    },
    wheel!(
        "f4/f3/9c6a01271274bfe6bf0dc797f43aa1287fab17aa69c72a049b354d5d508d",
        "passagemath_gap-10.8.13-cp312-cp312-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "81f5172aa89f15e0a24243683e34e4573d9d12af00866f041a9c470976e50121",
        90_776_039
    ),
    // Semigroups comes in a wheel of its own (its compiled module and
    // libsemigroups; stable-ABI tag, any CPython 3.12+ build).
    wheel!(
        "9c/f1/bb9bc9dd545989d02dd06c0d7b901b34a0af0e87301d8457f82111f35aa2",
        "passagemath_gap_pkg_semigroups-10.8.13-cp312-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "67b3588bcfc3663755821a55d5e22c986946b51cecec3dc106c8b53c7af658e6",
        90_301_663
    ),
    wheel!(
        "fc/90/b43590b517a83b34088276f4baa1b48c98f690edeafa325e9b8af3930917",
        "passagemath_gap_pkg_smallgrp_data-10.8.13-py3-none-any.whl",
        "ee29a8623a40e6d9f312558a87324935b2eb5d7356c4e32569f383f7899bf428",
        20_336_946
    ),
    wheel!(
        "b0/23/4e8bd88e416fa099ebcf3da19e18884589bea90c137b39a4a59afa74b3d7",
        "passagemath_gap_pkg_transgrp_data-10.8.13-py3-none-any.whl",
        "350f1960d14432f5c087aac64763c50c065b5d801e88be4ebc65082ad305dfed",
        58_934_718
    ),
    wheel!(
        "65/e1/7d07628b157654955e536d87cc5e719239c6c97f1e4b9ba470955d27fa78",
        "passagemath_gap_pkg_primgrp_data-10.8.13-py3-none-any.whl",
        "8279dc93cd31d31287dfe9854d38780c338445519feecd236a816df03b5ba73e",
        14_275_244
    ),
    wheel!(
        "bc/86/37cb167660155fec8a148a9ce23ecbc6eb3593bb16a18546e7f57a57781a",
        "passagemath_gap_pkg_ctbllib_data-10.8.13-py3-none-any.whl",
        "d7da3a7fc30d8c6733cfaa31b7f40b435a1b45bfa973fcbeb755d6584955abd6",
        10_650_668
    ),
    wheel!(
        "b0/99/94c04a160bc02987d12c8deff8198d616362c24d5d3a1c844688e27c0732",
        "passagemath_gap_pkg_tomlib_data-10.8.13-py3-none-any.whl",
        "36f4a0ab606c212ff2b9bce06bf926766d5635b237e917b9425efcd64057917d",
        52_945_022
    ),
    wheel!(
        "e9/8a/b153450e524d2f79caba713377f845ec9329904b8a18fe05d5496303b561",
        "passagemath_gap_pkg_factint_data-10.8.13-py3-none-any.whl",
        "2164df3eec9ea11885c704cb15346b3182fd555c465ff819d59c8adc7a35fbfd",
        10_870_087
    ),
    wheel!(
        "3b/bc/1280cc56d8517c58be182c169cf818f1b6e8a8bee934134c813ac2fc9d9f",
        "passagemath_gap_pkg_irredsol_data-10.8.13-py3-none-any.whl",
        "51e646ef6946a0655671bc357757c33699359981270f716a514051d6f0134156",
        19_491_381
    ),
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache key: a hash of every pin, so a changed pin gets a new folder.
fn key() -> String {
    let mut h = Sha256::new();
    for a in ARTIFACTS {
        h.update(a.file.as_bytes());
        h.update(b" ");
        h.update(a.sha256.as_bytes());
        h.update(b"\n");
    }
    hex(&h.finalize()[..8])
}

fn cache_base() -> Result<PathBuf, String> {
    if let Some(dir) = env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("gaprun/gap"));
    }
    env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|h| PathBuf::from(h).join(".cache/gaprun/gap"))
        .ok_or_else(|| "neither XDG_CACHE_HOME nor HOME is set: no place for the GAP cache".into())
}

fn offline() -> bool {
    env::var_os("GAPRUN_OFFLINE").is_some_and(|v| v != "0" && !v.is_empty())
}

fn sha256_of(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut h = Sha256::new();
    io::copy(&mut file, &mut h)?;
    Ok(hex(&h.finalize()))
}

/// Download one artifact into `dir` (unless a verified copy is there),
/// trying its URLs in order until one gives the pinned bytes.
fn download(a: &Artifact, dir: &Path) -> Result<PathBuf, String> {
    let dest = dir.join(a.file);
    let present = dest.is_file().then(|| sha256_of(&dest).ok()).flatten();
    if present.as_deref() == Some(a.sha256) {
        return Ok(dest);
    }
    if offline() {
        let state = match present {
            Some(got) => format!(
                "in {} has sha256 {got}, expected {}",
                dir.display(),
                a.sha256
            ),
            None => format!("is not in {}", dir.display()),
        };
        return Err(format!(
            "GAPRUN_OFFLINE is set and {} {state} (download it from {} or unset GAPRUN_OFFLINE)",
            a.file,
            a.urls.join(" or ")
        ));
    }
    let part = dir.join(format!("{}.part", a.file));
    let mut failures = Vec::new();
    for url in a.urls {
        match fetch_verified(a, url, &part) {
            Ok(()) => {
                fs::rename(&part, &dest)
                    .map_err(|e| format!("cannot move {}: {e}", part.display()))?;
                return Ok(dest);
            }
            Err(e) => {
                let _ = fs::remove_file(&part);
                failures.push(format!("  {url}: {e}"));
            }
        }
    }
    Err(format!(
        "cannot download {} (sha256 {}) from any of its URLs; nothing kept:\n{}",
        a.file,
        a.sha256,
        failures.join("\n")
    ))
}

/// Download `url` into `part`, checking the pinned size and sha256.
fn fetch_verified(a: &Artifact, url: &str, part: &Path) -> Result<(), String> {
    let resp = ureq::get(url)
        .call()
        .map_err(|e| format!("download failed: {e}"))?;
    let mut reader = resp.into_reader();
    let mut out = io::BufWriter::new(
        fs::File::create(part).map_err(|e| format!("cannot create {}: {e}", part.display()))?,
    );
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| format!("download broke off: {e}"))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > a.size {
            return Err(format!("more than the pinned {} bytes", a.size));
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
    }
    out.flush()
        .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
    if total != a.size {
        return Err(format!("got {total} bytes, expected {}", a.size));
    }
    let got = hex(&h.finalize());
    if got != a.sha256 {
        return Err(format!("sha256 mismatch: got {got}"));
    }
    Ok(())
}

/// Unpack a .deb's `data.tar.xz` into `dest`.
fn unpack_deb(deb: &Path, dest: &Path) -> Result<(), String> {
    let file = fs::File::open(deb).map_err(|e| format!("cannot open {}: {e}", deb.display()))?;
    let mut archive = ar::Archive::new(file);
    while let Some(entry) = archive.next_entry() {
        let mut entry = entry.map_err(|e| format!("{}: bad ar archive: {e}", deb.display()))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).to_string();
        if name != "data.tar.xz" {
            continue;
        }
        let mut xz = io::BufReader::new(&mut entry);
        let mut tar_bytes = Vec::new();
        lzma_rs::xz_decompress(&mut xz, &mut tar_bytes)
            .map_err(|e| format!("{}: bad data.tar.xz: {e:?}", deb.display()))?;
        let mut tar = tar::Archive::new(io::Cursor::new(tar_bytes));
        tar.set_preserve_permissions(true);
        return tar.unpack(dest).map_err(|e| {
            format!(
                "{}: cannot unpack into {}: {e}",
                deb.display(),
                dest.display()
            )
        });
    }
    Err(format!("{}: no data.tar.xz member", deb.display()))
}

fn unpack_wheel(whl: &Path, dest: &Path) -> Result<(), String> {
    let file = fs::File::open(whl).map_err(|e| format!("cannot open {}: {e}", whl.display()))?;
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|e| format!("{}: bad wheel: {e}", whl.display()))?;
    zip.extract(dest).map_err(|e| {
        format!(
            "{}: cannot unpack into {}: {e}",
            whl.display(),
            dest.display()
        )
    })
}

/// The cached distribution, downloaded and unpacked if needed.
pub fn obtain() -> Result<GapInstall, String> {
    let dir = cache_base()?.join(key());
    let tree = dir.join("tree");
    // The root's stamp names the root's final place, so a copy or a tree of
    // links elsewhere is not mistaken for it.
    let stamp_text = format!(
        "GAPRUN_GAP=dist GAP {VERSION} pins {}\nroot {}\n",
        key(),
        tree.join("wheel/gap").display()
    );
    if !tree.join(".complete").is_file() {
        let downloads = dir.join("downloads");
        fs::create_dir_all(&downloads)
            .map_err(|e| format!("cannot create {}: {e}", downloads.display()))?;
        let total: u64 = ARTIFACTS.iter().map(|a| a.size).sum();
        println!(
            "cargo:warning=gaprun: GAPRUN_GAP=dist: fetching GAP {VERSION} ({} artifacts, {} MB) into {} (once)",
            ARTIFACTS.len(),
            total / 1_000_000,
            dir.display()
        );
        let mut files = Vec::new();
        for a in ARTIFACTS {
            files.push((a, download(a, &downloads)?));
        }
        // Unpack into a fresh folder and swap it in, so an interrupted build
        // never leaves a half-unpacked tree that looks complete.
        let staging = dir.join(format!("tree.partial.{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        for (a, path) in &files {
            match a.kind {
                Kind::Deb => unpack_deb(path, &staging.join("dev"))?,
                Kind::DebDocs => unpack_deb(path, &staging.join("docs"))?,
                Kind::Wheel => unpack_wheel(path, &staging.join("wheel"))?,
            }
        }
        let root = staging.join("wheel/gap");
        let docs = staging.join("docs/usr/share/gap/doc");
        fs::rename(&docs, root.join("doc")).map_err(|e| {
            format!(
                "cannot move the manuals {} into {}: {e}",
                docs.display(),
                root.display()
            )
        })?;
        let _ = fs::remove_dir_all(staging.join("docs"));
        // Last: the stamp that lets the workspace cache trust this root
        // without walking it (it is never changed after this point).
        fs::write(root.join(PINNED_ROOT_STAMP), &stamp_text)
            .map_err(|e| format!("cannot write the root's stamp in {}: {e}", root.display()))?;
        fs::write(staging.join(".complete"), key()).map_err(|e| e.to_string())?;
        // The unpacked tree is the cache; the archives are not needed again.
        let _ = fs::remove_dir_all(&downloads);
        let _ = fs::remove_dir_all(&tree);
        if let Err(e) = fs::rename(&staging, &tree) {
            // Another build may have won the race; use its tree.
            let _ = fs::remove_dir_all(&staging);
            if !tree.join(".complete").is_file() {
                return Err(format!(
                    "cannot move the unpacked GAP into {}: {e}",
                    tree.display()
                ));
            }
        }
    }
    // A tree unpacked by an earlier gaprun has no stamp or an older one.
    let stamp = tree.join("wheel/gap").join(PINNED_ROOT_STAMP);
    if fs::read_to_string(&stamp).ok().as_deref() != Some(stamp_text.as_str()) {
        fs::write(&stamp, &stamp_text)
            .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    }
    let include = tree.join("dev/usr/include/gap");
    let lib = tree.join(format!("dev/usr/lib/{}", locate::multiarch()));
    let root = tree.join("wheel/gap");
    let mut install = locate::check(include, lib, vec![root.clone()], "dist").map_err(|e| {
        format!(
            "the cached distribution in {} is unusable: {e} (remove the folder and build again)",
            dir.display()
        )
    })?;
    install.gap_executable = Some(root.join("gap")).filter(|p| p.is_file());
    if install.version.as_deref() != Some(VERSION) {
        return Err(format!(
            "the cached distribution in {} reports GAP {:?}, expected {VERSION}",
            dir.display(),
            install.version
        ));
    }
    Ok(install)
}
