//! Label and field selectors with upstream's grammar, validation messages,
//! canonical string form and matching rules (`k8s.io/apimachinery/pkg/labels`
//! and `pkg/fields`), so `?labelSelector=` / `?fieldSelector=` behave exactly
//! as clients expect and error bodies read the same.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// Why a selector string or object was rejected. The `Display` text is the
/// message upstream puts into a 400 `Status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The label selector string does not follow the grammar
    /// (e.g. `found 'b', expected: ',' or 'end of string'`).
    #[error("{0}")]
    Syntax(String),
    /// A requirement inside a label selector string is invalid.
    #[error("unable to parse requirement: {0}")]
    Requirement(String),
    /// A `metav1.LabelSelector` object is invalid.
    #[error("{0}")]
    Invalid(String),
    /// A field selector term has no recognised operator.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm { selector: String, term: String },
    /// A field selector value has a backslash escape other than `\\`, `\,`, `\=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A field selector value has a bare `,` or `=`. Upstream prints the
    /// character as its code point (`%v` of a rune), and so do we.
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    UnescapedChar(char),
}

// ---------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------

/// A label requirement operator (`selection.Operator` upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One `key op values` clause; a selector is the AND of its requirements.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and de-duplicated, as upstream's string sets are.
    values: Vec<String>,
}

impl Requirement {
    /// Builds a validated requirement, with upstream's `NewRequirement` rules
    /// and field paths (`key`, `values`, `values[i][key]`) in the message.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, SelectorError> {
        Self::build(key, operator, values).map_err(SelectorError::Invalid)
    }

    fn build(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, String> {
        let mut errs = Vec::new();
        if let Err(detail) = validate_qualified_name(key) {
            errs.push(invalid("key", &go_quote(key), &detail));
        }
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errs.push(invalid(
                "values",
                &go_string_slice(&values),
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                errs.push(invalid(
                    "values",
                    &go_string_slice(&values),
                    "exact-match compatibility requires one single value",
                ))
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => errs.push(invalid(
                "values",
                &go_string_slice(&values),
                "values set must be empty for exists and does not exist",
            )),
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(invalid(
                        "values",
                        &go_string_slice(&values),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("values[{i}]"),
                            &go_quote(v),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            if let Err(detail) = validate_label_value(v) {
                errs.push(invalid(
                    &format!("values[{i}][{key}]"),
                    &go_quote(v),
                    &detail,
                ));
            }
        }
        if !errs.is_empty() {
            return Err(aggregate(errs));
        }
        let mut values = values;
        values.sort();
        values.dedup();
        Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Upstream `Requirement.Matches`: a missing key satisfies only `!=`,
    /// `notin` and `!key`; `>`/`<` need both sides to be integers.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let got = labels.get(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                got.is_some_and(|v| self.values.contains(v))
            }
            Operator::NotIn | Operator::NotEquals => got.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => got.is_some(),
            Operator::DoesNotExist => got.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = got.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in (",
            Operator::NotIn => " notin (",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        };
        f.write_str(op)?;
        f.write_str(&self.values.join(","))?;
        if matches!(self.operator, Operator::In | Operator::NotIn) {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector. The empty selector matches everything; the
/// "nothing" selector (from a `null` `metav1.LabelSelector`) matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LabelSelector {
    /// Sorted by key (stable), as upstream sorts to make parsing deterministic.
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Matches every label set.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Matches no label set (upstream `labels.Nothing()`).
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses the string form used by `?labelSelector=` and `kubectl -l`.
    pub fn parse(s: &str) -> Result<LabelSelector, SelectorError> {
        let tokens = lex(s);
        let mut p = Parser { tokens, pos: 0 };
        let mut reqs = p.parse()?;
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// Builds a selector from a `metav1.LabelSelector` object, as upstream's
    /// `LabelSelectorAsSelector`: `null` selects nothing, `{}` everything.
    pub fn from_json(v: &Value) -> Result<LabelSelector, SelectorError> {
        let obj = match v {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(o) => o,
            _ => {
                return Err(SelectorError::Invalid(
                    "label selector must be an object".to_string(),
                ))
            }
        };
        let mut reqs = Vec::new();
        match obj.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let Some(v) = v.as_str() else {
                        return Err(SelectorError::Invalid(format!(
                            "matchLabels[{k}]: value must be a string"
                        )));
                    };
                    reqs.push(Requirement::new(k, Operator::Equals, vec![v.to_string()])?);
                }
            }
            Some(_) => {
                return Err(SelectorError::Invalid(
                    "matchLabels must be an object".to_string(),
                ))
            }
        }
        match obj.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(exprs)) => {
                for (i, e) in exprs.iter().enumerate() {
                    reqs.push(expression_requirement(i, e)?);
                }
            }
            Some(_) => {
                return Err(SelectorError::Invalid(
                    "matchExpressions must be a list".to_string(),
                ))
            }
        }
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// An equality selector for a plain label map (a Service's or
    /// ReplicationController's `selector`); keys are not re-validated.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> LabelSelector {
        LabelSelector {
            requirements: labels
                .iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    operator: Operator::Equals,
                    values: vec![v.clone()],
                })
                .collect(),
            nothing: false,
        }
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Adds requirements, keeping the key order upstream's `Add` gives.
    pub fn with_requirements(mut self, reqs: impl IntoIterator<Item = Requirement>) -> Self {
        if self.nothing {
            return self;
        }
        self.requirements.extend(reqs);
        self.requirements.sort_by(|a, b| a.key.cmp(&b.key));
        self
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// True when the selector does not restrict anything (the nothing
    /// selector is not empty, as upstream).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// True for the selector that matches nothing.
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// The single value a label must have (`k=v`, `k==v`, `k in (v)`), so a
    /// caller can narrow a lookup.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for LabelSelector {
    type Err = SelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn expression_requirement(i: usize, e: &Value) -> Result<Requirement, SelectorError> {
    let bad = |what: &str| SelectorError::Invalid(format!("matchExpressions[{i}]: {what}"));
    let Value::Object(e) = e else {
        return Err(bad("must be an object"));
    };
    let key = e
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("key must be a string"))?;
    let op = e.get("operator").and_then(Value::as_str).unwrap_or("");
    let operator = match op {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => {
            return Err(SelectorError::Invalid(format!(
                "{} is not a valid label selector operator",
                go_quote(other)
            )))
        }
    };
    let values = match e.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(vs)) => vs
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("values must be strings"))?,
        Some(_) => return Err(bad("values must be a list")),
    };
    Requirement::new(key, operator, values)
}

