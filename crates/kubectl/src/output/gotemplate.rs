//! `-o go-template=...`: the subset of Go's text/template kubectl users
//! write: field paths (`.metadata.name`, `$.kind`), string and number
//! literals, `range`, `if`/`else`, `with`, and the functions `index`,
//! `len`, `not`, `eq`, `ne` and `printf` (`%s`, `%d`, `%v`). Values print
//! as Go prints the decoded JSON: maps as `map[k:v]`, lists as `[a b]`, a
//! missing key as `<no value>` (kubectl's `--allow-missing-template-keys`).

use serde_json::Value;

use crate::error::Error;

/// A parsed template.
#[derive(Debug)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Term {
    Dot(Vec<String>),
    Root(Vec<String>),
    Str(String),
    Num(f64),
    /// A parenthesised pipeline: `(len .data)`.
    Sub(Box<Pipe>),
}

#[derive(Debug, Clone, PartialEq)]
enum Pipe {
    Term(Term),
    Call(String, Vec<Term>),
}

#[derive(Debug)]
enum Node {
    Text(String),
    Print(Pipe),
    Range(Pipe, Vec<Node>, Vec<Node>),
    If(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

fn err(template: &str, msg: impl std::fmt::Display) -> Error {
    Error::msg(format!(
        "error parsing template {template}, template: output:1: {msg}"
    ))
}

/// The actions of `src` as (text before, action) pairs, trim markers applied.
fn lex(src: &str) -> Result<Vec<(String, Option<String>)>, Error> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_string();
        if trim_next {
            text = text.trim_start().to_string();
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| err(src, "unclosed action"))?;
        let mut action = &after[..end];
        if let Some(a) = action.strip_prefix("- ") {
            text = text.trim_end().to_string();
            action = a;
        }
        trim_next = false;
        if let Some(a) = action.strip_suffix(" -") {
            trim_next = true;
            action = a;
        }
        out.push((text, Some(action.trim().to_string())));
        rest = &after[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    out.push((text.to_string(), None));
    Ok(out)
}

/// Splits an action into words, keeping quoted strings whole.
fn words(src: &str, action: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' || c == '`' {
            let q = c;
            let mut w = String::from(q);
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                w.push(c);
                if c == '\\' && q == '"' {
                    if let Some(n) = chars.next() {
                        w.push(n);
                    }
                    continue;
                }
                if c == q {
                    closed = true;
                    break;
                }
            }
            if !closed {
                return Err(err(src, "unterminated quoted string"));
            }
            out.push(w);
            continue;
        }
        let mut w = String::new();
        let mut depth = 0;
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            if quote.is_none() && depth == 0 && c.is_whitespace() {
                break;
            }
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (None, '"' | '`') => quote = Some(c),
                (None, '(') => depth += 1,
                (None, ')') => depth -= 1,
                _ => {}
            }
            w.push(c);
            chars.next();
        }
        if depth != 0 || quote.is_some() {
            return Err(err(src, "unclosed left paren"));
        }
        out.push(w);
    }
    Ok(out)
}

fn unquote(src: &str, w: &str) -> Result<String, Error> {
    if let Some(raw) = w.strip_prefix('`').and_then(|w| w.strip_suffix('`')) {
        return Ok(raw.to_string());
    }
    let inner = &w[1..w.len() - 1];
    let mut s = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            s.push(c);
            continue;
        }
        match it.next() {
            Some('n') => s.push('\n'),
            Some('t') => s.push('\t'),
            Some('r') => s.push('\r'),
            Some('"') => s.push('"'),
            Some('\\') => s.push('\\'),
            other => return Err(err(src, format!("invalid syntax: {other:?}"))),
        }
    }
    Ok(s)
}

