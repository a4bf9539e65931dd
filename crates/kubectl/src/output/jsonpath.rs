//! kubectl's JSONPath templates: text with `{...}` actions holding paths
//! (`.a.b`, `[0]`, `[*]`, `[1:3]`, `..x`, `['k']`, `[?(@.k=="v")]`),
//! `range`/`end` blocks and quoted literals. Missing keys print nothing,
//! as `kubectl get` allows them.

use serde_json::Value;

use crate::error::Error;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Path(Path),
    Range(Path, Vec<Node>),
}

#[derive(Debug, Clone, Default)]
struct Path {
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
enum Step {
    Field(String),
    Wildcard,
    Recursive,
    Index(i64),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Union(Vec<Key>),
    Filter(Box<Filter>),
}

#[derive(Debug, Clone)]
enum Key {
    Name(String),
    Index(i64),
}

#[derive(Debug, Clone)]
struct Filter {
    left: Operand,
    op: Option<(String, Operand)>,
}

#[derive(Debug, Clone)]
enum Operand {
    Path(Path),
    Lit(Value),
}

impl Template {
    /// Parses `t`; errors read as upstream's parse errors.
    pub fn parse(t: &str) -> Result<Template, Error> {
        let mut stack: Vec<(Option<Path>, Vec<Node>)> = vec![(None, Vec::new())];
        let mut rest = t;
        while !rest.is_empty() {
            match rest.find('{') {
                None => {
                    push_node(&mut stack, Node::Text(rest.to_string()));
                    rest = "";
                }
                Some(i) => {
                    if i > 0 {
                        push_node(&mut stack, Node::Text(rest[..i].to_string()));
                    }
                    let after = &rest[i + 1..];
                    let Some(end) = find_close(after) else {
                        return Err(Error::msg(format!(
                            "error parsing jsonpath {t}, unclosed action"
                        )));
                    };
                    let action = after[..end].trim();
                    rest = &after[end + 1..];
                    if action == "end" {
                        if stack.len() < 2 {
                            return Err(Error::msg(format!(
                                "error parsing jsonpath {t}, not in range, nothing to end"
                            )));
                        }
                        let (p, body) = stack.pop().unwrap_or_default();
                        push_node(&mut stack, Node::Range(p.unwrap_or_default(), body));
                    } else if let Some(r) = action.strip_prefix("range") {
                        let p = parse_path(r.trim(), t)?;
                        stack.push((Some(p), Vec::new()));
                    } else {
                        for n in parse_action(action, t)? {
                            push_node(&mut stack, n);
                        }
                    }
                }
            }
        }
        if stack.len() != 1 {
            return Err(Error::msg(format!(
                "error parsing jsonpath {t}, unclosed range"
            )));
        }
        Ok(Template {
            source: t.to_string(),
            nodes: stack.pop().map(|s| s.1).unwrap_or_default(),
        })
    }

    /// Executes the template against `root`.
    pub fn execute(&self, root: &Value) -> Result<String, Error> {
        let mut out = String::new();
        exec_nodes(&self.nodes, root, root, &mut out);
        Ok(out)
    }

    /// The values of a template holding one path (custom columns).
    pub fn values(&self, root: &Value) -> Result<Vec<Value>, Error> {
        let mut vals = Vec::new();
        for n in &self.nodes {
            if let Node::Path(p) = n {
                vals.extend(eval(p, root, root).into_iter().cloned());
            }
        }
        let _ = &self.source;
        Ok(vals)
    }
}

fn push_node(stack: &mut [(Option<Path>, Vec<Node>)], n: Node) {
    if let Some(top) = stack.last_mut() {
        top.1.push(n);
    }
}

fn find_close(s: &str) -> Option<usize> {
    let mut in_str: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' => in_str = Some('"'),
            '}' => return Some(i),
            _ => {}
        }
    }
    None
}

/// An action: paths and quoted literals, side by side.
fn parse_action(a: &str, t: &str) -> Result<Vec<Node>, Error> {
    let mut nodes = Vec::new();
    let mut rest = a.trim();
    while !rest.is_empty() {
        if rest.starts_with('"') {
            let (lit, len) = parse_quoted(rest, t)?;
            nodes.push(Node::Text(lit));
            rest = rest[len..].trim_start();
        } else {
            let end = path_end(rest);
            nodes.push(Node::Path(parse_path(&rest[..end], t)?));
            rest = rest[end..].trim_start();
        }
    }
    Ok(nodes)
}

fn path_end(s: &str) -> usize {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' if depth > 0 => quote = Some(c),
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            ' ' | '"' if depth == 0 => return i,
            _ => {}
        }
    }
    s.len()
}

fn parse_quoted(s: &str, t: &str) -> Result<(String, usize), Error> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, c)) => out.push(c),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(Error::msg(format!(
        "error parsing jsonpath {t}, unclosed quote"
    )))
}

