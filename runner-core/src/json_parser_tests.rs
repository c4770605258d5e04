use super::*;

/// serde_json's reading of `text`, the reference for every case.
fn serde_value(text: &[u8]) -> Option<JsonValue<'_>> {
    crate::lines::parse_json(text).ok()
}

/// Fails when the fast parser accepts text that serde_json rejects, or
/// reads a value differently.
fn assert_agrees(text: &[u8]) {
    let ours = parse(text);
    let reference = serde_value(text);
    if let Some(value) = &ours {
        assert_eq!(Some(value), reference.as_ref(), "{}", String::from_utf8_lossy(text));
    }
    assert_eq!(check(text).is_some(), ours.is_some(), "{}", String::from_utf8_lossy(text));
}

#[test]
fn accepts_what_serde_json_accepts() {
    let cases: &[&str] = &[
        "null",
        " true ",
        "false\r\n",
        "0",
        "-1",
        "18446744073709551615",
        "-9223372036854775808",
        "1.5",
        "-0.0",
        "1e3",
        "1E+3",
        "2.5e-3",
        "0.1",
        "123456789012345678901234567890",
        r#""""#,
        r#""plain text, longer than eight bytes""#,
        r#""a\"b\\c\/d\be\ff\ng\rh\ti""#,
        r#""\u00e9\u20AC\ud83d\ude00""#,
        r#""é € 😀 unescaped""#,
        "[]",
        "[ 1 , [ ] , { } ]",
        r#"{"a":1,"b":[true,null],"c":{"d":"e"}}"#,
        r#"{ "k" : "v" , "k2" : -3.25e10 }"#,
        r#"{"a":1,"b":2,"a":3}"#,
        "\t[\n1\n]\n",
    ];
    for case in cases {
        assert!(parse(case.as_bytes()).is_some(), "rejected {case}");
        assert_agrees(case.as_bytes());
    }
}

#[test]
fn leaves_to_serde_json() {
    // Invalid JSON, and valid text that serde_json rejects.
    let cases: &[&[u8]] = &[
        b"",
        b"   ",
        b"nul",
        b"nulll",
        b"True",
        b"01",
        b"-01",
        b"-",
        b"1.",
        b".5",
        b"1e",
        b"1e+",
        b"+1",
        b"1ee3",
        b"0x10",
        b"NaN",
        b"Infinity",
        b"1e400",
        b"-1e400",
        b"[1,]",
        b"[1 2]",
        b"{\"a\":1,}",
        b"{\"a\" 1}",
        b"{a:1}",
        b"{\"a\":1",
        b"[",
        b"\"unterminated",
        b"\"tab\there\"",
        b"\"\\x41\"",
        b"\"\\u12\"",
        b"\"\\ud800\"",
        b"\"\\udc00\"",
        b"\"\\ud800\\u0041\"",
        b"\"\xff\"",
        b"1 2",
        b"{} x",
    ];
    for case in cases {
        assert_eq!(parse(case), None, "accepted {}", String::from_utf8_lossy(case));
        assert_eq!(check(case), None, "checked {}", String::from_utf8_lossy(case));
    }
}

#[test]
fn repeated_keys_keep_first_position() {
    // Enough keys that several share a filter bit.
    let mut text = String::from("{");
    for index in 0..300 {
        text.push_str(&format!("\"k{index}\":{index},"));
    }
    text.push_str(r#""k7":"last","k299":null,"":1,"":2}"#);
    assert_agrees(text.as_bytes());

    let Some(JsonValue::Object(entries)) = parse(text.as_bytes()) else { panic!("not an object") };
    assert_eq!(entries.len(), 301);
    assert_eq!(entries[7], (Cow::Borrowed("k7"), JsonValue::String(Cow::Borrowed("last"))));
    assert_eq!(entries[300].1, JsonValue::Number(2u64.into()));
}

#[test]
fn object_sizes_carry_between_lines() {
    // Objects bigger, smaller and deeper than the previous line's, and
    // more keys than the size cap, parse the same with carried sizes.
    let wide: String = (0..40).map(|key| format!("\"k{key}\":{key}")).collect::<Vec<_>>().join(",");
    let lines = [
        r#"{"a":1,"b":{"c":2,"d":3},"e":[{"f":4}]}"#.to_owned(),
        r#"{"a":1}"#.to_owned(),
        format!("{{{wide}}}"),
        r#"{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{}}}}}}}}}}"#.to_owned(),
        r#"{"a":1,"a":2,"b":{}}"#.to_owned(),
        "[]".to_owned(),
    ];
    let mut sizes = ObjectSizes::default();
    for line in &lines {
        let carried = parse_with_sizes(line.as_bytes(), &mut sizes);
        assert_eq!(carried, parse(line.as_bytes()), "{line}");
        assert!(carried.is_some(), "rejected {line}");
    }
}

#[test]
fn nesting_limit_matches_serde_json() {
    let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
    assert!(parse(nested(127).as_bytes()).is_some());
    assert!(serde_value(nested(127).as_bytes()).is_some());
    assert_eq!(parse(nested(128).as_bytes()), None);
    assert_eq!(serde_value(nested(128).as_bytes()), None);
}

#[test]
fn numbers_keep_serde_json_kinds() {
    let cases = [
        ("0", Number::from(0u64)),
        ("-5", Number::from(-5i64)),
        ("9223372036854775807", Number::from(i64::MAX)),
        ("18446744073709551615", Number::from(u64::MAX)),
        ("-9223372036854775808", Number::from(i64::MIN)),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text.as_bytes()), Some(JsonValue::Number(expected)), "{text}");
    }

    // Beyond 64 bits, and `-0`, serde_json reads a float.
    for text in ["-0", "-9223372036854775809", "18446744073709551616", "1e2"] {
        let Some(JsonValue::Number(number)) = parse(text.as_bytes()) else { panic!("{text}") };
        assert!(number.is_f64(), "{text}");
        assert_agrees(text.as_bytes());
    }
}

