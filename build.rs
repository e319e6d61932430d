//! Records the git commit the crate is built from, for results files (`BURN_FPTT_COMMIT`).
//!
//! Only a build from this crate's own checkout has a commit: built as a dependency (from the
//! registry, a vendored copy, or a folder inside another repository) it is `"unknown"`.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let own_checkout = Path::new(&manifest_dir).join(".git").exists();
    let commit = match own_checkout
        .then(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .flatten()
    {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            }
        }
        None => "unknown".to_string(),
    };
    println!("cargo:rustc-env=BURN_FPTT_COMMIT={commit}");
    // A path that does not exist would rerun this script on every build.
    let watched = [".git/HEAD", ".git/index", "src", "examples", "Cargo.toml"];
    for path in watched.iter().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
}
