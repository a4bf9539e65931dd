//! YAML as upstream kubectl prints it: JSON turned into YAML by go-yaml v2
//! (via sigs.k8s.io/yaml). That means sorted keys (go-yaml's natural order),
//! sequences not indented under their key, YAML 1.1 quoting rules (`"yes"`,
//! `"10"`, timestamps), literal blocks for multi-line strings and plain
//! scalars folded at column 80.

use std::cmp::Ordering;

use serde_json::Value;

/// go-yaml's preferred line width.
const BEST_WIDTH: usize = 80;

/// Renders `v` as a YAML document (without the `---` marker).
pub fn to_string(v: &Value) -> String {
    let mut e = Emitter::default();
    match v {
        Value::Object(m) if m.is_empty() => e.out.push_str("{}\n"),
        Value::Array(a) if a.is_empty() => e.out.push_str("[]\n"),
        Value::Object(_) | Value::Array(_) => e.block(v, 0, false),
        _ => {
            e.scalar(v, 0, false);
            e.out.push('\n');
        }
    }
    e.out
}

#[derive(Default)]
struct Emitter {
    out: String,
    column: usize,
}

impl Emitter {
    fn push(&mut self, s: &str) {
        self.out.push_str(s);
        match s.rfind('\n') {
            Some(i) => self.column = s[i + 1..].chars().count(),
            None => self.column += s.chars().count(),
        }
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn indent(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push(' ');
        }
        self.column += n;
    }

    /// A block collection at `indent`; `inline` when the first line continues
    /// a `- ` already written.
    fn block(&mut self, v: &Value, indent: usize, inline: bool) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort_by(|a, b| key_cmp(a, b));
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 || !inline {
                        self.indent(indent);
                    }
                    self.string(k, indent, true);
                    self.push(":");
                    self.value_after_key(&m[k], indent);
                }
            }
            Value::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    if i > 0 || !inline {
                        self.indent(indent);
                    }
                    self.push("-");
                    match item {
                        Value::Object(m) if !m.is_empty() => {
                            self.push(" ");
                            self.block(item, indent + 2, true);
                        }
                        Value::Array(x) if !x.is_empty() => {
                            self.push(" ");
                            self.block(item, indent + 2, true);
                        }
                        _ => {
                            self.push(" ");
                            self.scalar(item, indent + 2, false);
                            self.newline();
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn value_after_key(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                self.newline();
                self.block(v, indent + 2, false);
            }
            // go-yaml does not indent a sequence under its mapping key.
            Value::Array(a) if !a.is_empty() => {
                self.newline();
                self.block(v, indent, false);
            }
            _ => {
                self.push(" ");
                self.scalar(v, indent + 2, false);
                self.newline();
            }
        }
    }

    fn scalar(&mut self, v: &Value, indent: usize, key: bool) {
        match v {
            Value::Null => self.push("null"),
            Value::Bool(b) => self.push(if *b { "true" } else { "false" }),
            Value::Number(n) => self.push(&number(n)),
            Value::String(s) => self.string(s, indent, key),
            Value::Object(_) => self.push("{}"),
            Value::Array(_) => self.push("[]"),
        }
    }

    fn string(&mut self, s: &str, indent: usize, key: bool) {
        let a = analyze(s);
        if s.contains('\n') && !key && a.block_allowed {
            self.literal(s, indent);
        } else if !resolves_to_non_string(s) && a.plain_allowed && !s.contains('\n') {
            self.plain(s, indent, !key);
        } else if resolves_to_non_string(s) || !a.single_allowed || s.contains('\n') {
            self.double_quoted(s, indent, !key);
        } else {
            self.single_quoted(s, indent, !key);
        }
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1).is_some_and(|n| *n != ' ')
                {
                    self.newline();
                    self.indent(indent);
                } else {
                    self.push(" ");
                }
                spaces = true;
            } else {
                let mut b = [0u8; 4];
                self.push(c.encode_utf8(&mut b));
                spaces = false;
            }
        }
    }

    fn single_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.push("'");
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                    && chars.get(i + 1).is_some_and(|n| *n != ' ')
                {
                    self.newline();
                    self.indent(indent);
                } else {
                    self.push(" ");
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.push("'");
                }
                let mut b = [0u8; 4];
                self.push(c.encode_utf8(&mut b));
                spaces = false;
            }
        }
        self.push("'");
    }

    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.push("\"");
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            let printable = is_printable(c);
            if !printable || c == '"' || c == '\\' || c == '\u{feff}' || is_break(c) {
                let esc = match c {
                    '\0' => "\\0".to_string(),
                    '\u{7}' => "\\a".to_string(),
                    '\u{8}' => "\\b".to_string(),
                    '\t' => "\\t".to_string(),
                    '\n' => "\\n".to_string(),
                    '\u{b}' => "\\v".to_string(),
                    '\u{c}' => "\\f".to_string(),
                    '\r' => "\\r".to_string(),
                    '\u{1b}' => "\\e".to_string(),
                    '"' => "\\\"".to_string(),
                    '\\' => "\\\\".to_string(),
                    '\u{85}' => "\\N".to_string(),
                    '\u{a0}' => "\\_".to_string(),
                    '\u{2028}' => "\\L".to_string(),
                    '\u{2029}' => "\\P".to_string(),
                    c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                    c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                    c => format!("\\U{:08X}", c as u32),
                };
                self.push(&esc);
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                {
                    self.newline();
                    self.indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.push("\\");
                    }
                } else {
                    self.push(" ");
                }
                spaces = true;
            } else {
                let mut b = [0u8; 4];
                self.push(c.encode_utf8(&mut b));
                spaces = false;
            }
        }
        self.push("\"");
    }

    fn literal(&mut self, s: &str, indent: usize) {
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s.len() == 1 || s[..s.len() - 1].ends_with('\n') {
            "+"
        } else {
            ""
        };
        // A leading space needs an explicit indentation indicator.
        let hint = if s.starts_with(' ') || s.starts_with('\n') {
            "2"
        } else {
            ""
        };
        self.push("|");
        self.push(hint);
        self.push(chomp);
        let body = s.strip_suffix('\n').unwrap_or(s);
        let body = if chomp == "+" { s } else { body };
        let lines: Vec<&str> = body.split('\n').collect();
        let n = lines.len();
        for (i, line) in lines.into_iter().enumerate() {
            if chomp == "+" && i == n - 1 && line.is_empty() {
                break;
            }
            self.newline();
            if !line.is_empty() {
                self.indent(indent);
                self.push(line);
            }
        }
    }
}

