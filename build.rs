//! Stamps the binary with the git commit and the build date for `warroom version`.
//!
//! The commit is HEAD's when the source is a git checkout (uncommitted changes are not
//! tracked), else `WARROOM_COMMIT` from the environment, else "unknown" — a release
//! tarball builds without git. The date is `SOURCE_DATE_EPOCH` when set (reproducible builds),
//! else today (UTC).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
/// Asks cargo to rerun when this git file changes (only files that exist: a missing one would
/// rerun the script on every build).
fn watch(git_path: &str) {
    if let Some(p) = git(&["rev-parse", "--git-path", git_path])
        && std::path::Path::new(&p).exists()
    {
        println!("cargo:rerun-if-changed={p}");
    }
}

fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn main() {
    println!("cargo:rerun-if-env-changed=WARROOM_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // Only this crate's own repository: a tarball unpacked inside another checkout has none.
    let own = git(&["rev-parse", "--show-toplevel"]).is_some_and(|top| {
        let here = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        std::fs::canonicalize(top).ok() == std::fs::canonicalize(here).ok()
    });
    let head = if own {
        git(&["rev-parse", "--short=12", "HEAD"])
    } else {
        None
    };
    let commit = match head {
        Some(c) => {
            // Rebuild the stamp when HEAD moves (a commit, a checkout).
            watch("HEAD");
            watch("packed-refs");
            if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watch(&r);
            }
            c
        }
        None => std::env::var("WARROOM_COMMIT").unwrap_or_else(|_| "unknown".into()),
    };
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    let (y, m, d) = civil(secs.div_euclid(86_400));
    println!("cargo:rustc-env=WARROOM_COMMIT={commit}");
    println!("cargo:rustc-env=WARROOM_BUILD_DATE={y:04}-{m:02}-{d:02}");
}
