//! A JSON parser for the two hot paths over JSON Lines: checking a line at
//! extract and building the tree that normalize walks.
//!
//! Checking a 550-byte event line through serde_json's visitor interface
//! cost about 10,000 instructions, and this parser takes about 7,600
//! (callgrind, 10,000 generated events). Building the tree costs about a
//! quarter less than through serde_json. Strings are scanned 16 bytes at a
//! time (SSE2, eight bytes elsewhere), and [`JsonValue`] is built directly.
//!
//! It accepts a subset of what serde_json accepts and returns `None` for
//! everything else: syntax errors, but also lone surrogate escapes, numbers
//! that overflow f64 and nesting of 128 levels or more. Callers then parse
//! the text with serde_json, which decides and words the error. So the two
//! paths always accept the same text, and every value they both accept is
//! the same. Debug builds (tests and fuzzing) compare the two on every call.

use std::borrow::Cow;

use serde_json::Number;

use crate::normalize::json::JsonValue;

/// Nesting at which serde_json stops with "recursion limit exceeded": it
/// accepts 127 levels of arrays and objects and rejects the 128th.
const MAX_DEPTH: usize = 128;

/// Integer digits up to which a float literal without an exponent counts as
/// short. Such a float is finite and below 2^63 in magnitude, so a check
/// skips converting it, which was about 13% of checking a generated event.
const SHORT_FLOAT_DIGITS: usize = 15;

/// Facts that checking a JSON text found besides its syntax.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CheckedJson {
    /// True when a number read as a float that may be a rounded integer
    /// literal beyond 64 bits (2^64 or more, -2^63 or less).
    pub has_large_float: bool,
}

/// Checks that `text` is one JSON value that serde_json parses, without
/// building it. `None` means this parser did not accept it, not that the
/// text is invalid.
pub(crate) fn check(text: &[u8]) -> Option<CheckedJson> {
    let text = std::str::from_utf8(text).ok()?;
    let mut parser = Parser::new(text);
    let has_large_float = parser.document::<Check>()?;
    Some(CheckedJson { has_large_float })
}

/// Parses `text` as one JSON value, borrowing strings without escapes.
/// `None` means this parser did not accept it, not that the text is
/// invalid.
#[cfg(test)]
pub(crate) fn parse(text: &[u8]) -> Option<JsonValue<'_>> {
    parse_with_sizes(text, &mut ObjectSizes::default())
}

/// Parses like `parse`, borrowing strings without escapes. `None` means
/// this parser did not accept the text. Each object's entries are allocated
/// at the size that `sizes` contains for its nesting level, which the call
/// then updates.
pub(crate) fn parse_with_sizes<'a>(text: &'a [u8], sizes: &mut ObjectSizes) -> Option<JsonValue<'a>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut parser = Parser::new(text);
    parser.sizes = *sizes;
    let value = parser.document::<Build>();
    *sizes = parser.sizes;
    value
}

/// The entry count of the last object parsed at each of the first few
/// nesting levels, at most `MAX_SIZE`. Lines of JSON Lines mostly repeat
/// their shape, so an object's entries are allocated at the size of the
/// last object at its level. Growing the vector entry by entry cost about
/// an eighth of building the tree of a 20-key event (callgrind).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ObjectSizes([u8; ObjectSizes::LEVELS]);

impl ObjectSizes {
    const LEVELS: usize = 8;
    /// Larger objects grow as needed. The cap bounds the memory an object
    /// reserves after a large one at its level.
    const MAX_SIZE: usize = 32;

    fn get(&self, depth: usize) -> usize {
        self.0.get(depth).map_or(0, |size| usize::from(*size))
    }

    fn set(&mut self, depth: usize, size: usize) {
        if let Some(slot) = self.0.get_mut(depth) {
            *slot = size.min(Self::MAX_SIZE) as u8;
        }
    }
}