#[test]
fn strings_borrow_unless_escaped() {
    let Some(JsonValue::Array(items)) = parse(br#"["plain","with \"quote\""]"#) else { panic!("not an array") };
    assert!(matches!(&items[0], JsonValue::String(Cow::Borrowed("plain"))));
    assert!(matches!(&items[1], JsonValue::String(Cow::Owned(text)) if text == "with \"quote\""));
}

#[test]
fn control_characters_found_at_every_offset() {
    // The 16-byte and eight-byte scans must find a special byte wherever
    // it sits.
    for length in 0..40 {
        for special in [b'"', b'\\', b'\n', 0x01, 0x1f] {
            let mut text = vec![b'"'];
            text.extend(std::iter::repeat_n(b'a', length));
            text.push(special);
            text.extend_from_slice(b"bcdefghij\"");
            assert_agrees(&text);
        }
    }
}

#[test]
fn check_finds_large_floats() {
    let cases = [
        (r#"{"a":[1,2.5,"x"]}"#, false),
        (r#"{"a":{"b":18446744073709551616}}"#, true),
        (r#"[-9223372036854775809]"#, true),
        (r#"[1e19]"#, false),
        (r#"[1e20]"#, true),
        (r#""18446744073709551616""#, false),
        // Floats of up to 15 integer digits are not converted, longer ones are.
        (r#"[-999999999999999.99]"#, false),
        (r#"[9999999999999999.5]"#, false),
        (r#"[18446744073709551616.5]"#, true),
    ];
    for (text, expected) in cases {
        let checked = check(text.as_bytes()).expect(text);
        assert_eq!(checked.has_large_float, expected, "{text}");
    }
}

/// A small deterministic generator, so the test needs no extra crate.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Writes a random JSON value of `depth` levels at most.
fn random_json(random: &mut Random, depth: usize, out: &mut String) {
    const ATOMS: &[&str] = &[
        "null", "true", "false", "0", "-0", "7", "-12", "3.25", "-1e-7", "6.02E23", "1e308", "99999999999999999999",
        r#""""#, r#""abc""#, r#""a\"b""#, r#""\u00e9x""#, r#""tab\t""#, r#""€uro text of some length""#,
    ];
    match if depth == 0 { 0 } else { random.below(4) } {
        0 | 1 => out.push_str(ATOMS[random.below(ATOMS.len())]),
        2 => {
            out.push('[');
            for index in 0..random.below(4) {
                if index > 0 {
                    out.push(',');
                }
                random_json(random, depth - 1, out);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            for index in 0..random.below(4) {
                if index > 0 {
                    out.push_str(" , ");
                }
                out.push_str(["\"a\"", "\"b\"", "\"k\\n\""][random.below(3)]);
                out.push(':');
                random_json(random, depth - 1, out);
            }
            out.push('}');
        }
    }
}

#[test]
fn random_and_mutated_text_agrees() {
    const MUTATIONS: &[u8] = b" \t\n\"\\,:[]{}-+.eE0123456789aeflnrstu\x01\x7f";
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3_000 {
        let mut text = String::new();
        random_json(&mut random, 4, &mut text);
        assert_agrees(text.as_bytes());

        // Single-byte edits make near-valid text, where parsers differ most.
        let mut bytes = text.into_bytes();
        for _ in 0..1 + random.below(3) {
            let position = random.below(bytes.len() + 1);
            let byte = MUTATIONS[random.below(MUTATIONS.len())];
            match random.below(3) {
                0 => bytes.insert(position, byte),
                1 if position < bytes.len() => {
                    bytes.remove(position);
                }
                _ if position < bytes.len() => bytes[position] = byte,
                _ => bytes.push(byte),
            }
        }
        assert_agrees(&bytes);
    }
}