// --- lexer and parser (upstream grammar, including its error texts) --------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    Not,
    DoubleEquals,
    Equals,
    Greater,
    Ident,
    In,
    Less,
    NotEquals,
    NotIn,
    OpenPar,
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn symbol_token(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::Not,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::Greater,
        "in" => Tok::In,
        "<" => Tok::Less,
        "!=" => Tok::NotEquals,
        "notin" => Tok::NotIn,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

/// Splits into tokens; operators are matched greedily (longest known
/// symbol), identifiers run until whitespace or an operator character.
/// Works on bytes like upstream so multi-byte text stays inside identifiers.
fn lex(s: &str) -> Vec<(Tok, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        // A NUL byte ends the input for upstream's lexer as well.
        if i >= b.len() || b[i] == 0 {
            out.push((Tok::End, String::new()));
            return out;
        }
        let start = i;
        if is_special(b[i]) {
            let mut best = None;
            let mut j = i;
            while j < b.len() && is_special(b[j]) {
                j += 1;
                match symbol_token(&s[start..j]) {
                    Some(t) => best = Some((t, j)),
                    None if best.is_some() => break,
                    None => {}
                }
            }
            // Every single operator character is itself a token, so `best`
            // is always set; fall back defensively to one character.
            let (t, end) = best.unwrap_or((Tok::Comma, start + 1));
            out.push((t, s[start..end].to_string()));
            i = end;
        } else {
            while i < b.len() && b[i] != 0 && !is_special(b[i]) && !is_space(b[i]) {
                i += 1;
            }
            let lit = &s[start..i];
            let t = match symbol_token(lit) {
                Some(t @ (Tok::In | Tok::NotIn)) => t,
                _ => Tok::Ident,
            };
            out.push((t, lit.to_string()));
        }
    }
}

struct Parser {
    tokens: Vec<(Tok, String)>,
    pos: usize,
}

/// In value position the keywords `in`/`notin` are plain identifiers.
fn as_value(t: Tok) -> Tok {
    match t {
        Tok::In | Tok::NotIn => Tok::Ident,
        t => t,
    }
}

impl Parser {
    fn peek(&self, values: bool) -> (Tok, String) {
        let (t, l) = self
            .tokens
            .get(self.pos)
            .cloned()
            .unwrap_or((Tok::End, String::new()));
        (if values { as_value(t) } else { t }, l)
    }

