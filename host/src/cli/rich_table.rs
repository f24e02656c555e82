//! The table `airflow connections get -o table` prints: Airflow's `AirflowConsole.print_as_table`, a `rich`
//! `Table` (`SimpleTable`: box `ASCII_DOUBLE_HEAD`, no edge, no edge padding, caption `" "`) printed on a
//! console 200 cells wide (Airflow fixes the width to 200 when stdout is not a terminal, which is how the
//! recorded fixture was produced: its wrapped table is exactly 200 cells wide).
//!
//! Reproduced from rich 15: console markup in cell text (`[bold]x[/]` prints `x`, `\[` escapes), removal of
//! the control codes rich strips (BEL, BS, VT, FF, CR), column measurement, the column-collapsing algorithm
//! used when the table is wider than the console (`_collapse_widths`, `ratio_reduce` with Python's
//! banker's rounding), word wrapping with folding of long words (`divide_line`), tab expansion, and the
//! blank caption line as wide as the table. Known gaps, documented in docs/airflow-compatibility.md: emoji
//! codes (`:smile:`) are not replaced, widths of non-ASCII characters come from Unicode East Asian Width
//! rather than rich's own tables and grapheme clustering, and text that rich rejects as invalid markup
//! (Airflow crashes with `MarkupError`) is printed verbatim.

use unicode_width::UnicodeWidthChar;

/// The console width Airflow's `AirflowConsole` uses when stdout is not a terminal.
pub const CONSOLE_WIDTH: usize = 200;

/// Tab stops of `Text.expand_tabs` in `Text.wrap`.
const TAB_SIZE: usize = 8;

/// Renders a header row and the data rows as `AirflowConsole.print_as_table` prints them, newline-terminated
/// (`No data found` without rows).
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).fold(headers.len(), usize::min);
    if n == 0 || rows.is_empty() {
        return "No data found\n".to_owned();
    }
    let header_text: Vec<String> = headers[..n].iter().map(|h| cell_text(h)).collect();
    let rows_text: Vec<Vec<String>> = rows.iter().map(|row| row[..n].iter().map(|c| cell_text(c)).collect()).collect();
    let padding: Vec<(usize, usize)> = (0..n)
        .map(|i| {
            let left = if i == 0 { 0 } else { 1 };
            let right = if i + 1 == n { 0 } else { 1 };
            (left, right)
        })
        .collect();
    // Table._extra_width: one divider between columns, no edges.
    let max_width = CONSOLE_WIDTH.saturating_sub(n - 1);
    let measured: Vec<&Vec<String>> = std::iter::once(&header_text).chain(&rows_text).collect();
    let widths = column_widths(&measured, &padding, max_width);

    let mut out = String::new();
    render_row(&mut out, &header_text, &widths, &padding, true);
    let rule: Vec<String> = widths.iter().map(|w| "=".repeat(*w)).collect();
    out.push_str(&rule.join("+"));
    out.push('\n');
    for row in &rows_text {
        render_row(&mut out, row, &widths, &padding, false);
    }
    let table_width = widths.iter().sum::<usize>() + (n - 1);
    out.push_str(&" ".repeat(table_width));
    out.push('\n');
    out
}

/// `Table._calculate_column_widths` for a non-expanding table of flexible, wrappable columns.
fn column_widths(rows: &[&Vec<String>], padding: &[(usize, usize)], max_width: usize) -> Vec<usize> {
    let n = padding.len();
    let mut widths: Vec<usize> = (0..n)
        .map(|i| {
            let (left, right) = padding[i];
            let extra = left + right;
            let measured = rows
                .iter()
                .map(|r| if max_width < 1 + extra { max_width } else { (max_line_width(&r[i]) + extra).min(max_width) })
                .max()
                .unwrap_or(max_width)
                .min(max_width);
            if measured == 0 { 1 } else { measured }
        })
        .collect();
    if widths.iter().sum::<usize>() > max_width {
        widths = collapse_widths(widths, max_width);
        let total: usize = widths.iter().sum();
        if total > max_width {
            let excess = total - max_width;
            let ratios = vec![1; n];
            let maximums = widths.clone();
            widths = ratio_reduce(excess, &ratios, &maximums, &widths);
        }
    }
    widths
}

