//! dlt's `snake_case` naming convention (dlt 1.31), the default for the
//! DuckDB and filesystem destinations.
//!
//! One identifier is normalized in these steps:
//! 1. trim surrounding whitespace (Python's `str.strip()` set);
//! 2. translate `+`→`x`, `-`→`_`, `*`→`x`, `@`→`a`, `|`→`l`;
//! 3. replace each run of characters other than ASCII letters, Unicode decimal
//!    digits and `_` with one `_`;
//! 4. insert `_` before a capitalized word (`([^_])([A-Z][a-z]+)`), then between
//!    a lowercase letter or ASCII digit and a capital (`([a-z0-9])([A-Z])`), then
//!    lowercase;
//! 5. prefix `_` when the result starts with a decimal digit;
//! 6. replace each trailing `_` with `x`;
//! 7. collapse runs of `_` into one;
//! 8. shorten to the destination's maximum length, if it has one.
//!
//! The scanners below implement the regular expressions of steps 3 and 4 by
//! hand with Python `re` semantics: leftmost, non-overlapping matches.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha3::Shake128;
use sha3::digest::{ExtendableOutput, Update, XofReader};

/// Separator of nested paths in table and column names.
pub const PATH_SEPARATOR: &str = "__";

/// Column name that dlt gives to an empty or whitespace-only data key.
pub const EMPTY_KEY_IDENTIFIER: &str = "_empty";

/// Number of SHAKE-128 bytes in a shortening tag. dlt derives it from a
/// collision probability of 0.001: `int(3 * log2(1000) // 8 + 1)` = 4 bytes,
/// which is 6 base64 characters.
const TAG_BYTES: usize = 4;

/// Normalizes one identifier (no path splitting).
///
/// Empty or whitespace-only input returns [`EMPTY_KEY_IDENTIFIER`], as dlt's
/// relational normalizer does for data keys (dlt's naming convention itself
/// raises on such input).
pub fn normalize_identifier(name: &str) -> String {
    normalize_identifier_with_max_length(name, None)
}

/// Normalizes one identifier and shortens it to `max_length` characters when
/// the destination limits identifier length.
pub fn normalize_identifier_with_max_length(name: &str, max_length: Option<usize>) -> String {
    let trimmed = name.trim_matches(is_python_whitespace);
    if trimmed.is_empty() {
        return EMPTY_KEY_IDENTIFIER.to_owned();
    }

    let reduced = reduce_alphabet(trimmed);
    let snake = to_snake_case(&reduced);

    // dlt computes the tag from the trimmed, not yet normalized identifier.
    match max_length {
        Some(max) => shorten_identifier(&snake, trimmed, max),
        None => snake,
    }
}

/// Normalizes a path: splits on `__`, normalizes each part, joins with `__`.
///
/// This is what dlt applies to data keys and to table names. Parts that are
/// empty or whitespace-only are dropped, so `a____b` becomes `a__b`. Empty or
/// whitespace-only input returns [`EMPTY_KEY_IDENTIFIER`].
// NOTE: input made only of separators (`__`, `____`) returns an empty string,
// exactly as dlt's `normalize_path` does.
pub fn normalize_path(name: &str) -> String {
    normalize_path_with_max_length(name, None)
}

/// Normalizes a path like [`normalize_path`] and shortens each part and then
/// the joined path to `max_length` characters.
pub fn normalize_path_with_max_length(name: &str, max_length: Option<usize>) -> String {
    if name.chars().all(is_python_whitespace) {
        return EMPTY_KEY_IDENTIFIER.to_owned();
    }

    let parts: Vec<String> = name
        .split(PATH_SEPARATOR)
        .filter(|part| !part.chars().all(is_python_whitespace))
        .map(|part| normalize_identifier_with_max_length(part, max_length))
        .collect();
    let part_refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let joined = make_path(&part_refs);

    // The joined path is shortened with a tag computed from the raw path.
    match max_length {
        Some(max) => shorten_identifier(&joined, name, max),
        None => joined,
    }
}

/// Joins already-normalized parts with `__`.
pub fn make_path(parts: &[&str]) -> String {
    parts.join(PATH_SEPARATOR)
}