/// Receiver of each parsed value, which builds a tree or keeps only the
/// facts a check needs. Implementations are zero-sized, so each mode
/// compiles to its own loop.
trait Sink<'a> {
    type Value;
    type Array;
    type Object;

    fn null() -> Self::Value;
    fn bool(value: bool) -> Self::Value;
    fn integer(value: Number) -> Self::Value;
    fn float(value: f64) -> Self::Value;
    fn string(value: Cow<'a, str>) -> Self::Value;

    /// Returns the value of a short float literal (see [`SHORT_FLOAT_DIGITS`])
    /// when the sink does not need the number, or `None` to have the parser
    /// convert it.
    fn short_float() -> Option<Self::Value>;

    fn array() -> Self::Array;
    fn push(array: &mut Self::Array, item: Self::Value);
    fn end_array(array: Self::Array) -> Self::Value;

    /// Starts an object that is expected to get `capacity` entries.
    fn object(capacity: usize) -> Self::Object;
    fn insert(object: &mut Self::Object, key: Cow<'a, str>, value: Self::Value);
    fn end_object(object: Self::Object) -> Self::Value;

    /// False when string contents are not needed, so escapes are only
    /// checked, never decoded.
    const DECODE_STRINGS: bool;
}

/// Builds a [`JsonValue`].
struct Build;

/// An object that [`Build`] is filling, with a 256-bit filter of its keys.
/// Keys rarely repeat, and searching the earlier keys for each new one cost
/// about as much as the rest of parsing a 20-key event object.
struct ObjectBuilder<'a> {
    entries: Vec<(Cow<'a, str>, JsonValue<'a>)>,
    key_filter: [u64; 4],
}

impl<'a> Sink<'a> for Build {
    type Value = JsonValue<'a>;
    type Array = Vec<JsonValue<'a>>;
    type Object = ObjectBuilder<'a>;

    const DECODE_STRINGS: bool = true;

    fn null() -> Self::Value {
        JsonValue::Null
    }

    fn bool(value: bool) -> Self::Value {
        JsonValue::Bool(value)
    }

    fn integer(value: Number) -> Self::Value {
        JsonValue::Number(value)
    }

    fn float(value: f64) -> Self::Value {
        // The parser passes finite floats only.
        Number::from_f64(value).map_or(JsonValue::Null, JsonValue::Number)
    }

    fn string(value: Cow<'a, str>) -> Self::Value {
        JsonValue::String(value)
    }

    fn short_float() -> Option<Self::Value> {
        None
    }

    fn array() -> Self::Array {
        Vec::new()
    }

    fn push(array: &mut Self::Array, item: Self::Value) {
        array.push(item);
    }

    fn end_array(array: Self::Array) -> Self::Value {
        JsonValue::Array(array)
    }

    fn object(capacity: usize) -> Self::Object {
        ObjectBuilder {
            entries: Vec::with_capacity(capacity),
            key_filter: [0; 4],
        }
    }

    /// Inserts `key`. A repeated key keeps its first position and takes the
    /// last value, as serde_json's ordered map and Python's `dict` do.
    fn insert(object: &mut Self::Object, key: Cow<'a, str>, value: Self::Value) {
        let bit = key_fingerprint(&key);
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        let may_repeat = object.key_filter[word] & mask != 0;
        object.key_filter[word] |= mask;

        if may_repeat && let Some(entry) = object.entries.iter_mut().find(|(existing, _)| *existing == key) {
            entry.1 = value;
            return;
        }
        object.entries.push((key, value));
    }

    fn end_object(object: Self::Object) -> Self::Value {
        JsonValue::Object(object.entries)
    }
}

/// Returns a number below 256 that equal keys share and different keys
/// mostly do not: from the length and the first, middle and last bytes.
fn key_fingerprint(key: &str) -> usize {
    let bytes = key.as_bytes();
    let Some(&last) = bytes.last() else {
        return 0;
    };
    let mixed = bytes.len() * 0x9E + usize::from(bytes[0]) * 0x3B + usize::from(bytes[bytes.len() / 2]) * 0x1F;
    (mixed ^ (usize::from(last) * 0x65)) & 0xFF
}

/// Builds nothing. A value is true when it contains a large float.
struct Check;

impl<'a> Sink<'a> for Check {
    type Value = bool;
    type Array = bool;
    type Object = bool;

    const DECODE_STRINGS: bool = false;

    fn null() -> bool {
        false
    }

    fn bool(_: bool) -> bool {
        false
    }

    fn integer(_: Number) -> bool {
        false
    }

    fn float(value: f64) -> bool {
        crate::extract::is_large_float(value)
    }

    fn string(_: Cow<'a, str>) -> bool {
        false
    }

    fn short_float() -> Option<bool> {
        Some(false)
    }

    fn array() -> bool {
        false
    }

    fn push(array: &mut bool, item: bool) {
        *array |= item;
    }

    fn end_array(array: bool) -> bool {
        array
    }

    fn object(_: usize) -> bool {
        false
    }

    fn insert(object: &mut bool, _: Cow<'a, str>, value: bool) {
        *object |= value;
    }

    fn end_object(object: bool) -> bool {
        object
    }
}

