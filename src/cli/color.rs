//! Whether to colour what we print: one rule for every command.
//!
//! Off with the global `--no-color`, with `NO_COLOR` set (non-empty), with `CLICOLOR=0` or
//! `TERM=dumb`; on with `CLICOLOR_FORCE` set (non-empty, not `0`) even into a pipe; otherwise
//! on only for a terminal. `NO_COLOR` beats `CLICOLOR_FORCE`, as no-color.org and most tools
//! have it. This module decides; it must not print.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once from `--no-color` before the command runs.
static NO_COLOR_FLAG: AtomicBool = AtomicBool::new(false);

/// Records the global `--no-color` flag (called once by [`super::main`]).
pub fn init(no_color: bool) {
    NO_COLOR_FLAG.store(no_color, Ordering::Relaxed);
}

fn set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The decision for a stream that is (or is not) a terminal.
pub fn decide(flag: bool, is_terminal: bool, env: impl Fn(&str) -> Option<String>) -> bool {
    if flag || env("NO_COLOR").is_some() {
        return false;
    }
    if env("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    if env("CLICOLOR").as_deref() == Some("0") || env("TERM").as_deref() == Some("dumb") {
        return false;
    }
    is_terminal
}

/// Colour for what goes to stdout.
pub fn stdout() -> bool {
    decide(
        NO_COLOR_FLAG.load(Ordering::Relaxed),
        std::io::stdout().is_terminal(),
        set,
    )
}

/// Colour for what goes to stderr (logs, hints).
pub fn stderr() -> bool {
    decide(
        NO_COLOR_FLAG.load(Ordering::Relaxed),
        std::io::stderr().is_terminal(),
        set,
    )
}

#[cfg(test)]
mod tests {
    use super::decide;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, v)| *n == name && !v.is_empty())
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn flag_and_no_color_win_over_force() {
        assert!(!decide(true, true, env(&[])));
        assert!(!decide(false, true, env(&[("NO_COLOR", "1")])));
        assert!(!decide(
            false,
            true,
            env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")])
        ));
        assert!(!decide(true, false, env(&[("CLICOLOR_FORCE", "1")])));
    }

    #[test]
    fn force_colours_a_pipe_and_terminals_default_on() {
        assert!(decide(false, false, env(&[("CLICOLOR_FORCE", "1")])));
        assert!(!decide(false, false, env(&[("CLICOLOR_FORCE", "0")])));
        assert!(!decide(false, false, env(&[])));
        assert!(decide(false, true, env(&[("NO_COLOR", "")])));
        assert!(!decide(false, true, env(&[("CLICOLOR", "0")])));
        assert!(!decide(false, true, env(&[("TERM", "dumb")])));
    }
}