fn number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.is_finite() && f == f.trunc() && f.abs() < 1e21 {
        // go-yaml prints whole floats without a fraction
        if f.abs() >= 1e6 {
            return super::go_float(f);
        }
        return format!("{f}");
    }
    super::go_float(f)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0a
        || (0x20..=0x7e).contains(&u)
        || u == 0x85
        || (0xa0..=0xd7ff).contains(&u)
        || ((0xe000..=0xfffd).contains(&u) && u != 0xfeff)
        || (0x10000..=0x10ffff).contains(&u)
}

struct Analysis {
    plain_allowed: bool,
    single_allowed: bool,
    block_allowed: bool,
}

/// The scalar analysis of libyaml's emitter, block context only.
fn analyze(s: &str) -> Analysis {
    let mut a = Analysis {
        plain_allowed: true,
        single_allowed: true,
        block_allowed: true,
    };
    if s.is_empty() {
        a.plain_allowed = false;
        a.block_allowed = false;
        return a;
    }
    if s.starts_with("---") || s.starts_with("...") {
        a.plain_allowed = false;
    }
    let chars: Vec<char> = s.chars().collect();
    let blankz =
        |i: usize| i >= chars.len() || matches!(chars[i], ' ' | '\t') || is_break(chars[i]);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut special) = (false, false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut line_breaks = false;
    let mut preceded_by_ws = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = blankz(i + 1);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => a.plain_allowed = false,
                '?' | ':' | '-' if followed_by_ws => a.plain_allowed = false,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => a.plain_allowed = false,
                '#' if preceded_by_ws => a.plain_allowed = false,
                _ => {}
            }
        }
        if !is_printable(c) || c == '\u{feff}' {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == chars.len() - 1 {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == chars.len() - 1 {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = matches!(c, ' ' | '\t') || is_break(c);
    }
    if leading_space || leading_break || trailing_space || trailing_break {
        a.plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.plain_allowed = false;
        a.single_allowed = false;
    }
    if space_break || special {
        a.plain_allowed = false;
        a.single_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks {
        a.plain_allowed = false;
    }
    a
}

/// Whether go-yaml v2 would read `s`, unquoted, as something other than a
/// string (YAML 1.1 booleans, null, numbers, timestamps).
pub fn resolves_to_non_string(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    const WORDS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "~", "null", "Null", "NULL",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'+' || first == b'-' || first == b'.') {
        return false;
    }
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    if is_go_int(&plain) || is_yaml_float(&plain) {
        return true;
    }
    first.is_ascii_digit() && is_timestamp(s)
}

fn is_go_int(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or(t.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = t.strip_prefix("0o").or(t.strip_prefix("0O")) {
        (o, 8)
    } else if let Some(b) = t.strip_prefix("0b").or(t.strip_prefix("0B")) {
        (b, 2)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

fn is_yaml_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// go-yaml's timestamp forms: `2006-1-2`, optionally followed by
/// `T15:4:5(.frac)(Z|±07:00)` or ` 15:4:5(.frac)`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |i: &mut usize, min: usize, max: usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - st < max {
            *i += 1;
        }
        *i - st >= min
    };
    let lit = |i: &mut usize, c: u8| {
        if *i < b.len() && b[*i] == c {
            *i += 1;
            true
        } else {
            false
        }
    };
    let mut i = 0;
    if !(num(&mut i, 4, 4)
        && lit(&mut i, b'-')
        && num(&mut i, 1, 2)
        && lit(&mut i, b'-')
        && num(&mut i, 1, 2))
    {
        return false;
    }
    if i == b.len() {
        return true;
    }
    let zoned = if lit(&mut i, b'T') || lit(&mut i, b't') {
        true
    } else if lit(&mut i, b' ') {
        false
    } else {
        return false;
    };
    if !(num(&mut i, 1, 2)
        && lit(&mut i, b':')
        && num(&mut i, 1, 2)
        && lit(&mut i, b':')
        && num(&mut i, 1, 2))
    {
        return false;
    }
    if lit(&mut i, b'.') && !num(&mut i, 1, 9) {
        return false;
    }
    if !zoned {
        return i == b.len();
    }
    if lit(&mut i, b'Z') {
        return i == b.len();
    }
    if lit(&mut i, b'+') || lit(&mut i, b'-') {
        return num(&mut i, 2, 2) && lit(&mut i, b':') && num(&mut i, 2, 2) && i == b.len();
    }
    false
}

/// go-yaml v2's key order: runs of digits compare as numbers, and
/// non-letters sort before letters.
pub fn key_cmp(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 {
                j -= 1;
                if !ar[j].is_ascii_digit() {
                    break;
                }
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoting_follows_yaml_1_1() {
        let v = json!({"c": "a: b", "e": "", "n": "10", "q": "*star", "yes": "yes",
            "t": "2026-12-06T03:26:14Z", "ml": "line1\nline2", "u": "héllo <&>"});
        assert_eq!(
            to_string(&v),
            "c: 'a: b'\ne: \"\"\nml: |-\n  line1\n  line2\n\"n\": \"10\"\nq: '*star'\nt: \"2026-12-06T03:26:14Z\"\nu: héllo <&>\n\"yes\": \"yes\"\n"
        );
    }

    #[test]
    fn sequences_sit_under_their_key_and_long_strings_fold() {
        let v = json!({"a": [{"x": 1, "y": [1, 2]}, "s"], "long": "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp qqqq rrrr ssss tttt uuuu", "m": {}});
        assert_eq!(
            to_string(&v),
            "a:\n- x: 1\n  \"y\":\n  - 1\n  - 2\n- s\nlong: aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp\n  qqqq rrrr ssss tttt uuuu\nm: {}\n"
        );
    }

    #[test]
    fn keys_sort_naturally() {
        let mut k = vec!["a10", "a9", "b", "B", "_x", "a"];
        k.sort_by(|a, b| key_cmp(a, b));
        assert_eq!(k, vec!["_x", "B", "a", "a9", "a10", "b"]);
    }
}
