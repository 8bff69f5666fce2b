//! The examples are real programs: run them (cargo builds them for `cargo
//! test`) and check what they compute. The README's quick-start script is
//! run by gaprun-cli/tests/cli_examples.rs.

use std::path::PathBuf;
use std::process::Command;

/// target/<profile>/examples/NAME, next to this test's deps/ folder.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join(name))
        .unwrap()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn count_groups_matches_the_small_groups_library() {
    let out = run(Command::new(example("count_groups")).arg("8"));
    // order, number of groups, number of abelian ones
    let rows: Vec<Vec<u64>> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(|w| w.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 8, "{out}");
    assert_eq!(rows[3], vec![4, 2, 2]);
    assert_eq!(rows[5], vec![6, 2, 1]);
    assert_eq!(rows[7], vec![8, 5, 3]);
}

#[test]
fn character_table_is_orthonormal() {
    let out = run(&mut Command::new(example("character_table")));
    assert!(
        out.contains("SymmetricGroup(4): order 24, 5 classes"),
        "{out}"
    );
    assert_eq!(out.matches("<chi,chi> = 1").count(), 5, "{out}");
}

#[test]
fn permutation_search_finds_a_generating_pair() {
    let out = run(Command::new(example("perm_search")).arg("5"));
    assert!(out.contains("= A_5") || out.contains("= S_5"), "{out}");
}

#[test]
fn start_time_starts_both_ways() {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("start-time-cache-{}", std::process::id()));
    for how in ["builder", "builder", "init"] {
        let out = run(Command::new(example("start_time"))
            .arg(how)
            .env("GAPRUN_WORKSPACE_CACHE", &cache));
        assert!(
            out.starts_with(&format!("{how}: started in "))
                && out.contains("Size(SymmetricGroup(5)) = 120"),
            "{out}"
        );
    }
    // The builder runs left a workspace in the cache.
    let saved = std::fs::read_dir(&cache)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "ws"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(saved, 1);
    let _ = std::fs::remove_dir_all(&cache);
}
