//! Commands about the command line itself: `completions`, `man`, `version`.
//!
//! Completions and man pages are generated from the clap definitions (clap_complete,
//! clap_mangen), so they list exactly the flags the binary accepts. The version's commit and
//! build date come from `build.rs`. This module must not touch the store.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use serde::Serialize;

use super::output::{self, Output, ReportOutput};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write the pages to (warroom.1, warroom-open.1, ...); created when missing.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    #[command(flatten)]
    pub output: ReportOutput,
}

/// What `warroom version` reports.
#[derive(Debug, Serialize)]
pub struct Version {
    pub version: &'static str,
    pub commit: &'static str,
    pub build_date: &'static str,
}

pub const VERSION: Version = Version {
    version: env!("CARGO_PKG_VERSION"),
    commit: env!("WARROOM_COMMIT"),
    build_date: env!("WARROOM_BUILD_DATE"),
};

pub fn completions(args: CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = super::Cli::command();
    // Into memory first: clap_complete panics when its writer fails, and a closed pipe
    // (`warroom completions bash | head`) must end quietly, not in a panic.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "warroom", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(0)
}

/// Writes one page per command and subcommand (`warroom-roster-add.1`), as git does.
pub fn man(args: ManArgs) -> anyhow::Result<u8> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| {
            format!(
                "cannot create the man page directory {}: choose a directory you may write to with --out DIR",
                args.out.display()
            )
        })?;
    let mut cmd = super::Cli::command();
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, "warroom", &args.out, &mut written)?;
    let mut out = std::io::stdout().lock();
    for p in &written {
        writeln!(out, "{}", p.display())?;
    }
    eprintln!(
        "wrote {} man pages to {}; read one with `man {}`",
        written.len(),
        args.out.display(),
        args.out.join("warroom.1").display()
    );
    Ok(0)
}

fn write_pages(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    if cmd.is_hide_set() {
        return Ok(());
    }
    // clap names are 'static; a man run is one short process.
    let page = cmd
        .clone()
        .name(&*Box::leak(name.to_owned().into_boxed_str()));
    let path = dir.join(format!("{name}.1"));
    let mut bytes = Vec::new();
    clap_mangen::Man::new(page).render(&mut bytes)?;
    std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

pub fn version(args: VersionArgs) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    match args.output.output {
        Output::Json => output::json(&mut out, &VERSION)?,
        Output::Ndjson => output::ndjson(&mut out, std::slice::from_ref(&VERSION))?,
        Output::Yaml => output::yaml(&mut out, &VERSION)?,
        Output::Text | Output::Wide | Output::Md => writeln!(
            out,
            "warroom {} (commit {}, built {})",
            VERSION.version, VERSION.commit, VERSION.build_date
        )?,
    }
    Ok(0)
}
