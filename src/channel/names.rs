//! Validated names: themes, authors (roles) and channel directory names.
//!
//! Every name is checked before it touches the disk, so a name can never escape the store
//! root (no `/`, no `.`, no `..`, nothing uppercase, bounded length).

use std::fmt;

use chrono::NaiveDate;

use super::Error;

/// A channel theme: `[a-z0-9][a-z0-9-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Theme(String);

/// An author (= role) name: `[a-z][a-z0-9-]{0,31}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Author(String);

/// A channel directory name: `YYYY-MM-DD--theme`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelName {
    date: NaiveDate,
    theme: Theme,
}

pub(crate) fn shown(name: &str) -> String {
    const MAX: usize = 40;
    if name.chars().count() > MAX {
        let cut: String = name.chars().take(MAX).collect();
        format!("{cut:?}… ({} characters)", name.chars().count())
    } else {
        format!("{name:?}")
    }
}

fn check(name: &str, what: &'static str, first: fn(u8) -> bool, max: usize) -> Result<(), Error> {
    let bytes = name.as_bytes();
    let rule = match what {
        "theme" => "a lowercase letter or digit, then up to 62 of a-z, 0-9 and '-'",
        _ => "a lowercase letter, then up to 31 of a-z, 0-9 and '-'",
    };
    let ok = !bytes.is_empty()
        && bytes.len() <= max
        && first(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::BadName {
            what,
            name: shown(name),
            rule,
        })
    }
}

/// The candidate closest to `word` (at most 2 edits, or a prefix either way), for "did you
/// mean" hints.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .filter(|_| !word.is_empty())
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| {
            *d <= 2.min(c.len() / 2).max(1) || c.starts_with(word) || word.starts_with(c)
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_owned())
}

/// Edit distance over bytes (names here are ASCII), counting a swap of two neighbours as one
/// edit (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            d[i * w + j] = if i == 0 || j == 0 {
                i + j
            } else {
                let mut v = (d[(i - 1) * w + j - 1] + usize::from(a[i - 1] != b[j - 1]))
                    .min(d[(i - 1) * w + j] + 1)
                    .min(d[i * w + j - 1] + 1);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[(i - 2) * w + j - 2] + 1);
                }
                v
            };
        }
    }
    d[a.len() * w + b.len()]
}

impl Theme {
    pub fn new(name: &str) -> Result<Self, Error> {
        check(
            name,
            "theme",
            |b| b.is_ascii_lowercase() || b.is_ascii_digit(),
            63,
        )?;
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Author {
    pub fn new(name: &str) -> Result<Self, Error> {
        check(name, "author", |b| b.is_ascii_lowercase(), 32)?;
        Ok(Self(name.to_owned()))
    }

    /// The operator is on every roster.
    pub fn operator() -> Self {
        Self("operator".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ChannelName {
    pub fn new(date: NaiveDate, theme: Theme) -> Self {
        Self { date, theme }
    }

    /// Parses `YYYY-MM-DD--theme`.
    pub fn parse(name: &str) -> Result<Self, Error> {
        let bad = || Error::BadName {
            what: "channel",
            name: shown(name),
            rule: "YYYY-MM-DD--theme, as printed by `warroom open`",
        };
        let (date, theme) = name.split_once("--").ok_or_else(bad)?;
        if date.len() != 10 {
            return Err(bad());
        }
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| bad())?;
        let theme = Theme::new(theme).map_err(|_| bad())?;
        Ok(Self { date, theme })
    }

    pub fn date(&self) -> NaiveDate {
        self.date
    }

    pub fn theme(&self) -> &Theme {
        &self.theme
    }
}

impl fmt::Display for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Author {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}--{}", self.date.format("%Y-%m-%d"), self.theme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_and_authors() {
        for good in ["litellm-canary", "a", "0day", &"a".repeat(63)] {
            Theme::new(good).unwrap();
        }
        for bad in ["", "..", "a/b", "Upper", "-x", "a.b", &"a".repeat(64), " x"] {
            assert!(Theme::new(bad).is_err(), "{bad:?}");
        }
        for good in ["pipeline", "data-plane", "terminal-1", &"a".repeat(32)] {
            Author::new(good).unwrap();
        }
        for bad in [
            "",
            "1x",
            "..",
            "a/b",
            "Pipeline",
            &"a".repeat(33),
            &"a".repeat(300),
        ] {
            assert!(Author::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn channel_names() {
        let c = ChannelName::parse("2026-05-04--litellm-canary").unwrap();
        assert_eq!(c.to_string(), "2026-05-04--litellm-canary");
        for bad in [
            "2026-05-04",
            "2026-5-4--x",
            "2026-13-01--x",
            "../2026-05-04--x",
            "2026-05-04--X",
            "2026-05-04--a/b",
        ] {
            assert!(ChannelName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn suggestions() {
        let roles = ["pipeline", "data-plane", "traffic", "operator"];
        assert_eq!(did_you_mean("pipline", roles).as_deref(), Some("pipeline"));
        assert_eq!(did_you_mean("data", roles).as_deref(), Some("data-plane"));
        assert_eq!(did_you_mean("oprator", roles).as_deref(), Some("operator"));
        assert_eq!(did_you_mean("zebra", roles), None);
        assert_eq!(
            did_you_mean("akc", ["ack", "alert"]).as_deref(),
            Some("ack")
        );
        assert_eq!(did_you_mean("", roles), None);
    }

    #[test]
    fn long_names_are_shortened_in_errors() {
        let err = Author::new(&"a".repeat(300)).unwrap_err().to_string();
        assert!(err.contains("300 characters"), "{err}");
        assert!(err.len() < 300, "{err}");
    }
}
