//! The `layout` template that places data files inside the dataset folder,
//! as dlt's filesystem destination names them.

use plugin_sdk::PluginError;

/// dlt's default layout.
pub const DEFAULT_LAYOUT: &str = "{table_name}/{load_id}.{file_id}.{ext}";

/// Placeholders this destination fills in.
const SUPPORTED: [&str; 5] = ["table_name", "schema_name", "load_id", "file_id", "ext"];

/// Placeholders that must appear, so that every job gets its own file name
/// and the files of a table and of a load can be found again.
const REQUIRED: [&str; 4] = ["table_name", "load_id", "file_id", "ext"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Placeholder(&'static str),
}

/// A parsed layout such as `{schema_name}/{table_name}/{load_id}.{file_id}.{ext}`.
///
/// Paths are relative to the dataset folder and use `/` as separator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    template: String,
    tokens: Vec<Token>,
}

/// Values of the placeholders for one data file.
#[derive(Debug, Clone, Copy)]
pub struct FileNameParts<'a> {
    pub table_name: &'a str,
    pub schema_name: &'a str,
    pub load_id: &'a str,
    pub file_id: &'a str,
    /// Extension without the leading dot, such as `parquet`.
    pub ext: &'a str,
}

impl Default for Layout {
    fn default() -> Self {
        Layout::parse(DEFAULT_LAYOUT).expect("the default layout is valid")
    }
}

impl Layout {
    /// Parses a layout template.
    ///
    /// Returns a `Config` error naming `layout` when a placeholder is unknown
    /// or missing, or when the path is absolute or has empty or `..`
    /// segments. It is also an error when `{table_name}` follows anything but
    /// literal text and `{schema_name}`. dlt has the same rule, which lets a
    /// table's files be listed by prefix.
    pub fn parse(template: &str) -> Result<Self, PluginError> {
        let invalid = |reason: String| {
            PluginError::config(format!("invalid `layout` {template:?}: {reason}"))
        };

        let tokens = tokenize(template).map_err(invalid)?;

        for required in REQUIRED {
            let count = tokens
                .iter()
                .filter(|token| **token == Token::Placeholder(required))
                .count();
            if count != 1 {
                return Err(invalid(format!(
                    "it must contain {{{required}}} exactly once, found {count}"
                )));
            }
        }

        let before_table = tokens
            .iter()
            .take_while(|token| **token != Token::Placeholder("table_name"));
        if before_table
            .clone()
            .any(|token| matches!(token, Token::Placeholder(name) if *name != "schema_name"))
        {
            return Err(invalid(
                "only {schema_name} and literal text may come before {table_name}".to_owned(),
            ));
        }

        // Files of a table are found by the text that follows its name, so
        // with a placeholder right after it, `replace` of table `t` would
        // also match and delete the files of table `t1`. dlt 1.31 rejects
        // such layouts too.
        let after_table = tokens
            .iter()
            .skip_while(|token| **token != Token::Placeholder("table_name"))
            .nth(1);
        if !matches!(after_table, Some(Token::Literal(_))) {
            return Err(invalid(
                "a separator such as `/` or `.` is required after {table_name}, so that one table's files are told \
                 from those of a table whose name starts the same"
                    .to_owned(),
            ));
        }

        if template.starts_with('/') || template.split('/').any(|segment| segment.is_empty() || segment == "..") {
            return Err(invalid(
                "it must be a relative path without empty or `..` segments".to_owned(),
            ));
        }

        Ok(Layout {
            template: template.to_owned(),
            tokens,
        })
    }