fn term(src: &str, w: &str) -> Result<Term, Error> {
    let path = |p: &str| {
        p.split('.')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    if w == "." {
        return Ok(Term::Dot(Vec::new()));
    }
    if let Some(inner) = w.strip_prefix('(').and_then(|w| w.strip_suffix(')')) {
        return Ok(Term::Sub(Box::new(pipe(src, &words(src, inner)?)?)));
    }
    if let Some(p) = w.strip_prefix('$') {
        return Ok(Term::Root(path(p)));
    }
    if w.starts_with('.') {
        return Ok(Term::Dot(path(w)));
    }
    if w.starts_with('"') || w.starts_with('`') {
        return Ok(Term::Str(unquote(src, w)?));
    }
    if let Ok(n) = w.parse::<f64>() {
        return Ok(Term::Num(n));
    }
    Err(err(src, format!("function {w:?} not defined")))
}

const FUNCS: &[&str] = &["index", "len", "not", "eq", "ne", "printf"];

fn pipe(src: &str, ws: &[String]) -> Result<Pipe, Error> {
    match ws {
        [] => Err(err(src, "missing value for command")),
        [one] if !FUNCS.contains(&one.as_str()) => Ok(Pipe::Term(term(src, one)?)),
        [f, args @ ..] if FUNCS.contains(&f.as_str()) => Ok(Pipe::Call(
            f.clone(),
            args.iter()
                .map(|a| term(src, a))
                .collect::<Result<_, _>>()?,
        )),
        [first, ..] => Err(err(
            src,
            format!("can't give argument to non-function {first}"),
        )),
    }
}

impl Template {
    /// Parses `src`.
    pub fn parse(src: &str) -> Result<Template, Error> {
        let parts = lex(src)?;
        let mut stack: Vec<(Node, bool)> = Vec::new();
        let mut root: Vec<Node> = Vec::new();
        fn push(stack: &mut [(Node, bool)], root: &mut Vec<Node>, n: Node) {
            match stack.last_mut() {
                None => root.push(n),
                Some((Node::Range(_, a, b) | Node::If(_, a, b) | Node::With(_, a, b), in_else)) => {
                    if *in_else {
                        b.push(n)
                    } else {
                        a.push(n)
                    }
                }
                Some(_) => root.push(n),
            }
        }
        for (text, action) in parts {
            if !text.is_empty() {
                push(&mut stack, &mut root, Node::Text(text));
            }
            let Some(action) = action else { continue };
            if action.starts_with("/*") {
                continue;
            }
            let ws = words(src, &action)?;
            match ws.first().map(String::as_str) {
                Some("range") => {
                    stack.push((Node::Range(pipe(src, &ws[1..])?, vec![], vec![]), false))
                }
                Some("if") => stack.push((Node::If(pipe(src, &ws[1..])?, vec![], vec![]), false)),
                Some("with") => {
                    stack.push((Node::With(pipe(src, &ws[1..])?, vec![], vec![]), false))
                }
                Some("else") => match stack.last_mut() {
                    Some((_, in_else)) if !*in_else => *in_else = true,
                    _ => return Err(err(src, "unexpected {{else}}")),
                },
                Some("end") => {
                    let (n, _) = stack.pop().ok_or_else(|| err(src, "unexpected {{end}}"))?;
                    push(&mut stack, &mut root, n);
                }
                _ => push(&mut stack, &mut root, Node::Print(pipe(src, &ws)?)),
            }
        }
        if !stack.is_empty() {
            return Err(err(src, "unexpected EOF"));
        }
        Ok(Template { nodes: root })
    }

    /// Runs the template over `obj`.
    pub fn execute(&self, obj: &Value) -> Result<String, Error> {
        let mut out = String::new();
        run(&self.nodes, obj, obj, &mut out)?;
        Ok(out)
    }
}

/// A looked-up value: `None` is a missing key.
fn lookup<'a>(base: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut v = base;
    for p in path {
        v = v.as_object()?.get(p)?;
    }
    Some(v)
}

fn eval_term(t: &Term, dot: &Value, root: &Value) -> Result<Option<Value>, Error> {
    Ok(match t {
        Term::Dot(p) => lookup(dot, p).cloned(),
        Term::Root(p) => lookup(root, p).cloned(),
        Term::Str(s) => Some(Value::String(s.clone())),
        Term::Num(n) => serde_json::Number::from_f64(*n).map(Value::Number),
        Term::Sub(p) => eval(p, dot, root)?,
    })
}

