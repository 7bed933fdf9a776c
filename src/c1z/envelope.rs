//! The envelope of a `.c1z` file: the magic bytes that tell its format.

/// The first bytes of a v1 file (SQLite inside zstd).
pub const MAGIC_V1: &[u8; 5] = b"C1ZF\0";
/// The first bytes of a v3 file (a Pebble checkpoint), which this crate does not read.
pub const MAGIC_V3: &[u8; 5] = b"C1Z3\0";

/// Reads until `buf` is full or the input ends; returns how much was read.
pub(super) fn read_up_to(mut input: impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
