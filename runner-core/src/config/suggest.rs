//! "Did you mean" hints for misspelled keys and names.

/// Returns the candidate closest to `word`, if one is close enough to be a
/// likely misspelling.
///
/// Close enough means one edit (insertion, deletion, substitution or swap of
/// neighbours) away, or at least 60 % similar by normalized Damerau-Levenshtein
/// distance. Ties go to the earlier candidate.
pub(crate) fn nearest<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let word = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;

    for candidate in candidates {
        let lowered = candidate.to_lowercase();
        let distance = strsim::damerau_levenshtein(&word, &lowered);
        let similarity = strsim::normalized_damerau_levenshtein(&word, &lowered);
        let close = distance <= 1 || similarity >= 0.6;

        if close && best.is_none_or(|(best_distance, _)| distance < best_distance) {
            best = Some((distance, candidate));
        }
    }

    best.map(|(_, candidate)| candidate.to_owned())
}

/// Formats names as a comma-separated list of `code` spans.
pub(crate) fn format_names<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|name| format!("`{}`", name.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Returns `; did you mean `x`?` for a suggestion, or an empty string.
pub(crate) fn suggestion_suffix(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(name) => format!("; did you mean `{name}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_one_edit() {
        assert_eq!(
            nearest("destnation", ["source", "destination"]),
            Some("destination".to_owned())
        );
    }

    #[test]
    fn nearest_ignores_case() {
        assert_eq!(
            nearest("Source", ["source", "destination"]),
            Some("source".to_owned())
        );
    }

    #[test]
    fn nearest_rejects_unrelated() {
        assert_eq!(nearest("colour", ["source", "destination"]), None);
    }
}
