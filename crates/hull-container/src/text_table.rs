//! Text in columns as Go's text/tabwriter lays it out, which runc uses for
//! `list` and its help: the same widths, so that scripts cutting columns
//! by position read hull's output as runc's.

/// Go's text/tabwriter (no flags, space padding): a tab ends a cell; the
/// cells of one column in consecutive lines that have that column are
/// padded to the widest plus `padding`, and at least `min_width`; the last
/// cell of a line is not padded.
pub fn tabwrite(text: &str, min_width: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let columns = lines.iter().map(|l| l.len() - 1).max().unwrap_or(0);
    // widths[line][col], for the cells that end in a tab.
    let mut widths: Vec<Vec<usize>> = lines.iter().map(|l| vec![0; l.len() - 1]).collect();
    for col in 0..columns {
        let mut line = 0;
        while line < lines.len() {
            if lines[line].len() <= col + 1 {
                line += 1;
                continue;
            }
            let start = line;
            let mut w = min_width;
            while line < lines.len() && lines[line].len() > col + 1 {
                w = w.max(lines[line][col].chars().count() + padding);
                line += 1;
            }
            for row in &mut widths[start..line] {
                row[col] = w;
            }
        }
    }
    let mut out = String::with_capacity(text.len() + 256);
    for (i, cells) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for (col, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = widths[i].get(col) {
                let pad = w.saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::tabwrite;

    #[test]
    fn tabwriter_aligns_blocks_of_consecutive_lines() {
        let t = "a\tone\nlonger\ttwo\n\nx\tthree";
        assert_eq!(tabwrite(t, 1, 2), "a       one\nlonger  two\n\nx  three");
        // runc's list: minimum width 12, padding 3, the last cell as is.
        let t = "ID\tPID\tOWNER\nabc\t1\t";
        assert_eq!(
            tabwrite(t, 12, 3),
            "ID          PID         OWNER\nabc         1           "
        );
    }
}