/// `Table._collapse_widths` with every column wrappable.
fn collapse_widths(mut widths: Vec<usize>, max_width: usize) -> Vec<usize> {
    let mut total: usize = widths.iter().sum();
    while total > 0 && total > max_width {
        let excess = total - max_width;
        let max_column = widths.iter().copied().max().unwrap_or(0);
        let second = widths.iter().copied().filter(|w| *w != max_column).max().unwrap_or(0);
        let difference = max_column - second;
        let ratios: Vec<usize> = widths.iter().map(|w| usize::from(*w == max_column)).collect();
        if difference == 0 || ratios.iter().all(|r| *r == 0) {
            break;
        }
        let maximums = vec![excess.min(difference); widths.len()];
        widths = ratio_reduce(excess, &ratios, &maximums, &widths);
        total = widths.iter().sum();
    }
    widths
}

/// rich's `ratio_reduce`, with Python's `round()` (half to even).
fn ratio_reduce(total: usize, ratios: &[usize], maximums: &[usize], values: &[usize]) -> Vec<usize> {
    let ratios: Vec<usize> = ratios.iter().zip(maximums).map(|(r, m)| if *m == 0 { 0 } else { *r }).collect();
    let mut total_ratio: usize = ratios.iter().sum();
    if total_ratio == 0 {
        return values.to_vec();
    }
    let mut remaining = total;
    let mut result = Vec::with_capacity(values.len());
    for ((ratio, maximum), value) in ratios.iter().zip(maximums).zip(values) {
        if *ratio > 0 && total_ratio > 0 {
            #[expect(clippy::cast_precision_loss, reason = "table widths are small integers")]
            let share = (*ratio * remaining) as f64 / total_ratio as f64;
            #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a small non-negative value")]
            let rounded = share.round_ties_even() as usize;
            let distributed = (*maximum).min(rounded);
            result.push(value.saturating_sub(distributed));
            remaining = remaining.saturating_sub(distributed);
            total_ratio -= ratio;
        } else {
            result.push(*value);
        }
    }
    result
}

/// One row; cells shorter than the row are aligned to the top, or to the bottom in the header row (rich's
/// `align_cell`).
fn render_row(out: &mut String, cells: &[String], widths: &[usize], padding: &[(usize, usize)], header: bool) {
    let rendered: Vec<Vec<String>> = cells
        .iter()
        .zip(widths)
        .zip(padding)
        .map(|((text, width), (left, right))| {
            let inner = width.saturating_sub(left + right);
            wrap(text, inner)
                .into_iter()
                .map(|line| format!("{}{}{}", " ".repeat(*left), pad_to(&line, inner), " ".repeat(*right)))
                .collect()
        })
        .collect();
    let height = rendered.iter().map(Vec::len).max().unwrap_or(1);
    for line in 0..height {
        let parts: Vec<String> = rendered
            .iter()
            .zip(widths)
            .map(|(lines, width)| {
                let index = if header { (line + lines.len()).checked_sub(height) } else { Some(line) };
                index.and_then(|i| lines.get(i)).cloned().unwrap_or_else(|| " ".repeat(*width))
            })
            .collect();
        out.push_str(&parts.join("|"));
        out.push('\n');
    }
}

/// The text of a cell as rich renders a `str`: console markup applied, control codes stripped.
fn cell_text(s: &str) -> String {
    let text = render_markup(s).unwrap_or_else(|_| s.to_owned());
    text.chars().filter(|c| !matches!(c, '\x07' | '\x08' | '\x0b' | '\x0c' | '\r')).collect()
}

/// The markup cannot be parsed (rich raises `MarkupError`).
struct MarkupError;

