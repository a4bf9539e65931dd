//! The text machinery under every describer: upstream's `PrefixWriter`
//! (two spaces per level, terminal escapes neutralised) feeding a port of
//! Go's `text/tabwriter` set up as `tabwriter.Init(buf, 0, 8, 2, ' ', 0)`.

/// Collects describer output; [`Writer::finish`] aligns it.
#[derive(Debug, Default)]
pub struct Writer {
    buf: String,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Writes `s` indented by `level` (two spaces each), escaping ESC and CR
    /// as upstream's `printers.WriteEscaped` does.
    pub fn write(&mut self, level: usize, s: &str) {
        for _ in 0..level {
            self.buf.push_str("  ");
        }
        for c in s.chars() {
            match c {
                '\x1b' => self.buf.push_str("^["),
                '\r' => self.buf.push_str("\\r"),
                c => self.buf.push(c),
            }
        }
    }

    /// `WriteLine`: the text and a newline, no indentation.
    pub fn line(&mut self, s: &str) {
        self.write(0, s);
        self.buf.push('\n');
    }

    /// The aligned text.
    pub fn finish(self) -> String {
        tabwrite(&self.buf, 2)
    }
}

/// One cell: its text and width in runes.
struct Cell<'a> {
    text: &'a str,
    width: usize,
}

/// Aligns tab-terminated cells as Go's tabwriter does (min width 0, pad
/// char space, no flags): a column block is a run of consecutive lines
/// that have a tab-terminated cell in that column; the last cell of a line
/// never takes part.
pub fn tabwrite(text: &str, padding: usize) -> String {
    let lines: Vec<Vec<Cell<'_>>> = text
        .split('\n')
        .map(|l| {
            l.split('\t')
                .map(|t| Cell {
                    text: t,
                    width: t.chars().count(),
                })
                .collect()
        })
        .collect();
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut widths = Vec::new();
    format(&lines, 0, lines.len(), &mut widths, padding, &mut out);
    out
}

fn format(
    lines: &[Vec<Cell<'_>>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut width = 0;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].width + padding);
            this += 1;
        }
        widths.push(width);
        format(lines, line0, this, widths, padding, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(
    lines: &[Vec<Cell<'_>>],
    line0: usize,
    line1: usize,
    widths: &[usize],
    out: &mut String,
) {
    for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
        for (j, c) in line.iter().enumerate() {
            out.push_str(c.text);
            if j < widths.len() {
                for _ in c.width..widths[j] {
                    out.push(' ');
                }
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_align_separately() {
        let got = tabwrite(
            "Name:\tx\nNamespace:\tdefault\nEvents:\n  a\tbb\tc\n  ddd\te\tf\n",
            2,
        );
        assert_eq!(
            got,
            "Name:       x\nNamespace:  default\nEvents:\n  a    bb  c\n  ddd  e   f\n"
        );
    }

    #[test]
    fn nested_columns_end_with_short_lines() {
        // The second line has no second column; the block of column 1 is
        // the first line alone.
        let got = tabwrite("a\tb\tc\naa\tb\n", 2);
        assert_eq!(got, "a   b  c\naa  b\n");
    }

    #[test]
    fn escapes_terminal_controls() {
        let mut w = Writer::new();
        w.write(1, "x\x1b[1m\r\n");
        assert_eq!(w.finish(), "  x^[[1m\\r\n");
    }
}