    /// Returns the template as written.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Returns the path of one data file, relative to the dataset folder.
    pub fn render(&self, parts: &FileNameParts<'_>) -> String {
        let mut path = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => path.push_str(text),
                Token::Placeholder(name) => path.push_str(placeholder_value(name, parts)),
            }
        }
        path
    }

    /// Returns the folder, relative to the dataset folder, that contains every
    /// file of `table_name`, possibly among files of other tables. It is empty
    /// when files sit directly in the dataset folder.
    pub fn table_folder(&self, table_name: &str, schema_name: &str) -> String {
        let mut prefix = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => prefix.push_str(text),
                Token::Placeholder("table_name") => prefix.push_str(table_name),
                Token::Placeholder("schema_name") => prefix.push_str(schema_name),
                Token::Placeholder(_) => break,
            }
        }
        match prefix.rfind('/') {
            Some(end) => prefix[..end].to_owned(),
            None => String::new(),
        }
    }

    /// Returns the load id of `path` (relative to the dataset folder) when it
    /// is a data file of `table_name`, and `None` otherwise.
    ///
    /// Load ids match digits with at most one dot, file ids letters, digits,
    /// `_` and `-`, and extensions lowercase letters, digits and dots. These classes keep
    /// `items__tags/...` from matching table `items` in flat layouts.
    pub fn match_table_file(&self, path: &str, table_name: &str, schema_name: &str) -> Option<String> {
        let mut load_id = None;
        match_tokens(&self.tokens, path, table_name, schema_name, &mut load_id).then_some(())?;
        load_id
    }
}

fn placeholder_value<'a>(name: &str, parts: &FileNameParts<'a>) -> &'a str {
    match name {
        "table_name" => parts.table_name,
        "schema_name" => parts.schema_name,
        "load_id" => parts.load_id,
        "file_id" => parts.file_id,
        _ => parts.ext,
    }
}

fn tokenize(template: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = template;

    while !rest.is_empty() {
        let Some(open) = rest.find('{') else {
            if rest.contains('}') {
                return Err("it has a `}` without a matching `{`".to_owned());
            }
            tokens.push(Token::Literal(rest.to_owned()));
            break;
        };
        if open > 0 {
            let literal = &rest[..open];
            if literal.contains('}') {
                return Err("it has a `}` without a matching `{`".to_owned());
            }
            tokens.push(Token::Literal(literal.to_owned()));
        }

        let Some(close) = rest[open..].find('}') else {
            return Err("it has a `{` without a closing `}`".to_owned());
        };
        let name = &rest[open + 1..open + close];
        let Some(known) = SUPPORTED.iter().find(|supported| **supported == name) else {
            return Err(format!(
                "placeholder {{{name}}} is not supported. Supported placeholders are {}",
                SUPPORTED.map(|name| format!("{{{name}}}")).join(", ")
            ));
        };
        tokens.push(Token::Placeholder(known));
        rest = &rest[open + close + 1..];
    }
    Ok(tokens)
}