/// A cursor over text already known to be UTF-8. Every slice it takes starts
/// and ends next to an ASCII byte, so it falls on character boundaries.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    position: usize,
    depth: usize,
    sizes: ObjectSizes,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            position: 0,
            depth: 0,
            sizes: ObjectSizes::default(),
        }
    }

    /// Parses one value and requires only whitespace after it.
    fn document<S: Sink<'a>>(&mut self) -> Option<S::Value> {
        let value = self.value::<S>()?;
        self.skip_whitespace();
        (self.position == self.bytes.len()).then_some(value)
    }

    fn value<S: Sink<'a>>(&mut self) -> Option<S::Value> {
        self.skip_whitespace();
        match *self.bytes.get(self.position)? {
            b'{' => self.object::<S>(),
            b'[' => self.array::<S>(),
            b'"' => {
                self.position += 1;
                self.string::<S>().map(S::string)
            }
            b'-' | b'0'..=b'9' => self.number::<S>(),
            b't' => self.literal(b"true", S::bool(true)),
            b'f' => self.literal(b"false", S::bool(false)),
            b'n' => self.literal(b"null", S::null()),
            _ => None,
        }
    }

    fn literal<V>(&mut self, word: &[u8], value: V) -> Option<V> {
        let end = self.position + word.len();
        if self.bytes.get(self.position..end)? != word {
            return None;
        }
        self.position = end;
        Some(value)
    }

    fn array<S: Sink<'a>>(&mut self) -> Option<S::Value> {
        self.enter()?;
        let mut array = S::array();

        self.skip_whitespace();
        if !self.skip_byte(b']') {
            loop {
                S::push(&mut array, self.value::<S>()?);
                self.skip_whitespace();
                match self.next()? {
                    b',' => continue,
                    b']' => break,
                    _ => return None,
                }
            }
        }

        self.depth -= 1;
        Some(S::end_array(array))
    }

    fn object<S: Sink<'a>>(&mut self) -> Option<S::Value> {
        self.enter()?;
        let depth = self.depth;
        let mut object = S::object(self.sizes.get(depth));
        let mut entries = 0;

        self.skip_whitespace();
        if !self.skip_byte(b'}') {
            loop {
                self.skip_whitespace();
                if self.next()? != b'"' {
                    return None;
                }
                let key = self.string::<S>()?;

                self.skip_whitespace();
                if self.next()? != b':' {
                    return None;
                }
                let value = self.value::<S>()?;
                S::insert(&mut object, key, value);
                entries += 1;

                self.skip_whitespace();
                match self.next()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return None,
                }
            }
        }

        self.sizes.set(depth, entries);
        self.depth -= 1;
        Some(S::end_object(object))
    }

    /// Opens an array or object, failing at serde_json's nesting limit.
    fn enter(&mut self) -> Option<()> {
        self.position += 1;
        self.depth += 1;
        (self.depth < MAX_DEPTH).then_some(())
    }

    /// Reads a string whose opening quote is behind the cursor.
    fn string<S: Sink<'a>>(&mut self) -> Option<Cow<'a, str>> {
        let start = self.position;
        self.position = find_string_special(self.bytes, start)?;
        match self.bytes[self.position] {
            b'"' => {
                let plain = &self.text[start..self.position];
                self.position += 1;
                Some(Cow::Borrowed(plain))
            }
            b'\\' => self.escaped_string::<S>(start),
            // A control character, which JSON requires to be escaped.
            _ => None,
        }
    }

    /// Continues a string at its first backslash, decoding into an owned
    /// copy only when the sink needs the text.
    fn escaped_string<S: Sink<'a>>(&mut self, start: usize) -> Option<Cow<'a, str>> {
        let mut decoded = String::new();
        if S::DECODE_STRINGS {
            decoded.push_str(&self.text[start..self.position]);
        }

        loop {
            // The cursor is on a backslash.
            self.position += 1;
            let escaped = match self.next()? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode_escape()?,
                _ => return None,
            };
            if S::DECODE_STRINGS {
                decoded.push(escaped);
            }

            let run_start = self.position;
            self.position = find_string_special(self.bytes, run_start)?;
            if S::DECODE_STRINGS {
                decoded.push_str(&self.text[run_start..self.position]);
            }
            match self.bytes[self.position] {
                b'"' => {
                    self.position += 1;
                    return Some(Cow::Owned(decoded));
                }
                b'\\' => continue,
                _ => return None,
            }
        }
    }

    /// Reads the four hex digits after `\u`, and a second escape for a
    /// surrogate pair. A lone surrogate is left to serde_json.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if !(0xD800..0xDC00).contains(&first) {
            return char::from_u32(first);
        }

        if self.bytes.get(self.position..self.position + 2)? != b"\\u" {
            return None;
        }
        self.position += 2;
        let second = self.hex4()?;
        if !(0xDC00..0xE000).contains(&second) {
            return None;
        }
        char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.position..self.position + 4)?;
        let mut value = 0u32;
        for &digit in digits {
            value = value * 16 + char::from(digit).to_digit(16)?;
        }
        self.position += 4;
        Some(value)
    }

    /// Reads a number as serde_json does: integers that fit become `u64` or
    /// (negative) `i64`, everything else a correctly rounded `f64`.
    fn number<S: Sink<'a>>(&mut self) -> Option<S::Value> {
        let start = self.position;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.position += 1;
        }

        // Integer part: `0` or a digit run without a leading zero.
        let digits_start = self.position;
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.skip_digits(),
            _ => return None,
        }
        let digits_end = self.position;
        if self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            return None;
        }

        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.position += 1;
            self.require_digits()?;
            is_float = true;
        }
        let mut has_exponent = false;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.position += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.position += 1;
            }
            self.require_digits()?;
            is_float = true;
            has_exponent = true;
        }

        if !is_float && let Some(integer) = integer_value(&self.bytes[digits_start..digits_end], negative) {
            return Some(S::integer(integer));
        }
        if !has_exponent
            && digits_end - digits_start <= SHORT_FLOAT_DIGITS
            && let Some(value) = S::short_float()
        {
            return Some(value);
        }

        // Floats and integers beyond 64 bits. Rust's parser rounds
        // correctly, as serde_json does with `float_roundtrip`.
        let float: f64 = self.text[start..self.position].parse().ok()?;
        float.is_finite().then(|| S::float(float))
    }

    fn skip_digits(&mut self) {
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.position += 1;
        }
    }

    fn require_digits(&mut self) -> Option<()> {
        let start = self.position;
        self.skip_digits();
        (self.position > start).then_some(())
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.position += 1;
        }
    }

    /// Moves past `byte` when it is next, and returns whether it was.
    fn skip_byte(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.position += 1;
        }
        found
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        Some(byte)
    }
}

