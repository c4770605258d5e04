//! Splitting text into lines with a vectorized newline search.
//!
//! A byte-by-byte split cost about 8 instructions per byte of JSON Lines
//! input (callgrind), as much as a fifth of parsing it.

/// Yields each line of `text` with the offset where it starts, without its
/// `\n`. Like `split(b'\n')`, text that ends with a newline yields a last,
/// empty line.
pub(crate) fn split_lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let ends = memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len()));
    let mut start = 0;
    ends.map(move |end| {
        let line = (start, &text[start..end]);
        start = end + 1;
        line
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, &str)> {
        split_lines(text.as_bytes())
            .map(|(offset, line)| (offset, std::str::from_utf8(line).unwrap()))
            .collect()
    }

    #[test]
    fn matches_split_on_newline() {
        for text in ["", "a", "a\n", "a\nbc\n\nd", "\n\n"] {
            let expected: Vec<&[u8]> = text.as_bytes().split(|byte| *byte == b'\n').collect();
            let ours: Vec<&[u8]> = split_lines(text.as_bytes()).map(|(_, line)| line).collect();
            assert_eq!(ours, expected, "{text:?}");
        }
    }

    #[test]
    fn offsets_point_at_line_starts() {
        assert_eq!(lines("ab\n\ncd"), [(0, "ab"), (3, ""), (4, "cd")]);
    }
}
