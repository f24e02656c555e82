//! The table `airflow connections get -o plain` prints: Airflow's `AirflowConsole.print_as_plain_table`,
//! `tabulate(rows, tablefmt="plain", headers=...)` (python-tabulate 0.10) followed by `print`.
//!
//! Reproduced: column type deduction (`None`/`""` are missing, `"True"`/`"False"` are booleans, strings that
//! Python's `int()`/`float()` accept are numbers, thousands separators), number formatting (`format(float,
//! "g")`: `"1e5"` prints `100000`), alignment (numbers right, text left and `str.strip()`-ed), the minimum
//! width of header + 2, two spaces between columns, `rstrip()` of every line, and multi-line cells. Known
//! gaps, documented in docs/airflow-compatibility.md: non-ASCII digits are not treated as numbers, ANSI
//! escape sequences are measured as visible text, and widths are code-point counts (tabulate without the
//! optional `wcwidth` package).

/// A cell value as `_normalize_data` leaves it for the plain format.
pub enum Cell {
    /// `None`: printed as the empty string.
    Missing,
    /// A string (every non-container value has been through `str()`).
    Text(String),
    /// A container (dict or list), printed with `str()` and never a number.
    Container(String),
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ColType {
    None,
    Bool,
    Int,
    Float,
    Str,
}

/// Renders a header row and the data rows, newline-terminated (`No data found` without rows).
pub fn render(headers: &[&str], rows: &[Vec<Cell>]) -> String {
    let n = rows.iter().map(Vec::len).fold(headers.len(), usize::min);
    if n == 0 || rows.is_empty() {
        return "No data found\n".to_owned();
    }
    let headers = &headers[..n];
    let is_multiline = rows.iter().flat_map(|r| &r[..n]).any(|c| match c {
        Cell::Text(s) | Cell::Container(s) => s.contains(['\r', '\n']),
        Cell::Missing => false,
    }) || headers.iter().any(|h| h.contains(['\r', '\n']));
    let width_fn = |s: &str| if is_multiline { s.split(['\r', '\n']).map(len).max().unwrap_or(0) } else { len(s) };

    // Column by column, as `tabulate` aligns them: (the padded header, each row's padded lines).
    let mut columns: Vec<(String, Vec<Vec<String>>)> = Vec::with_capacity(n);
    for (i, header) in headers.iter().enumerate() {
        let cells: Vec<&Cell> = rows.iter().map(|r| &r[i]).collect();
        // `_column_type`: the most generic type of the column, starting from bool.
        let col_type = cells.iter().map(|c| cell_type(c)).fold(ColType::Bool, ColType::max);
        let numeric = matches!(col_type, ColType::Int | ColType::Float);
        let texts: Vec<String> = cells.iter().map(|c| format_cell(c, col_type)).collect();
        // `_align_column_choose_padfn`: "decimal" (numeric) columns are padded on the right so their points
        // line up, text columns are stripped.
        let texts: Vec<String> = if numeric {
            let decimals: Vec<isize> = texts.iter().map(|t| after_point(t)).collect();
            let max_decimals = decimals.iter().copied().max().unwrap_or(-1);
            texts
                .iter()
                .zip(&decimals)
                .map(|(t, d)| format!("{t}{}", " ".repeat(usize::try_from(max_decimals - d).unwrap_or(0))))
                .collect()
        } else {
            texts.iter().map(|t| py_strip(t).to_owned()).collect()
        };
        let width = texts.iter().map(|t| width_fn(t)).fold(len(header) + 2, usize::max);
        let pad = |s: &str| if numeric { pad_left(s, width) } else { pad_right(s, width) };
        let lines = texts
            .iter()
            .map(|t| if is_multiline { py_splitlines(t).iter().map(|l| pad(l)).collect() } else { vec![pad(t)] })
            .collect();
        columns.push((pad(header), lines));
    }
    let mut lines = vec![columns.iter().map(|(h, _)| h.as_str()).collect::<Vec<_>>().join("  ")];
    for r in 0..rows.len() {
        let height = columns.iter().map(|(_, cells)| cells[r].len()).max().unwrap_or(1);
        for i in 0..height {
            let parts: Vec<String> = columns
                .iter()
                .map(|(h, cells)| cells[r].get(i).cloned().unwrap_or_else(|| " ".repeat(len(h))))
                .collect();
            lines.push(parts.join("  "));
        }
    }
    let lines: Vec<&str> = lines.iter().map(|l| l.trim_end_matches(is_py_space)).collect();
    format!("{}\n", lines.join("\n"))
}

/// tabulate's `_afterpoint`: the digits after the decimal point (or after the exponent's `e`) of a number, -1
/// for an integer or for text that is not a number.
fn after_point(s: &str) -> isize {
    if !(py_number(s) || thousands_number(s)) || py_int(s) {
        return -1;
    }
    let chars: Vec<char> = s.chars().collect();
    let at = chars.iter().rposition(|c| *c == '.').or_else(|| chars.iter().rposition(|c| c.eq_ignore_ascii_case(&'e')));
    at.map_or(-1, |p| isize::try_from(chars.len() - p - 1).unwrap_or(0))
}

/// `_type(value)` with `numparse=True`.
fn cell_type(cell: &Cell) -> ColType {
    match cell {
        Cell::Missing => ColType::None,
        Cell::Container(_) => ColType::Str,
        Cell::Text(s) if s.is_empty() => ColType::None,
        Cell::Text(s) if s == "True" || s == "False" => ColType::Bool,
        Cell::Text(s) => {
            if py_int(s) || (thousands_number(s) && !s.contains('.')) {
                ColType::Int
            } else if py_number(s) || thousands_number(s) {
                ColType::Float
            } else {
                ColType::Str
            }
        }
    }
}

/// `_format(value, coltype, "g", "")`.
fn format_cell(cell: &Cell, col_type: ColType) -> String {
    match cell {
        Cell::Missing => String::new(),
        Cell::Container(s) => s.clone(),
        Cell::Text(s) if col_type == ColType::Float => {
            let cleaned = s.replace(',', "");
            py_float(&cleaned).map_or_else(|| s.clone(), format_g)
        }
        Cell::Text(s) => s.clone(),
    }
}

fn len(s: &str) -> usize {
    s.chars().count()
}

fn pad_left(s: &str, width: usize) -> String {
    format!("{}{s}", " ".repeat(width.saturating_sub(len(s))))
}

fn pad_right(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(len(s))))
}