/// Returns the value of an integer literal's digits as serde_json reads it,
/// or `None` when serde_json reads a float instead: for literals that fit
/// neither u64 nor i64, and for `-0` (the float -0.0).
fn integer_value(digits: &[u8], negative: bool) -> Option<Number> {
    let mut magnitude = 0u64;
    for &digit in digits {
        magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
    }

    if !negative {
        return Some(magnitude.into());
    }
    let value = 0i64.checked_sub_unsigned(magnitude)?;
    (value != 0).then(|| value.into())
}

/// Returns the index of the first `"`, `\` or control character (below
/// 0x20) at or after `start`, or `None` at the end of the text.
#[inline]
fn find_string_special(bytes: &[u8], start: usize) -> Option<usize> {
    let mut position = start;

    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = bytes.get(position..position + 16) {
        let mask = special_mask_sse2(chunk.try_into().ok()?);
        if mask != 0 {
            return Some(position + mask.trailing_zeros() as usize);
        }
        position += 16;
    }

    while let Some(chunk) = bytes.get(position..position + 8) {
        let found = special_mask_swar(u64::from_le_bytes(chunk.try_into().ok()?));
        if found != 0 {
            return Some(position + (found.trailing_zeros() / 8) as usize);
        }
        position += 8;
    }

    bytes[position..]
        .iter()
        .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
        .map(|offset| position + offset)
}

/// Returns a bit per byte of `chunk` (bit 0 for byte 0) that is set where
/// the byte is `"`, `\` or a control character. Typical strings in event
/// data are 2 to 120 bytes, so most fit one or a few 16-byte steps.
#[cfg(target_arch = "x86_64")]
#[inline]
fn special_mask_sse2(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::*;

    // SAFETY: SSE2 is part of the x86_64 baseline, and the load reads
    // exactly the 16 bytes of `chunk`, with no alignment requirement.
    unsafe {
        let bytes = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\\' as i8));
        // A byte is below 0x20 exactly when its unsigned minimum with 0x1F
        // is itself.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(bytes, _mm_set1_epi8(0x1F)), bytes);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

/// Returns a word with the high bit set in each byte of `word` that is `"`,
/// `\` or a control character, and possibly in bytes above a match. This is
/// the portable form of [`special_mask_sse2`], and its lowest set bit is
/// always a true match.
#[inline]
fn special_mask_swar(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let found = (quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash)
        | (word.wrapping_sub(ONES * 0x20) & !word);
    found & HIGH_BITS
}

#[cfg(test)]
#[path = "json_parser_tests.rs"]
mod tests;
