//! A check that a plugin library is not cut short, before `dlopen` maps it.
//!
//! glibc's `dlopen` maps the segments that a library's program headers
//! describe. When the file is shorter, as after an interrupted copy, reading
//! the missing pages kills the process with SIGBUS, without a message.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::PluginLoadError;

/// Size of a 64-bit ELF header, in bytes.
const HEADER_BYTES: usize = 64;

/// Size of one 64-bit program header, in bytes.
const PROGRAM_HEADER_BYTES: u64 = 56;

/// `p_type` of a segment that `dlopen` maps from the file.
const PT_LOAD: u32 = 1;

/// Fails when the file at `path` is a 64-bit little-endian ELF file whose
/// headers or loadable segments reach past its end. Other files pass, so
/// that `dlopen` reports what they are.
pub(super) fn check_not_truncated(path: &Path) -> Result<(), PluginLoadError> {
    let cut_short = |needed: u64, size: u64| PluginLoadError::Open {
        path: path.to_path_buf(),
        message: format!(
            "the file is cut short: its ELF headers describe {needed} bytes, but it has {size}; copy the library again"
        ),
    };
    let Ok(mut file) = File::open(path) else {
        return Ok(());
    };
    let Ok(size) = file.metadata().map(|metadata| metadata.len()) else {
        return Ok(());
    };
    let mut header = [0u8; HEADER_BYTES];
    if file.read_exact(&mut header).is_err() || &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Ok(());
    }

    let program_headers = read_u64(&header, 0x20);
    let section_headers = read_u64(&header, 0x28);
    let program_header_count = u64::from(read_u16(&header, 0x38));
    let section_header_bytes = u64::from(read_u16(&header, 0x3A)) * u64::from(read_u16(&header, 0x3C));
    let program_table_end = program_headers.saturating_add(program_header_count * PROGRAM_HEADER_BYTES);
    let section_table_end = section_headers.saturating_add(section_header_bytes);
    for end in [program_table_end, section_table_end] {
        if end > size {
            return Err(cut_short(end, size));
        }
    }

    // The program header table is inside the file, as checked above.
    let mut table = vec![0u8; (program_header_count * PROGRAM_HEADER_BYTES) as usize];
    let read_table = std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(program_headers)).and_then(|_| file.read_exact(&mut table));
    if read_table.is_err() {
        return Ok(());
    }
    for entry in table.chunks_exact(PROGRAM_HEADER_BYTES as usize) {
        let segment_type = u32::from_le_bytes(entry[0..4].try_into().expect("4 bytes"));
        let segment_end = read_u64(entry, 0x08).saturating_add(read_u64(entry, 0x20));
        if segment_type == PT_LOAD && segment_end > size {
            return Err(cut_short(segment_end, size));
        }
    }
    Ok(())
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(bytes[at..at + 2].try_into().expect("2 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the test binary's own executable, an ELF file of the same kind
    /// as the plugin libraries of this build.
    fn own_executable() -> Vec<u8> {
        std::fs::read(std::env::current_exe().unwrap()).unwrap()
    }

    #[test]
    fn whole_file_passes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("whole.so");
        std::fs::write(&path, own_executable()).unwrap();

        assert!(check_not_truncated(&path).is_ok());
    }

    #[test]
    fn cut_file_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.so");
        let bytes = own_executable();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();

        let error = check_not_truncated(&path).unwrap_err().to_string();

        assert!(error.contains("the file is cut short"), "{error}");
        assert!(error.contains("cut.so"), "{error}");
    }

    #[test]
    fn other_files_pass() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text.so");
        std::fs::write(&path, "not a library").unwrap();

        assert!(check_not_truncated(&path).is_ok());
    }
}