/// Python's `str.isspace()` for one character.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\x1c'..='\x1f')
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python's `str.splitlines()`.
fn py_splitlines(s: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut current));
            }
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                lines.push(std::mem::take(&mut current));
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Digits with single underscores between them, as Python's numeric literals allow in `int()`/`float()`.
fn digits_with_underscores(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_digit() || c == '_')
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
}

/// Python's `int(s)` succeeds (ASCII digits only; Python also accepts other Unicode decimal digits).
fn py_int(s: &str) -> bool {
    let t = py_strip(s);
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    digits_with_underscores(t) && t.chars().filter(char::is_ascii_digit).count() <= 4300
}

/// Python's `float(s)`, for the forms that matter here.
fn py_float(s: &str) -> Option<f64> {
    let t = py_strip(s);
    let (sign, body) = match t.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, t.strip_prefix('+').unwrap_or(t)),
    };
    let lower = body.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    let (mantissa, exponent) = match lower.find('e') {
        Some(i) => (&lower[..i], Some(&lower[i + 1..])),
        None => (lower.as_str(), None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let int_ok = int_part.is_empty() || digits_with_underscores(int_part);
    let frac_ok = frac_part.is_none_or(|f| f.is_empty() || digits_with_underscores(f));
    let has_digits = !int_part.is_empty() || frac_part.is_some_and(|f| !f.is_empty());
    let exp_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        digits_with_underscores(e)
    });
    if !(int_ok && frac_ok && has_digits && exp_ok) {
        return None;
    }
    lower.replace('_', "").parse::<f64>().ok().map(|v| sign * v)
}

/// tabulate's `_isnumber`: `float()` works, and an infinite or NaN result is only accepted for the exact
/// spellings `inf`, `-inf` and `nan` (any case).
fn py_number(s: &str) -> bool {
    match py_float(s) {
        Some(v) if v.is_finite() => true,
        Some(_) => matches!(s.to_lowercase().as_str(), "inf" | "-inf" | "nan"),
        None => false,
    }
}

/// tabulate's `_isnumber_with_thousands_separator`: `^(([+-]?[0-9]{1,3})(?:,([0-9]{3}))*)?(?(1)\.[0-9]*|\.[0-9]+)?$`
/// with at least one comma-separated group or a decimal part.
///
/// Python's `$` also matches before a final `\n`, and every part of the pattern is optional, so `""` and
/// `"\n"` match too (a `"\n"` cell is therefore an integer column in Airflow's output).
fn thousands_number(s: &str) -> bool {
    let s = s.strip_suffix('\n').unwrap_or(s);
    if s.is_empty() {
        return true;
    }
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int_part, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    if frac.is_some_and(|f| !f.chars().all(|c| c.is_ascii_digit())) {
        return false;
    }
    let signed = t.len() != s.len();
    if int_part.is_empty() {
        // Without an integer part the decimal part must have digits, and no sign is allowed.
        return !signed && frac.is_some_and(|f| !f.is_empty());
    }
    let mut groups = int_part.split(',');
    let first = groups.next().unwrap_or("");
    if first.is_empty() || first.len() > 3 || !first.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    groups.all(|g| g.len() == 3 && g.chars().all(|c| c.is_ascii_digit()))
}

/// Python's `format(value, "g")`.
fn format_g(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    const PRECISION: i32 = 6;
    let sci = format!("{value:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..PRECISION).contains(&exp) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = usize::try_from(PRECISION - 1 - exp).unwrap_or(0);
        trim_fraction(&format!("{value:.decimals$}")).to_owned()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_g_format() {
        assert_eq!(format_g(100_000.0), "100000");
        assert_eq!(format_g(1_000_000.0), "1e+06");
        assert_eq!(format_g(1.5), "1.5");
        assert_eq!(format_g(0.0001), "0.0001");
        assert_eq!(format_g(0.00001), "1e-05");
        assert_eq!(format_g(123_456_789.0), "1.23457e+08");
        assert_eq!(format_g(1.234_567_89), "1.23457");
    }

    #[test]
    fn numeric_detection() {
        assert!(py_int(" 12 ") && py_int("1_000") && py_int("-5") && !py_int("1__0") && !py_int("1.0"));
        assert_eq!(py_float("1e5"), Some(100_000.0));
        assert_eq!(py_float(".5"), Some(0.5));
        assert_eq!(py_float("5."), Some(5.0));
        assert_eq!(py_float("e5"), None);
        assert_eq!(py_float("1.2.3"), None);
        assert!(py_number("NaN") && !py_number("infinity") && !py_number("1e999"));
        assert!(thousands_number("1,000") && thousands_number("1,000.5") && !thousands_number("1,0000"));
        assert!(thousands_number(".5") && !thousands_number(".") && !thousands_number("1,000x"));
        assert!(thousands_number("\n") && thousands_number("1,000\n") && !thousands_number("1,000\n\n"));
    }
}