    fn next(&mut self, values: bool) -> (Tok, String) {
        let r = self.peek(values);
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        r
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut reqs = Vec::new();
        loop {
            let (t, lit) = self.peek(true);
            match t {
                Tok::Ident | Tok::Not => {
                    let r = self.requirement().map_err(SelectorError::Requirement)?;
                    reqs.push(r);
                    let (t, l) = self.next(true);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.peek(true);
                            if t2 != Tok::Ident && t2 != Tok::Not {
                                return Err(SelectorError::Syntax(format!(
                                    "found '{l2}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(SelectorError::Syntax(format!(
                                "found '{l}', expected: ',' or 'end of string'"
                            )))
                        }
                    }
                }
                Tok::End => return Ok(reqs),
                _ => {
                    return Err(SelectorError::Syntax(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    )))
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let mut not = false;
        let (mut t, mut key) = self.next(true);
        if t == Tok::Not {
            not = true;
            (t, key) = self.next(true);
        }
        if t != Tok::Ident {
            return Err(format!("found '{key}', expected: identifier"));
        }
        if let Err(detail) = validate_qualified_name(&key) {
            return Err(invalid("<nil>", &go_quote(&key), &detail));
        }
        let (la, _) = self.peek(true);
        if not {
            return Requirement::build(&key, Operator::DoesNotExist, Vec::new());
        }
        if la == Tok::End || la == Tok::Comma {
            return Requirement::build(&key, Operator::Exists, Vec::new());
        }
        let (t, lit) = self.next(false);
        let op = match t {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::Greater => Operator::GreaterThan,
            Tok::Less => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        };
        let mut values = if matches!(op, Operator::In | Operator::NotIn) {
            self.set_values()?
        } else {
            self.exact_value()?
        };
        // Upstream collects values into a sorted set before validating, so
        // error paths index the sorted list.
        values.sort();
        values.dedup();
        Requirement::build(&key, op, values)
    }

    fn set_values(&mut self) -> Result<Vec<String>, String> {
        let (t, lit) = self.next(true);
        if t != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (t, lit) = self.peek(true);
        match t {
            Tok::Ident | Tok::Comma => {
                let vals = self.identifiers()?;
                let (t, _) = self.next(true);
                if t != Tok::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(vals)
            }
            Tok::ClosedPar => {
                self.next(true);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    /// A possibly empty, comma separated list where empty slots mean "".
    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut vals: Vec<String> = Vec::new();
        loop {
            let (t, lit) = self.next(true);
            match t {
                Tok::Ident => {
                    vals.push(lit);
                    let (t2, l2) = self.peek(true);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(vals),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if vals.is_empty() {
                        vals.push(String::new());
                    }
                    let (t2, _) = self.peek(true);
                    if t2 == Tok::ClosedPar {
                        vals.push(String::new());
                        return Ok(vals);
                    }
                    if t2 == Tok::Comma {
                        self.next(true);
                        vals.push(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        let (t, _) = self.peek(true);
        if t == Tok::End || t == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (t, lit) = self.next(true);
        if t == Tok::Ident {
            Ok(vec![lit])
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

// --- validation helpers (upstream IsQualifiedName / IsValidLabelValue) -----

const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const DNS_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            match (b.first(), b.last()) {
                (Some(f), Some(l)) => {
                    (f.is_ascii_lowercase() || f.is_ascii_digit())
                        && (l.is_ascii_lowercase() || l.is_ascii_digit())
                        && b.iter()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                }
                _ => false,
            }
        })
}

/// Label key rules: optional DNS-subdomain prefix and `/`, then a name of
/// at most 63 characters. Returns upstream's joined detail text on error.
fn validate_qualified_name(key: &str) -> Result<(), String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                if prefix.len() > 253 {
                    errs.push("prefix part must be no more than 253 characters".to_string());
                }
                if !is_dns1123_subdomain(prefix) {
                    errs.push(format!("prefix part {DNS_SUBDOMAIN_MSG}"));
                }
            }
            *name
        }
        _ => {
            return Err(format!(
                "a qualified name {QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ))
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !is_qualified_part(name) {
        errs.push(format!("name part {QUALIFIED_NAME_MSG}"));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

fn validate_label_value(v: &str) -> Result<(), String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !v.is_empty() && !is_qualified_part(v) {
        errs.push(LABEL_VALUE_MSG.to_string());
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

/// `field.Invalid(...).Error()` text.
fn invalid(path: &str, quoted_value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {quoted_value}: {detail}")
}

/// `ErrorList.ToAggregate().Error()`: one error as is, several bracketed.
fn aggregate(errs: Vec<String>) -> String {
    if errs.len() == 1 {
        errs.into_iter().next().unwrap_or_default()
    } else {
        format!("[{}]", errs.join(", "))
    }
}

/// Go's `%q` for the characters that can appear in selectors.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%#v` for a `[]string`.
fn go_string_slice(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| go_quote(s)).collect();
    format!("[]string{{{}}}", items.join(", "))
}

// ---------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------

/// Field selector operators; `==` is folded into `Equals` as upstream does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOp {
    Equals,
    NotEquals,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    pub field: String,
    pub op: FieldOp,
    /// Unescaped value.
    pub value: String,
}

/// A parsed field selector: the AND of its requirements.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses `a=b,c!=d`; terms are split on unescaped commas and sorted, as
    /// upstream does before parsing, so the canonical form is stable.
    pub fn parse(s: &str) -> Result<FieldSelector, SelectorError> {
        let mut terms = split_terms(s);
        terms.sort();
        let mut requirements = Vec::new();
        for term in terms {
            if term.is_empty() {
                continue;
            }
            let Some((field, op, rhs)) = split_term(term) else {
                return Err(SelectorError::FieldTerm {
                    selector: s.to_string(),
                    term: term.to_string(),
                });
            };
            requirements.push(FieldRequirement {
                field: field.to_string(),
                op,
                value: unescape_value(rhs)?,
            });
        }
        Ok(FieldSelector { requirements })
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// `get` returns a field's value; a missing field compares as "".
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let have = get(&r.field).unwrap_or_default();
            match r.op {
                FieldOp::Equals => have == r.value,
                FieldOp::NotEquals => have != r.value,
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The value an `=`/`==` term pins `field` to, so storage can read one
    /// key (e.g. `metadata.name`) instead of listing.
    pub fn single_value(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.op == FieldOp::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = match r.op {
                FieldOp::Equals => "=",
                FieldOp::NotEquals => "!=",
            };
            write!(f, "{}{}{}", r.field, op, escape_value(&r.value))?;
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = SelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Splits on commas not preceded by a backslash escape, keeping escapes.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_escape = false;
    for (i, c) in s.char_indices() {
        if in_escape {
            in_escape = false;
        } else if c == '\\' {
            in_escape = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// The left side cannot be escaped, so the first operator found splits it
/// (`!=` and `==` are tried before `=` at each position).
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        if let Some(r) = rest.strip_prefix("!=") {
            return Some((&term[..i], FieldOp::NotEquals, r));
        }
        if let Some(r) = rest.strip_prefix("==") {
            return Some((&term[..i], FieldOp::Equals, r));
        }
        if let Some(r) = rest.strip_prefix('=') {
            return Some((&term[..i], FieldOp::Equals, r));
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut in_escape = false;
    for c in s.chars() {
        if in_escape {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => return Err(SelectorError::InvalidEscape(format!("\\{c}"))),
            }
            in_escape = false;
            continue;
        }
        match c {
            '\\' => in_escape = true,
            ',' | '=' => return Err(SelectorError::UnescapedChar(c)),
            c => out.push(c),
        }
    }
    if in_escape {
        return Err(SelectorError::InvalidEscape("\\".to_string()));
    }
    Ok(out)
}

/// Escapes `\`, `,` and `=` so a value survives a round trip.
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn round(s: &str) -> String {
        LabelSelector::parse(s).unwrap().to_string()
    }

    #[test]
    fn parses_and_renders_canonically() {
        assert_eq!(round(""), "");
        assert_eq!(round("x=a"), "x=a");
        assert_eq!(round("x==a"), "x==a");
        assert_eq!(round(" x = a , y != b "), "x=a,y!=b");
        assert_eq!(round("z,!y,x in (c, a,b)"), "x in (a,b,c),!y,z");
        assert_eq!(round("x notin (a)"), "x notin (a)");
        assert_eq!(round("x>1,y<2"), "x>1,y<2");
        assert_eq!(round("x in (foo,,baz)"), "x in (,baz,foo)");
        assert_eq!(round("x in ()"), "x in ()");
        assert_eq!(round("x="), "x=");
        assert_eq!(round("example.com/a=b"), "example.com/a=b");
        // keywords are plain identifiers in value position
        assert_eq!(round("in in (in,notin)"), "in in (in,notin)");
        assert_eq!(round("a=b,a=c"), "a=b,a=c");
    }

    #[test]
    fn parse_errors_read_like_upstream() {
        let e = |s: &str| LabelSelector::parse(s).unwrap_err().to_string();
        assert_eq!(e("x=a b"), "found 'b', expected: ',' or 'end of string'");
        assert_eq!(e("x=a,"), "found '', expected: identifier after ','");
        assert_eq!(
            e(",x"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            e("x in a"),
            "unable to parse requirement: found 'a' expected: '('"
        );
        assert_eq!(
            e("x in (a"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            e("x (a)"),
            "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            e("x>a"),
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        assert!(e("a@b=c").starts_with(
            "unable to parse requirement: <nil>: Invalid value: \"a@b\": name part must consist of"
        ));
        assert!(e("x=a@b").starts_with(
            "unable to parse requirement: values[0][x]: Invalid value: \"a@b\": a valid label must be an empty string"
        ));
        assert!(e("Example.com/x=a").contains("prefix part a lowercase RFC 1123 subdomain"));
        let long = "a".repeat(64);
        assert!(e(&long).contains("name part must be no more than 63 characters"));
        assert!(e(&format!("x={long}")).contains("must be no more than 63 characters"));
        assert!(e("a/b/c").contains("a qualified name must consist of"));
        assert!(e("!x=a").contains("found '=', expected: ',' or 'end of string'"));
    }

    #[test]
    fn matching() {
        let l = labels(&[("app", "web"), ("tier", "fe"), ("n", "5")]);
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&l);
        assert!(m(""));
        assert!(m("app=web"));
        assert!(m("app==web,tier"));
        assert!(!m("app!=web"));
        assert!(m("missing!=x"));
        assert!(m("app in (web,db)"));
        assert!(!m("app notin (web)"));
        assert!(m("missing notin (web)"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(m("n>4,n<6"));
        assert!(!m("n>5"));
        assert!(!m("app>1"));
        assert!(!m("missing>1"));
        assert!(!m("missing in (a)"));
        assert!(!LabelSelector::nothing().matches(&l));
        assert!(!LabelSelector::nothing().is_empty());
        assert!(LabelSelector::everything().is_empty());
    }

    #[test]
    fn from_json_selector() {
        let s = LabelSelector::from_json(&json!({
            "matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [
                {"key": "c", "operator": "In", "values": ["y", "x"]},
                {"key": "d", "operator": "DoesNotExist"},
                {"key": "a", "operator": "Exists"}
            ]
        }))
        .unwrap();
        assert_eq!(s.to_string(), "a=1,a,b=2,c in (x,y),!d");
        assert!(s.matches(&labels(&[("a", "1"), ("b", "2"), ("c", "x")])));
        assert!(!s.matches(&labels(&[("a", "1"), ("b", "2"), ("c", "z")])));
        assert_eq!(s.requires_exact_match("b"), Some("2"));
        assert!(LabelSelector::from_json(&json!({})).unwrap().is_empty());
        assert!(LabelSelector::from_json(&Value::Null).unwrap().is_nothing());
        let err = LabelSelector::from_json(&json!({
            "matchExpressions": [{"key": "a", "operator": "Foo"}]
        }))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"Foo\" is not a valid label selector operator"
        );
        let err = LabelSelector::from_json(&json!({
            "matchExpressions": [{"key": "a", "operator": "In", "values": []}]
        }))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
        );
        let err = LabelSelector::from_json(&json!({
            "matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]
        }))
        .unwrap_err();
        assert!(err.to_string().contains("values set must be empty"));
        assert!(LabelSelector::from_json(&json!({"matchLabels": {"a b": "x"}})).is_err());
        let s = LabelSelector::parse("b=1")
            .unwrap()
            .with_requirements([Requirement::new("a", Operator::Exists, vec![]).unwrap()]);
        assert_eq!(s.to_string(), "a,b=1");
    }

    #[test]
    fn field_selector_parse_and_match() {
        let s = FieldSelector::parse("status.phase!=Failed,metadata.name==foo").unwrap();
        assert_eq!(s.to_string(), "metadata.name=foo,status.phase!=Failed");
        assert_eq!(s.single_value("metadata.name"), Some("foo"));
        assert_eq!(s.single_value("status.phase"), None);
        let get = |phase: &'static str| {
            move |f: &str| match f {
                "metadata.name" => Some("foo".to_string()),
                "status.phase" => Some(phase.to_string()),
                _ => None,
            }
        };
        assert!(s.matches(get("Running")));
        assert!(!s.matches(get("Failed")));
        let missing = FieldSelector::parse("spec.nodeName=").unwrap();
        assert!(missing.matches(|_| None));
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert!(FieldSelector::parse("a=b,,").unwrap().requirements().len() == 1);
    }

    #[test]
    fn field_selector_escapes() {
        let s = FieldSelector::parse(r"a=x\,y\=z\\w").unwrap();
        assert_eq!(s.requirements()[0].value, r"x,y=z\w");
        assert_eq!(s.to_string(), r"a=x\,y\=z\\w");
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err().to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\q").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \q"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \"
        );
        assert_eq!(
            FieldSelector::parse("a=b,c").unwrap_err().to_string(),
            "invalid selector: 'a=b,c'; can't understand 'c'"
        );
    }
}
