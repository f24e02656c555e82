//! Prints Rust's own full case mappings (`char::to_lowercase`, `char::to_uppercase`) for
//! `airflow-compat/unicode/gen_tables.py`, which compares them with CPython 3.11's `str.lower`/`str.upper` to
//! generate `LOWER_UNCHANGED` and `UPPER_UNCHANGED` in `src/pystr/tables.rs` (see `airflow-compat/unicode/README.md`;
//! run through `scripts/check-unicode-tables.sh`).
//!
//! Only code points whose mapping is not the character itself are listed, one line each, code points in
//! lowercase hex: `lower 130 69 307` says that `'\u{130}'.to_lowercase()` is U+0069 U+0307. A first comment line
//! (`# ...`) gives `char::UNICODE_VERSION`.

use std::io::{self, BufWriter, Write};

fn main() -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    let (major, minor, update) = char::UNICODE_VERSION;
    writeln!(out, "# Rust char::UNICODE_VERSION {major}.{minor}.{update}")?;
    for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
        write_mapping(&mut out, "lower", c, c.to_lowercase())?;
        write_mapping(&mut out, "upper", c, c.to_uppercase())?;
    }
    out.flush()
}

/// Writes `kind <c> <mapped>...` unless `mapped` is just `c`.
fn write_mapping(out: &mut impl Write, kind: &str, c: char, mapped: impl Iterator<Item = char>) -> io::Result<()> {
    let mapped: Vec<char> = mapped.collect();
    if mapped == [c] {
        return Ok(());
    }
    write!(out, "{kind} {:x}", u32::from(c))?;
    for m in mapped {
        write!(out, " {:x}", u32::from(m))?;
    }
    writeln!(out)
}