/// Shortens `normalized` to `max_length` characters when it is longer,
/// placing a 6-character tag in the middle.
///
/// The tag is computed from `original`, the identifier before normalization:
/// 4 bytes of SHAKE-128, base64 without padding, `/`→`a`, `+`→`b`, lowercased.
/// The result keeps `ceil((max_length - 6) / 2)` leading and
/// `floor((max_length - 6) / 2)` trailing characters of `normalized`. Lengths
/// count Unicode code points, as Python's `len` does.
///
/// # Panics
///
/// Panics when `max_length` is shorter than the 6-character tag and
/// `normalized` needs shortening (dlt asserts the same).
pub fn shorten_identifier(normalized: &str, original: &str, max_length: usize) -> String {
    let chars: Vec<char> = normalized.chars().collect();
    if max_length == 0 || chars.len() <= max_length {
        return normalized.to_owned();
    }

    let tag = shortening_tag(original);
    assert!(
        tag.len() <= max_length,
        "identifier max length {max_length} is shorter than the {}-character tag",
        tag.len()
    );

    let remaining = max_length - tag.len();
    let head_len = remaining / 2 + remaining % 2;
    let tail_len = remaining / 2;

    let mut shortened: String = chars[..head_len].iter().collect();
    shortened.push_str(&tag);
    shortened.extend(&chars[chars.len() - tail_len..]);
    shortened
}