fn eval(p: &Pipe, dot: &Value, root: &Value) -> Result<Option<Value>, Error> {
    let Pipe::Call(f, args) = p else {
        let Pipe::Term(t) = p else { unreachable!() };
        return eval_term(t, dot, root);
    };
    let vals: Vec<Option<Value>> = args
        .iter()
        .map(|a| eval_term(a, dot, root))
        .collect::<Result<_, _>>()?;
    let fail = |m: String| Error::msg(format!("error executing template: {m}"));
    Ok(Some(match f.as_str() {
        "index" => {
            let mut v = vals.first().cloned().flatten();
            for k in &vals[1..] {
                v = match (v, k) {
                    (Some(Value::Object(m)), Some(Value::String(k))) => m.get(k).cloned(),
                    (Some(Value::Array(a)), Some(Value::Number(n))) => {
                        a.get(n.as_f64().unwrap_or(-1.0) as usize).cloned()
                    }
                    _ => None,
                };
            }
            return Ok(v);
        }
        "len" => match vals.first().cloned().flatten() {
            Some(Value::Array(a)) => Value::from(a.len()),
            Some(Value::Object(m)) => Value::from(m.len()),
            Some(Value::String(s)) => Value::from(s.len()),
            other => return Err(fail(format!("len of {}", display(other.as_ref())))),
        },
        "not" => Value::Bool(!truthy(vals.first().cloned().flatten().as_ref())),
        "eq" | "ne" => {
            let same = vals.len() >= 2 && vals[1..].iter().any(|v| *v == vals[0]);
            Value::Bool(if f == "eq" { same } else { !same })
        }
        "printf" => {
            let Some(Some(Value::String(fmt))) = vals.first() else {
                return Err(fail("printf needs a format string".into()));
            };
            let mut args = vals[1..].iter();
            let mut s = String::new();
            let mut it = fmt.chars();
            while let Some(c) = it.next() {
                if c != '%' {
                    s.push(c);
                    continue;
                }
                match it.next() {
                    Some('%') => s.push('%'),
                    Some('s' | 'd' | 'v') => {
                        s.push_str(&display(args.next().and_then(Option::as_ref)))
                    }
                    other => s.push_str(&format!("%!{}(MISSING)", other.unwrap_or(' '))),
                }
            }
            Value::String(s)
        }
        _ => unreachable!("only FUNCS are parsed as calls"),
    }))
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

/// Go's `fmt` rendering of a decoded JSON value.
fn display(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<no value>".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => super::go_float(n.as_f64().unwrap_or(0.0)),
        },
        Some(Value::Array(a)) => format!(
            "[{}]",
            a.iter().map(display_inner).collect::<Vec<_>>().join(" ")
        ),
        Some(Value::Object(m)) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            format!(
                "map[{}]",
                keys.iter()
                    .map(|k| format!("{k}:{}", display_inner(&m[*k])))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

/// Inside a map or list Go prints a nil interface as `<nil>`.
fn display_inner(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        other => display(Some(other)),
    }
}

fn run(nodes: &[Node], dot: &Value, root: &Value, out: &mut String) -> Result<(), Error> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Print(p) => out.push_str(&display(eval(p, dot, root)?.as_ref())),
            Node::If(p, yes, no) => {
                let branch = if truthy(eval(p, dot, root)?.as_ref()) {
                    yes
                } else {
                    no
                };
                run(branch, dot, root, out)?;
            }
            Node::With(p, yes, no) => match eval(p, dot, root)? {
                Some(v) if truthy(Some(&v)) => run(yes, &v, root, out)?,
                _ => run(no, dot, root, out)?,
            },
            Node::Range(p, body, empty) => match eval(p, dot, root)? {
                Some(Value::Array(a)) if !a.is_empty() => {
                    for item in &a {
                        run(body, item, root, out)?;
                    }
                }
                Some(Value::Object(m)) if !m.is_empty() => {
                    let mut keys: Vec<&String> = m.keys().collect();
                    keys.sort();
                    for k in keys {
                        run(body, &m[k], root, out)?;
                    }
                }
                Some(Value::Array(_) | Value::Object(_) | Value::Null) | None => {
                    run(empty, dot, root, out)?
                }
                Some(other) => {
                    return Err(Error::msg(format!(
                        "error executing template: range can't iterate over {}",
                        display(Some(&other))
                    )))
                }
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(tpl: &str, v: &Value) -> String {
        Template::parse(tpl).unwrap().execute(v).unwrap()
    }

    #[test]
    fn fields_ranges_and_functions() {
        let list = json!({"kind": "List", "items": [
            {"metadata": {"name": "a", "labels": {"app": "x", "tier": "web"}}, "spec": {"replicas": 3}},
            {"metadata": {"name": "b"}, "spec": {"replicas": 1.5}}]});
        assert_eq!(
            t(
                r#"{{range .items}}{{.metadata.name}}{{"\n"}}{{end}}"#,
                &list
            ),
            "a\nb\n"
        );
        assert_eq!(
            t("{{range .items}}{{.spec.replicas}} {{end}}", &list),
            "3 1.5 "
        );
        assert_eq!(
            t(
                r#"{{range .items}}{{index .metadata.labels "app"}},{{end}}"#,
                &list
            ),
            "x,<no value>,"
        );
        assert_eq!(
            t("{{range .items}}{{.metadata.labels}};{{end}}", &list),
            "map[app:x tier:web];<no value>;"
        );
        assert_eq!(
            t("{{len .items}} {{$.kind}} {{.missing}}", &list),
            "2 List <no value>"
        );
        assert_eq!(
            t(
                r#"{{range .items}}{{if .metadata.labels}}L{{else}}-{{end}}{{end}}"#,
                &list
            ),
            "L-"
        );
        assert_eq!(
            t(
                r#"{{with index .items 0}}{{printf "%s=%d" .metadata.name .spec.replicas}}{{end}}"#,
                &list
            ),
            "a=3"
        );
        assert_eq!(t("{{- .kind -}}  \n", &list), "List");
        assert_eq!(t(r#"{{if eq .kind "List"}}yes{{end}}"#, &list), "yes");
        assert_eq!(
            t(r#"{{printf "%s has %d" .kind (len .items)}}"#, &list),
            "List has 2"
        );
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(Template::parse("{{.a").is_err());
        assert!(Template::parse("{{range .a}}").is_err());
        assert!(Template::parse("{{end}}").is_err());
        assert!(Template::parse("{{foo .a}}").is_err());
    }
}