fn parse_path(p: &str, t: &str) -> Result<Path, Error> {
    let bad = || {
        Error::msg(format!(
            "error parsing jsonpath {t}, unrecognized identifier {p}"
        ))
    };
    let mut steps = Vec::new();
    let b = p.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'@' || b[i] == b'$') {
        i += 1;
    }
    while i < b.len() {
        match b[i] {
            b'.' => {
                if i + 1 < b.len() && b[i + 1] == b'.' {
                    steps.push(Step::Recursive);
                    i += 2;
                    continue;
                }
                i += 1;
                let st = i;
                while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                    i += 1;
                }
                let name = &p[st..i];
                if name == "*" {
                    steps.push(Step::Wildcard);
                } else if !name.is_empty() {
                    steps.push(Step::Field(name.to_string()));
                }
            }
            b'[' => {
                let st = i + 1;
                let mut depth = 1;
                let mut quote: Option<u8> = None;
                i += 1;
                while i < b.len() && depth > 0 {
                    let c = b[i];
                    if let Some(q) = quote {
                        if c == q {
                            quote = None;
                        }
                    } else if c == b'\'' || c == b'"' {
                        quote = Some(c);
                    } else if c == b'[' {
                        depth += 1;
                    } else if c == b']' {
                        depth -= 1;
                    }
                    i += 1;
                }
                if depth != 0 {
                    return Err(bad());
                }
                steps.push(parse_bracket(p[st..i - 1].trim(), t)?);
            }
            _ => {
                // A bare leading name (`metadata.name`).
                let st = i;
                while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                    i += 1;
                }
                steps.push(Step::Field(p[st..i].to_string()));
            }
        }
    }
    Ok(Path { steps })
}

fn parse_bracket(s: &str, t: &str) -> Result<Step, Error> {
    let bad = || {
        Error::msg(format!(
            "error parsing jsonpath {t}, invalid array index {s}"
        ))
    };
    if s == "*" {
        return Ok(Step::Wildcard);
    }
    if let Some(f) = s.strip_prefix('?') {
        let f = f.trim();
        let inner = f
            .strip_prefix('(')
            .and_then(|x| x.strip_suffix(')'))
            .ok_or_else(bad)?;
        return Ok(Step::Filter(Box::new(parse_filter(inner.trim(), t)?)));
    }
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        let num = |x: &str| -> Result<Option<i64>, Error> {
            let x = x.trim();
            if x.is_empty() {
                Ok(None)
            } else {
                x.parse().map(Some).map_err(|_| bad())
            }
        };
        return Ok(Step::Slice(
            num(parts[0])?,
            num(parts.get(1).copied().unwrap_or(""))?,
            num(parts.get(2).copied().unwrap_or(""))?,
        ));
    }
    let mut keys = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        if let Some(q) = part
            .strip_prefix('\'')
            .and_then(|x| x.strip_suffix('\''))
            .or_else(|| part.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
        {
            keys.push(Key::Name(q.to_string()));
        } else {
            keys.push(Key::Index(part.parse().map_err(|_| bad())?));
        }
    }
    if let [Key::Index(i)] = keys[..] {
        return Ok(Step::Index(i));
    }
    Ok(Step::Union(keys))
}

fn parse_filter(s: &str, t: &str) -> Result<Filter, Error> {
    for op in ["==", "!=", "<=", ">=", "<", ">", "=~"] {
        if let Some((l, r)) = split_op(s, op) {
            return Ok(Filter {
                left: parse_operand(l.trim(), t)?,
                op: Some((op.to_string(), parse_operand(r.trim(), t)?)),
            });
        }
    }
    Ok(Filter {
        left: parse_operand(s, t)?,
        op: None,
    })
}

fn split_op<'a>(s: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            continue;
        }
        if s[i..].starts_with(op) {
            return Some((&s[..i], &s[i + op.len()..]));
        }
    }
    None
}

fn parse_operand(s: &str, t: &str) -> Result<Operand, Error> {
    if s.starts_with('@') || s.starts_with('$') || s.starts_with('.') {
        return Ok(Operand::Path(parse_path(s, t)?));
    }
    if let Some(q) = s
        .strip_prefix('\'')
        .and_then(|x| x.strip_suffix('\''))
        .or_else(|| s.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
    {
        return Ok(Operand::Lit(Value::String(q.to_string())));
    }
    if let Ok(v) = serde_json::from_str::<Value>(s) {
        return Ok(Operand::Lit(v));
    }
    Ok(Operand::Lit(Value::String(s.to_string())))
}

fn exec_nodes(nodes: &[Node], root: &Value, cur: &Value, out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(s) => out.push_str(s),
            Node::Path(p) => {
                let vals = eval(p, root, cur);
                let n = vals.len();
                for (i, v) in vals.into_iter().enumerate() {
                    out.push_str(&format_value(v));
                    if i + 1 != n {
                        out.push(' ');
                    }
                }
            }
            Node::Range(p, body) => {
                for v in eval(p, root, cur) {
                    exec_nodes(body, root, v, out);
                }
            }
        }
    }
}