fn shortening_tag(original: &str) -> String {
    let mut hasher = Shake128::default();
    hasher.update(original.as_bytes());
    let mut digest = [0u8; TAG_BYTES];
    hasher.finalize_xof().read(&mut digest);

    STANDARD_NO_PAD
        .encode(digest)
        .chars()
        .map(|c| match c {
            '/' => 'a',
            '+' => 'b',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

/// Applies steps 2 and 3: the character translation and the replacement of
/// runs of other characters by one `_`.
fn reduce_alphabet(identifier: &str) -> String {
    let mut reduced = String::with_capacity(identifier.len());
    let mut in_run = false;

    for c in identifier.chars() {
        let c = match c {
            '+' | '*' => 'x',
            '-' => '_',
            '@' => 'a',
            '|' => 'l',
            other => other,
        };
        if c.is_ascii_alphabetic() || c == '_' || is_decimal_digit(c) {
            reduced.push(c);
            in_run = false;
        } else if !in_run {
            reduced.push('_');
            in_run = true;
        }
    }
    reduced
}

/// Applies steps 4 to 7 to an identifier that contains only ASCII letters,
/// decimal digits and `_`.
fn to_snake_case(identifier: &str) -> String {
    let chars: Vec<char> = identifier.chars().collect();
    let broken = break_before_capitalized_words(&chars);
    let broken = break_after_lowercase(&broken);
    let mut lowered: String = broken.iter().map(char::to_ascii_lowercase).collect();

    if lowered.chars().next().is_some_and(is_decimal_digit) {
        lowered.insert(0, '_');
    }

    let stripped = lowered.trim_end_matches('_');
    let trailing = lowered.len() - stripped.len();
    let mut with_x = stripped.to_owned();
    with_x.extend(std::iter::repeat_n('x', trailing));

    collapse_underscores(&with_x)
}

/// `re.sub("([^_])([A-Z][a-z]+)", r"\1_\2", ...)`.
fn break_before_capitalized_words(chars: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + 4);
    let mut i = 0;

    while i < chars.len() {
        let starts_match = chars[i] != '_'
            && chars.get(i + 1).is_some_and(char::is_ascii_uppercase)
            && chars.get(i + 2).is_some_and(char::is_ascii_lowercase);
        if !starts_match {
            out.push(chars[i]);
            i += 1;
            continue;
        }

        // The lowercase run is greedy, and the next match starts after it.
        let mut end = i + 3;
        while end < chars.len() && chars[end].is_ascii_lowercase() {
            end += 1;
        }
        out.push(chars[i]);
        out.push('_');
        out.extend_from_slice(&chars[i + 1..end]);
        i = end;
    }
    out
}

/// `re.sub("([a-z0-9])([A-Z])", r"\1_\2", ...)`. The class `0-9` is ASCII
/// only, unlike `\d`.
fn break_after_lowercase(chars: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + 4);
    let mut i = 0;

    while i < chars.len() {
        let first = chars[i];
        let starts_match = (first.is_ascii_lowercase() || first.is_ascii_digit())
            && chars.get(i + 1).is_some_and(char::is_ascii_uppercase);
        if starts_match {
            out.push(first);
            out.push('_');
            out.push(chars[i + 1]);
            i += 2;
        } else {
            out.push(first);
            i += 1;
        }
    }
    out
}

fn collapse_underscores(identifier: &str) -> String {
    let mut out = String::with_capacity(identifier.len());
    let mut previous_underscore = false;

    for c in identifier.chars() {
        if c == '_' && previous_underscore {
            continue;
        }
        previous_underscore = c == '_';
        out.push(c);
    }
    out
}

/// Python's `str.isspace()`: Rust's `White_Space` set plus the ASCII
/// separators U+001C..U+001F, which Python also strips.
fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `\d` for `str` patterns: Unicode general category `Nd`.
///
/// Every `Nd` block is a run of ten or more consecutive code points. The table
/// contains the first and last code point of each run, taken from Unicode 14.0
/// (the database of Python 3.11, which dlt 1.31 runs on here).
fn is_decimal_digit(c: char) -> bool {
    if c.is_ascii_digit() {
        return true;
    }
    if c.is_ascii() {
        return false;
    }

    let code = c as u32;
    let index = DECIMAL_DIGIT_RANGES.partition_point(|&(_, last)| last < code);
    DECIMAL_DIGIT_RANGES
        .get(index)
        .is_some_and(|&(first, _)| first <= code)
}

/// Inclusive code point ranges of Unicode category `Nd`, sorted.
const DECIMAL_DIGIT_RANGES: [(u32, u32); 62] = [
    (0x30, 0x39),
    (0x660, 0x669),
    (0x6F0, 0x6F9),
    (0x7C0, 0x7C9),
    (0x966, 0x96F),
    (0x9E6, 0x9EF),
    (0xA66, 0xA6F),
    (0xAE6, 0xAEF),
    (0xB66, 0xB6F),
    (0xBE6, 0xBEF),
    (0xC66, 0xC6F),
    (0xCE6, 0xCEF),
    (0xD66, 0xD6F),
    (0xDE6, 0xDEF),
    (0xE50, 0xE59),
    (0xED0, 0xED9),
    (0xF20, 0xF29),
    (0x1040, 0x1049),
    (0x1090, 0x1099),
    (0x17E0, 0x17E9),
    (0x1810, 0x1819),
    (0x1946, 0x194F),
    (0x19D0, 0x19D9),
    (0x1A80, 0x1A89),
    (0x1A90, 0x1A99),
    (0x1B50, 0x1B59),
    (0x1BB0, 0x1BB9),
    (0x1C40, 0x1C49),
    (0x1C50, 0x1C59),
    (0xA620, 0xA629),
    (0xA8D0, 0xA8D9),
    (0xA900, 0xA909),
    (0xA9D0, 0xA9D9),
    (0xA9F0, 0xA9F9),
    (0xAA50, 0xAA59),
    (0xABF0, 0xABF9),
    (0xFF10, 0xFF19),
    (0x104A0, 0x104A9),
    (0x10D30, 0x10D39),
    (0x11066, 0x1106F),
    (0x110F0, 0x110F9),
    (0x11136, 0x1113F),
    (0x111D0, 0x111D9),
    (0x112F0, 0x112F9),
    (0x11450, 0x11459),
    (0x114D0, 0x114D9),
    (0x11650, 0x11659),
    (0x116C0, 0x116C9),
    (0x11730, 0x11739),
    (0x118E0, 0x118E9),
    (0x11950, 0x11959),
    (0x11C50, 0x11C59),
    (0x11D50, 0x11D59),
    (0x11DA0, 0x11DA9),
    (0x16A60, 0x16A69),
    (0x16AC0, 0x16AC9),
    (0x16B50, 0x16B59),
    (0x1D7CE, 0x1D7FF),
    (0x1E140, 0x1E149),
    (0x1E2F0, 0x1E2F9),
    (0x1E950, 0x1E959),
    (0x1FBF0, 0x1FBF9),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// (input, normalize_identifier, normalize_path), produced by dlt 1.31's
    /// `snake_case.NamingConvention` (the path column applies dlt's `_empty`
    /// rule for blank data keys).
    const DLT_CASES: &[(&str, &str, &str)] = &[
        ("User Name", "user_name", "user_name"),
        ("camelCaseField", "camel_case_field", "camel_case_field"),
        ("\u{dc}nicodeKey", "_nicode_key", "_nicode_key"),
        ("weird-key!", "weird_keyx", "weird_keyx"),
        ("123start", "_123start", "_123start"),
        ("trailing_", "trailingx", "trailingx"),
        ("__dunder__", "_dunderxx", "dunder"),
        ("A+B", "ax_b", "ax_b"),
        ("a*b", "axb", "axb"),
        ("user@host", "userahost", "userahost"),
        (
            "HTTPResponseCode",
            "http_response_code",
            "http_response_code",
        ),
        ("getHTTPResponse", "get_http_response", "get_http_response"),
        (
            "CamelCase2Digits",
            "camel_case2_digits",
            "camel_case2_digits",
        ),
        ("v2Api", "v2_api", "v2_api"),
        ("日本語", "x", "x"),
        ("\u{fc}n\u{ef}c\u{f6}d\u{e9}", "_n_c_dx", "_n_c_dx"),
        ("$price", "_price", "_price"),
        ("Column(1)", "column_1x", "column_1x"),
        ("a__b", "a_b", "a__b"),
        ("_", "x", "x"),
        ("__", "xx", ""),
        (
            "\u{661}\u{662}\u{663}abc",
            "_\u{661}\u{662}\u{663}abc",
            "_\u{661}\u{662}\u{663}abc",
        ),
        ("emoji\u{1f600}x", "emoji_x", "emoji_x"),
        ("ABcDe", "a_bc_de", "a_bc_de"),
        ("aBC", "a_bc", "a_bc"),
        ("ABC", "abc", "abc"),
        ("a1B2c3", "a1_b2c3", "a1_b2c3"),
        ("Ab", "ab", "ab"),
        ("AB", "ab", "ab"),
        ("aB", "a_b", "a_b"),
        ("ID", "id", "id"),
        ("userID", "user_id", "user_id"),
        ("userIDs", "user_i_ds", "user_i_ds"),
        ("XMLHttpRequest", "xml_http_request", "xml_http_request"),
        ("iPhone11Pro", "i_phone11_pro", "i_phone11_pro"),
        ("pipe|name", "pipelname", "pipelname"),
        ("  spaced out  ", "spaced_out", "spaced_out"),
        ("tab\tsep", "tab_sep", "tab_sep"),
        ("x1Y", "x1_y", "x1_y"),
        ("1a", "_1a", "_1a"),
        ("0", "_0", "_0"),
        ("__init__", "_initxx", "init"),
        ("a_B", "a_b", "a_b"),
        ("a_Bc", "a_bc", "a_bc"),
        ("_Ab", "_ab", "_ab"),
        ("x-Men", "x_men", "x_men"),
        (
            "snake_case_already",
            "snake_case_already",
            "snake_case_already",
        ),
        ("MiXeD_CaSe", "mi_xe_d_ca_se", "mi_xe_d_ca_se"),
        ("a  b", "a_b", "a_b"),
        ("a--b", "a_b", "a_b"),
        ("a-_-b", "a_b", "a_b"),
        ("\u{663}rd", "_\u{663}rd", "_\u{663}rd"),
        ("x\u{663}Y", "x\u{663}y", "x\u{663}y"),
        ("abc\u{663}Def", "abc\u{663}_def", "abc\u{663}_def"),
        ("\u{ff83}\u{ff7d}\u{ff84}", "x", "x"),
        ("\u{3a9}mega", "_mega", "_mega"),
        ("na\u{ef}ve", "na_ve", "na_ve"),
        ("C++", "cxx", "cxx"),
        ("e-mail@addr", "e_mailaaddr", "e_mailaaddr"),
        ("\u{dc}ber__Stra\u{df}e", "_ber_stra_e", "_ber__stra_e"),
        (
            "Parent__Child Name",
            "parent_child_name",
            "parent__child_name",
        ),
        ("trailing___", "trailingxxx", "trailing__x"),
        ("a.b.c", "a_b_c", "a_b_c"),
        ("end!!", "endx", "endx"),
        ("\u{a0}lead", "lead", "lead"),
        ("\u{1c}ctl\u{1f}", "ctl", "ctl"),
        ("under_Score", "under_score", "under_score"),
        ("ABCdef", "ab_cdef", "ab_cdef"),
        ("AbcDEF", "abc_def", "abc_def"),
        ("abcDEFghi", "abc_de_fghi", "abc_de_fghi"),
        ("a1A", "a1_a", "a1_a"),
        ("A1a", "a1a", "a1a"),
        ("9Lives", "_9_lives", "_9_lives"),
        ("the_ID_x", "the_id_x", "the_id_x"),
        ("MyHTTP2Server", "my_http2_server", "my_http2_server"),
        ("HTTP2Server", "http2_server", "http2_server"),
        ("Ser2Ver", "ser2_ver", "ser2_ver"),
        ("a____b", "a_b", "a__b"),
        ("a___b", "a_b", "a___b"),
        ("x___", "xxxx", "x__x"),
        ("___x", "_x", "_x"),
        (" a __ b ", "a_b", "a__b"),
    ];

    #[test]
    fn identifier_matches_dlt() {
        for (input, expected, _) in DLT_CASES {
            assert_eq!(
                normalize_identifier(input),
                *expected,
                "identifier {input:?}"
            );
        }
    }

    #[test]
    fn path_matches_dlt() {
        for (input, _, expected) in DLT_CASES {
            assert_eq!(normalize_path(input), *expected, "path {input:?}");
        }
    }

    #[test]
    fn identifier_empty_input() {
        assert_eq!(normalize_identifier(""), "_empty");
        assert_eq!(normalize_identifier(" \t\u{3000}"), "_empty");
    }

    #[test]
    fn path_empty_input() {
        assert_eq!(normalize_path(""), "_empty");
        assert_eq!(normalize_path("   "), "_empty");
    }

    #[test]
    fn make_path_joins_parts() {
        assert_eq!(
            make_path(&["users", "orders", "tags"]),
            "users__orders__tags"
        );
    }

    #[test]
    fn shorten_matches_dlt() {
        assert_eq!(
            shorten_identifier("abcdefghijklmnop", "abcdefghijklmnop", 10),
            "abhqkbwaop"
        );
        assert_eq!(
            shorten_identifier("abcdefghijklmnop", "abcdefghijklmnop", 11),
            "abchqkbwaop"
        );
        assert_eq!(
            shorten_identifier("abcdefghijklmnop", "ABCdefghijklmnop", 7),
            "apwilpw"
        );
        assert_eq!(
            shorten_identifier(
                "_\u{661}\u{662}\u{663}abcdefghij",
                "\u{661}\u{662}\u{663}abcdefghij",
                9
            ),
            "_\u{661}ntbfywj"
        );
    }

    #[test]
    fn shorten_keeps_short_identifier() {
        assert_eq!(shorten_identifier("short", "short", 10), "short");
    }

    #[test]
    fn max_length_matches_dlt() {
        assert_eq!(
            normalize_identifier_with_max_length("VeryLongCamelCaseName", Some(12)),
            "verxg8iswame"
        );
        assert_eq!(
            normalize_path_with_max_length("Parent__Child Name__Deep", Some(12)),
            "pargcsw2weep"
        );
    }

    #[test]
    fn decimal_digit_table() {
        assert!(is_decimal_digit('7'));
        assert!(is_decimal_digit('\u{669}'));
        assert!(is_decimal_digit('\u{1FBF9}'));
        assert!(!is_decimal_digit('\u{B2}'), "superscript two is No, not Nd");
        assert!(!is_decimal_digit('\u{66A}'));
        assert!(!is_decimal_digit('a'));
    }
}
