//! "Did you mean …?" for names the user typed: refs, roles, channels, themes.
//!
//! Pure functions over the candidates a command already has; they never read the store.

/// The candidate closest to `input`, when it is close enough to be a likely typo
/// (Jaro-Winkler ≥ 0.8, or one containing the other).
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input_l = input.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != input)
        .map(|c| {
            let cl = c.to_lowercase();
            let mut score = strsim::jaro_winkler(&input_l, &cl);
            if !input_l.is_empty() && (cl.contains(&input_l) || input_l.contains(&cl)) {
                score = score.max(0.85);
            }
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `"; did you mean X?"` for the closest candidate, or nothing.
pub fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(input, candidates)
        .map(|c| format!("; did you mean {c}?"))
        .unwrap_or_default()
}

/// The roles in `wanted` that are not in `known`, each with why: `no role ROLE in channel CH
/// (roles: …); did you mean …?`, for a reader's filter on a role the channel never had (a
/// typo there would print nothing and look like a quiet channel). `known` is what the caller
/// read: the roster and the author files.
pub fn unknown_roles<'a>(
    wanted: impl IntoIterator<Item = &'a str>,
    known: &[String],
    channel: &str,
) -> Vec<(&'a str, String)> {
    wanted
        .into_iter()
        .filter(|role| !known.iter().any(|k| k == role))
        .map(|role| {
            let why = format!(
                "no role {role} in channel {channel} (roles: {}){}",
                known.join(", "),
                did_you_mean(role, known.iter().map(String::as_str))
            );
            (role, why)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_finds_the_name_and_nonsense_finds_nothing() {
        let roles = ["pipeline", "data-plane", "traffic", "operator"];
        assert_eq!(closest("pipline", roles), Some("pipeline"));
        assert_eq!(closest("data-plain", roles), Some("data-plane"));
        assert_eq!(closest("traffc", roles), Some("traffic"));
        assert_eq!(closest("zzz", roles), None);
        assert_eq!(closest("pipeline", roles), None);
        assert_eq!(did_you_mean("opertor", roles), "; did you mean operator?");
    }
}