/// `rich.markup.render`, keeping only the text: tags `[name]`/`[/name]`/`[/]` are removed, `\[` escapes.
fn render_markup(markup: &str) -> Result<String, MarkupError> {
    if !markup.contains('[') {
        return Ok(markup.to_owned());
    }
    let chars: Vec<char> = markup.chars().collect();
    let mut text = String::new();
    let mut stack: Vec<String> = Vec::new();
    let mut position = 0;
    let mut scan = 0;
    let plain = |text: &mut String, s: &[char]| {
        let s: String = s.iter().collect();
        text.push_str(&s.replace("\\[", "["));
    };
    while scan < chars.len() {
        let Some((start, escapes, tag_start, end)) = match_tag(&chars, scan) else {
            scan += 1;
            continue;
        };
        if start > position {
            plain(&mut text, &chars[position..start]);
        }
        let backslashes = escapes / 2;
        text.push_str(&"\\".repeat(backslashes));
        if escapes % 2 == 1 {
            plain(&mut text, &chars[tag_start..end]);
        } else {
            let tag: String = chars[tag_start + 1..end - 1].iter().collect();
            let name = tag.split_once('=').map_or(tag.as_str(), |(name, _)| name);
            if let Some(closing) = name.strip_prefix('/') {
                let closing = normalize_style(closing);
                if closing.is_empty() {
                    stack.pop().ok_or(MarkupError)?;
                } else {
                    let index = stack.iter().rposition(|open| *open == closing).ok_or(MarkupError)?;
                    stack.remove(index);
                }
            } else {
                stack.push(normalize_style(name));
            }
        }
        position = end;
        scan = end;
    }
    if position < chars.len() {
        plain(&mut text, &chars[position..]);
    }
    Ok(text)
}

/// `Style.normalize`, approximated: rich canonicalises parseable style definitions; case and surrounding or
/// repeated whitespace are the differences that matter for matching a closing tag.
fn normalize_style(style: &str) -> String {
    style.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// `RE_TAGS = ((\\*)\[([a-z#/@][^[]*?)])` matched at `at`: (start, number of backslashes, index of `[`,
/// end of the match).
fn match_tag(chars: &[char], at: usize) -> Option<(usize, usize, usize, usize)> {
    let mut i = at;
    while chars.get(i) == Some(&'\\') {
        i += 1;
    }
    if chars.get(i) != Some(&'[') {
        return None;
    }
    let bracket = i;
    let first = *chars.get(i + 1)?;
    if !(first.is_ascii_lowercase() || matches!(first, '#' | '/' | '@')) {
        return None;
    }
    let mut j = i + 2;
    while let Some(&c) = chars.get(j) {
        match c {
            ']' => return Some((at, bracket - at, bracket, j + 1)),
            '[' => return None,
            _ => j += 1,
        }
    }
    None
}

/// rich's cell width of one character: 0 for C0/C1 control codes, else its terminal width.
fn char_width(c: char) -> usize {
    let code = u32::from(c);
    if (code != 0 && code < 32) || (0x7f..0xa0).contains(&code) {
        return 0;
    }
    if c.is_ascii() {
        return 1;
    }
    c.width().unwrap_or(0)
}

fn cell_len(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `Text.__rich_measure__`'s maximum: the widest of Python's `str.splitlines()`.
fn max_line_width(s: &str) -> usize {
    s.split(is_python_line_break).map(cell_len).max().unwrap_or(0)
}

fn is_python_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Python's `str.isspace()` / regex `\s` for `str` patterns.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\x1c'..='\x1f')
}

/// `Text.wrap(console, width)` with `justify="default"` and `overflow="fold"`: the lines of one cell.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for line in text.split('\n') {
        let line = expand_tabs(line);
        let chars: Vec<char> = line.chars().collect();
        let breaks = divide_line(&chars, width);
        let mut start = 0;
        for end in breaks.into_iter().chain(std::iter::once(chars.len())) {
            let piece: String = chars[start..end].iter().collect();
            lines.push(crop(&rstrip_end(&piece, width), width));
            start = end;
        }
    }
    lines
}

/// `Text.expand_tabs(8)`.
fn expand_tabs(line: &str) -> String {
    if !line.contains('\t') {
        return line.to_owned();
    }
    let mut out = String::new();
    let mut cells = 0;
    for c in line.chars() {
        if c == '\t' {
            let spaces = TAB_SIZE - cells % TAB_SIZE;
            out.push_str(&" ".repeat(spaces));
            cells += spaces;
        } else {
            out.push(c);
            cells += char_width(c);
        }
    }
    out
}

