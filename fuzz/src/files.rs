//! A folder of files packed into one fuzz input.
//!
//! Each file starts with a header line `=== <relative path>`. Its content
//! runs to the newline before the next header line or to the end of the
//! input, and bytes before the first header are ignored. `fuzz/seeds/collect.sh`
//! packs real working directories this way, so the seeds stay readable and
//! most of libFuzzer's mutations keep the layout intact.

use std::path::{Component, Path, PathBuf};

/// Marks the start of a file's header line.
const HEADER: &[u8] = b"=== ";

/// Maximum number of files written per input, so that one input cannot fill
/// the disk with empty files.
const MAX_FILES: usize = 64;

/// One file of a packed folder.
#[derive(Debug, PartialEq, Eq)]
pub struct PackedFile<'a> {
    pub path: PathBuf,
    pub content: &'a [u8],
}

/// Splits a packed folder into its files. Headers whose path is empty,
/// absolute, not UTF-8 or contains a `..` component are skipped with
/// their content, so no file lands outside the target folder.
pub fn split(data: &[u8]) -> Vec<PackedFile<'_>> {
    let mut starts: Vec<usize> = Vec::new();
    if data.starts_with(HEADER) {
        starts.push(0);
    }
    let mut offset = 0;
    while let Some(found) = find(&data[offset..], b"\n=== ") {
        starts.push(offset + found + 1);
        offset += found + 1;
    }

    let mut files = Vec::new();
    for (index, &start) in starts.iter().enumerate() {
        // The newline before the next header belongs to the separator.
        let end = starts.get(index + 1).map_or(data.len(), |next| next - 1);
        let section = &data[start + HEADER.len()..end];
        let (header, content) = match section.iter().position(|&byte| byte == b'\n') {
            Some(newline) => (&section[..newline], &section[newline + 1..]),
            None => (section, &section[section.len()..]),
        };
        if let Some(path) = safe_relative_path(header) {
            files.push(PackedFile { path, content });
        }
        if files.len() == MAX_FILES {
            break;
        }
    }
    files
}

/// Writes each file below `root`, creating folders on the way. A file whose
/// path collides with another (a folder of the same name) is skipped.
pub fn write_all(root: &Path, files: &[PackedFile<'_>]) {
    for file in files {
        let path = root.join(&file.path);
        if let Some(parent) = path.parent()
            && std::fs::create_dir_all(parent).is_err()
        {
            continue;
        }
        let _ = std::fs::write(&path, file.content);
    }
}

fn safe_relative_path(header: &[u8]) -> Option<PathBuf> {
    let text = std::str::from_utf8(header).ok()?.trim_end_matches('\r');
    let path = Path::new(text);
    let all_normal = path.components().all(|component| matches!(component, Component::Normal(_)));
    (!text.is_empty() && all_normal).then(|| path.to_path_buf())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_reads_paths_and_contents() {
        let files = split(b"=== a/b.json\n{\"x\": 1}\n=== c\n\n=== d\nline 1\nline 2\n");

        let paths: Vec<&Path> = files.iter().map(|file| file.path.as_path()).collect();
        assert_eq!(paths, [Path::new("a/b.json"), Path::new("c"), Path::new("d")]);
        assert_eq!(files[0].content, b"{\"x\": 1}");
        assert_eq!(files[1].content, b"");
        assert_eq!(files[2].content, b"line 1\nline 2\n");
    }

    #[test]
    fn split_skips_unsafe_paths() {
        let files = split(b"=== ../x\n1\n=== /etc/y\n2\n=== a/../b\n3\n=== \n4\n=== ok\n5");

        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, Path::new("ok"));
        assert_eq!(files[0].content, b"5");
    }
}