/// Matches `text` against `tokens` with backtracking; fills `load_id`.
fn match_tokens(
    tokens: &[Token],
    text: &str,
    table_name: &str,
    schema_name: &str,
    load_id: &mut Option<String>,
) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return text.is_empty();
    };

    let fixed = match first {
        Token::Literal(literal) => Some(literal.as_str()),
        Token::Placeholder("table_name") => Some(table_name),
        Token::Placeholder("schema_name") => Some(schema_name),
        Token::Placeholder(_) => None,
    };
    if let Some(fixed) = fixed {
        return text
            .strip_prefix(fixed)
            .is_some_and(|remaining| match_tokens(rest, remaining, table_name, schema_name, load_id));
    }

    let Token::Placeholder(name) = first else {
        unreachable!("literals are handled above")
    };
    let allowed = |c: char| match *name {
        "load_id" => c.is_ascii_digit() || c == '.',
        "file_id" => c.is_ascii_alphanumeric() || c == '_' || c == '-',
        _ => c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.',
    };
    let mut longest = text.find(|c: char| !allowed(c)).unwrap_or(text.len());
    // A dlt load id is Unix time with one decimal point (`1700000000.123`).
    // With a second one, `<load_id>.0000000223.jsonl.gz` would also read as
    // load id `<load_id>.0000000223`, file id `jsonl` and extension `gz`.
    if *name == "load_id"
        && let Some(second_point) = text[..longest].match_indices('.').nth(1).map(|(at, _)| at)
    {
        longest = second_point;
    }

    // Try the longest candidate first, then shorter ones.
    for end in (1..=longest).rev() {
        if !text.is_char_boundary(end) {
            continue;
        }
        if match_tokens(rest, &text[end..], table_name, schema_name, load_id) {
            if *name == "load_id" {
                *load_id = Some(text[..end].to_owned());
            }
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> FileNameParts<'static> {
        FileNameParts {
            table_name: "items",
            schema_name: "shop",
            load_id: "1700000000.123",
            file_id: "4687fd3045",
            ext: "parquet",
        }
    }

    #[test]
    fn default_renders_dlt_name() {
        assert_eq!(Layout::default().render(&parts()), "items/1700000000.123.4687fd3045.parquet");
    }

    #[test]
    fn schema_layout_renders() {
        let layout = Layout::parse("{schema_name}/{table_name}/{load_id}.{file_id}.{ext}").expect("valid layout");
        assert_eq!(layout.render(&parts()), "shop/items/1700000000.123.4687fd3045.parquet");
        assert_eq!(layout.table_folder("items", "shop"), "shop/items");
    }

    #[test]
    fn match_returns_load_id() {
        let layout = Layout::default();
        let load_id = layout.match_table_file("items/1700000000.123.4687fd3045.parquet", "items", "shop");
        assert_eq!(load_id.as_deref(), Some("1700000000.123"));
    }

    #[test]
    fn digit_file_id_keeps_load_id() {
        let layout = Layout::default();
        let load_id = layout.match_table_file("items/1700000000.123.0000000223.jsonl.gz", "items", "shop");
        assert_eq!(load_id.as_deref(), Some("1700000000.123"));
    }

    #[test]
    fn nested_table_not_matched() {
        let layout = Layout::parse("{table_name}.{load_id}.{file_id}.{ext}").expect("valid layout");
        assert_eq!(layout.table_folder("items", "shop"), "");
        let matched = layout.match_table_file("items__tags.1700000000.123.4687fd3045.parquet", "items", "shop");
        assert_eq!(matched, None);
        let own = layout.match_table_file("items.1700000000.123.4687fd3045.parquet", "items", "shop");
        assert_eq!(own.as_deref(), Some("1700000000.123"));
    }

    #[test]
    fn separator_after_table_required() {
        for layout in ["{table_name}{load_id}.{file_id}.{ext}", "{schema_name}/{table_name}{file_id}.{load_id}.{ext}"] {
            let error = Layout::parse(layout).expect_err(layout);
            assert!(error.message().contains("separator"), "{layout}: {error}");
        }
        assert!(Layout::parse("{table_name}.{load_id}.{file_id}.{ext}").is_ok());
    }

    #[test]
    fn unknown_placeholder_rejected() {
        let error = Layout::parse("{table_name}/{curr_date}/{load_id}.{file_id}.{ext}").expect_err("unsupported");
        assert_eq!(error.category, plugin_sdk::ErrorCategory::Config);
        assert!(error.message().contains("{curr_date}"), "{error}");
    }

    #[test]
    fn missing_file_id_rejected() {
        let error = Layout::parse("{table_name}/{load_id}.{ext}").expect_err("file id missing");
        assert!(error.message().contains("{file_id}"), "{error}");
    }

    #[test]
    fn load_id_before_table_rejected() {
        let error = Layout::parse("{load_id}/{table_name}/{file_id}.{ext}").expect_err("wrong order");
        assert!(error.message().contains("before {table_name}"), "{error}");
    }

    #[test]
    fn absolute_layout_rejected() {
        assert!(Layout::parse("/{table_name}/{load_id}.{file_id}.{ext}").is_err());
        assert!(Layout::parse("../{table_name}/{load_id}.{file_id}.{ext}").is_err());
    }
}