/// How a result prints: strings raw, collections as compact JSON.
pub fn format_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        Value::Number(n) if n.is_f64() => super::go_float(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(_) | Value::Object(_) => super::json::to_string_compact(v),
    }
}

fn eval<'a>(p: &Path, root: &'a Value, cur: &'a Value) -> Vec<&'a Value> {
    let _ = root;
    let mut vals = vec![cur];
    let mut i = 0;
    while i < p.steps.len() {
        let step = &p.steps[i];
        let mut next = Vec::new();
        match step {
            Step::Recursive => {
                let mut all = Vec::new();
                for v in &vals {
                    descend(v, &mut all);
                }
                next = all;
            }
            _ => {
                for v in vals {
                    apply(step, v, &mut next);
                }
            }
        }
        vals = next;
        i += 1;
    }
    vals
}

fn descend<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(v);
    match v {
        Value::Object(m) => m.values().for_each(|c| descend(c, out)),
        Value::Array(a) => a.iter().for_each(|c| descend(c, out)),
        _ => {}
    }
}

fn apply<'a>(step: &Step, v: &'a Value, out: &mut Vec<&'a Value>) {
    match step {
        Step::Field(name) => {
            if let Some(x) = v.as_object().and_then(|m| m.get(name)) {
                out.push(x);
            }
        }
        Step::Wildcard => match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.extend(keys.into_iter().map(|k| &m[k]));
            }
            Value::Array(a) => out.extend(a.iter()),
            _ => {}
        },
        Step::Recursive => {}
        Step::Index(i) => {
            if let Some(a) = v.as_array() {
                let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                if idx >= 0 {
                    if let Some(x) = a.get(idx as usize) {
                        out.push(x);
                    }
                }
            }
        }
        Step::Slice(s, e, st) => {
            if let Some(a) = v.as_array() {
                let len = a.len() as i64;
                let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let start = norm(s.unwrap_or(0));
                let end = norm(e.unwrap_or(len));
                let step = st.unwrap_or(1).max(1);
                let mut k = start;
                while k < end {
                    out.push(&a[k as usize]);
                    k += step;
                }
            }
        }
        Step::Union(keys) => {
            for k in keys {
                match k {
                    Key::Name(n) => {
                        if let Some(x) = v.as_object().and_then(|m| m.get(n)) {
                            out.push(x);
                        }
                    }
                    Key::Index(i) => apply(&Step::Index(*i), v, out),
                }
            }
        }
        Step::Filter(f) => {
            let items: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                _ => Vec::new(),
            };
            for item in items {
                if filter_matches(f, item) {
                    out.push(item);
                }
            }
        }
    }
}

fn operand_values<'a>(o: &'a Operand, item: &'a Value) -> Vec<&'a Value> {
    match o {
        Operand::Path(p) => eval(p, item, item),
        Operand::Lit(v) => vec![v],
    }
}

fn filter_matches(f: &Filter, item: &Value) -> bool {
    let left = operand_values(&f.left, item);
    let Some((op, right)) = &f.op else {
        return !left.is_empty();
    };
    let right = operand_values(right, item);
    let (Some(l), Some(r)) = (left.first(), right.first()) else {
        return false;
    };
    let num = |v: &Value| -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    };
    match op.as_str() {
        "==" => loose_eq(l, r),
        "!=" => !loose_eq(l, r),
        "<" | ">" | "<=" | ">=" => match (num(l), num(r)) {
            (Some(a), Some(b)) => match op.as_str() {
                "<" => a < b,
                ">" => a > b,
                "<=" => a <= b,
                _ => a >= b,
            },
            _ => false,
        },
        _ => false,
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), y) | (y, Value::String(x)) if !y.is_string() => format_value(y) == *x,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().execute(v).unwrap()
    }

    #[test]
    fn paths_ranges_and_filters() {
        let v = json!({"kind": "List", "items": [
            {"metadata": {"name": "a", "labels": {"x": "1"}}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"name": "b"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
        ]});
        assert_eq!(run("{.items[*].metadata.name}", &v), "a b");
        assert_eq!(
            run("{range .items[*]}{.metadata.name}{\"\\n\"}{end}", &v),
            "a\nb\n"
        );
        assert_eq!(
            run(
                "{.items[?(@.metadata.name==\"b\")].status.conditions[0].status}",
                &v
            ),
            "False"
        );
        assert_eq!(run("{.items[0].metadata.labels}", &v), "{\"x\":\"1\"}");
        assert_eq!(run("{..name}", &v), "a b");
        assert_eq!(run("x={.missing}", &v), "x=");
        assert_eq!(run("{.items[-1:].metadata.name}", &v), "b");
    }
}