/// rich's `divide_line(text, width, fold=True)`: character offsets at which to break.
fn divide_line(chars: &[char], width: usize) -> Vec<usize> {
    let mut breaks = Vec::new();
    let mut cell_offset = 0usize;
    for (start, end) in words(chars) {
        let word = &chars[start..end];
        let trimmed_end = word.iter().rposition(|c| !is_py_space(*c)).map_or(0, |p| p + 1);
        let word_length: usize = word[..trimmed_end].iter().map(|c| char_width(*c)).sum();
        let full_length: usize = word.iter().map(|c| char_width(*c)).sum();
        let remaining = width as isize - cell_offset as isize;
        if remaining >= word_length as isize {
            cell_offset += full_length;
        } else if word_length > width {
            let folded = chop_cells(word, width);
            let mut piece_start = start;
            let last_index = folded.len().saturating_sub(1);
            for (i, piece) in folded.iter().enumerate() {
                if piece_start > 0 {
                    breaks.push(piece_start);
                }
                if i == last_index {
                    cell_offset = piece.iter().map(|c| char_width(*c)).sum();
                } else {
                    piece_start += piece.len();
                }
            }
        } else if cell_offset > 0 && start > 0 {
            breaks.push(start);
            cell_offset = full_length;
        }
    }
    breaks
}

/// The matches of `\s*\S+\s*`, as (start, end) character offsets.
fn words(chars: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        let mut j = i;
        while j < chars.len() && is_py_space(chars[j]) {
            j += 1;
        }
        if j == chars.len() {
            return out;
        }
        while j < chars.len() && !is_py_space(chars[j]) {
            j += 1;
        }
        while j < chars.len() && is_py_space(chars[j]) {
            j += 1;
        }
        out.push((start, j));
        i = j;
    }
}

/// `chop_cells`: split into pieces at most `width` cells wide.
fn chop_cells(word: &[char], width: usize) -> Vec<&[char]> {
    if width == 0 {
        return vec![word];
    }
    let mut pieces = Vec::new();
    let mut line_start = 0;
    let mut size = 0;
    for (i, c) in word.iter().enumerate() {
        let w = char_width(*c);
        if size + w > width && i > line_start {
            pieces.push(&word[line_start..i]);
            line_start = i;
            size = 0;
        }
        size += w;
    }
    if line_start < word.len() {
        pieces.push(&word[line_start..]);
    }
    pieces
}

/// `Text.rstrip_end(width)`: drop trailing whitespace that goes beyond `width`.
fn rstrip_end(line: &str, width: usize) -> String {
    let len = cell_len(line);
    if len <= width {
        return line.to_owned();
    }
    let chars: Vec<char> = line.chars().collect();
    let whitespace = chars.iter().rev().take_while(|c| is_py_space(**c)).count();
    let excess = len - width;
    let remove = whitespace.min(excess);
    chars[..chars.len() - remove].iter().collect()
}

/// `set_cell_size` cropping: keep at most `width` cells.
fn crop(line: &str, width: usize) -> String {
    let mut out = String::new();
    let mut size = 0;
    for c in line.chars() {
        let w = char_width(c);
        if size + w > width {
            break;
        }
        size += w;
        out.push(c);
    }
    out
}

/// Pads with spaces to `width` cells.
fn pad_to(line: &str, width: usize) -> String {
    let len = cell_len(line);
    if len >= width { line.to_owned() } else { format!("{line}{}", " ".repeat(width - len)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_rendered_like_rich() {
        let r = |s: &str| render_markup(s).ok();
        assert_eq!(r("[bold]pa[/bold]ss").as_deref(), Some("pass"));
        assert_eq!(r("[red]x[/]y").as_deref(), Some("xy"));
        assert_eq!(r("a[1]b").as_deref(), Some("a[1]b"));
        assert_eq!(r("\\[bold]x").as_deref(), Some("[bold]x"));
        assert_eq!(r("\\\\[bold]x").as_deref(), Some("\\x"));
        assert_eq!(r("[b]x[/i]"), None);
        assert_eq!(r("[/]"), None);
        assert_eq!(cell_text("[/]\r"), "[/]");
    }

    #[test]
    fn wrapping_folds_long_words_and_breaks_at_spaces() {
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("ab cd ef", 5), ["ab cd", "ef"]);
        assert_eq!(wrap("a\n\nb", 5), ["a", "", "b"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("a\tb", 20), ["a       b"]);
    }

    #[test]
    fn ratio_reduce_rounds_half_to_even() {
        assert_eq!(ratio_reduce(3, &[1, 1], &[3, 3], &[10, 10]), [8, 9]);
        assert_eq!(ratio_reduce(5, &[1, 1], &[5, 5], &[10, 10]), [8, 7]);
    }
}
