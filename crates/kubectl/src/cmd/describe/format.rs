//! Pieces every describer shares, each as upstream's describe.go prints
//! it: label and annotation blocks, taints, tolerations, times, ages and
//! the `Events:` table.

use std::collections::BTreeMap;

use apimachinery::quantity::Quantity;
use k8s_openapi::api::core::v1::{Event, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::jiff::{tz::TimeZone, Timestamp};

use super::writer::Writer;

/// Annotations describe never shows.
const SKIP_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];
/// Longer `key: value` annotations print folded.
const MAX_ANNOTATION_LEN: usize = 140;

/// `printLabelsMultiline`: `Title:<TAB>k=v`, one per line, or `<none>`.
pub fn labels(w: &mut Writer, title: &str, labels: Option<&BTreeMap<String, String>>) {
    labels_indented(w, "", title, "\t", labels);
}

/// `printLabelsMultilineWithIndent`.
pub fn labels_indented(
    w: &mut Writer,
    initial: &str,
    title: &str,
    inner: &str,
    labels: Option<&BTreeMap<String, String>>,
) {
    w.write(0, &format!("{initial}{title}:{inner}"));
    let Some(labels) = labels.filter(|l| !l.is_empty()) else {
        w.line("<none>");
        return;
    };
    for (i, (k, v)) in labels.iter().enumerate() {
        if i != 0 {
            w.write(0, initial);
            w.write(0, inner);
        }
        w.write(0, &format!("{k}={v}\n"));
    }
}

/// `printAnnotationsMultiline`: long or multi-line values fold under the key.
pub fn annotations(w: &mut Writer, title: &str, annotations: Option<&BTreeMap<String, String>>) {
    w.write(0, &format!("{title}:\t"));
    let keys: Vec<(&String, &String)> = annotations
        .into_iter()
        .flatten()
        .filter(|(k, _)| !SKIP_ANNOTATIONS.contains(&k.as_str()))
        .collect();
    if keys.is_empty() {
        w.line("<none>");
        return;
    }
    let indent = "\t";
    for (i, (k, v)) in keys.into_iter().enumerate() {
        if i != 0 {
            w.write(0, indent);
        }
        let value = v.strip_suffix('\n').unwrap_or(v);
        if value.len() + k.len() + 2 > MAX_ANNOTATION_LEN || value.contains('\n') {
            w.write(0, &format!("{k}:\n"));
            for s in value.split('\n') {
                w.write(
                    0,
                    &format!("{indent}  {}\n", shorten(s, MAX_ANNOTATION_LEN - 2)),
                );
            }
        } else {
            w.write(0, &format!("{k}: {value}\n"));
        }
    }
}

/// Cuts `s` to `max` bytes plus `...` (Go slices bytes; we stay on a
/// character boundary).
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// `Taint.ToString`: `key=value:Effect`.
pub fn taint_string(t: &Taint) -> String {
    let mut s = t.key.clone();
    if let Some(v) = t.value.as_deref().filter(|v| !v.is_empty()) {
        s.push('=');
        s.push_str(v);
    }
    if !t.effect.is_empty() {
        s.push(':');
        s.push_str(&t.effect);
    }
    s
}

/// `printTaintsMultilineWithIndent`, sorted by effect then key.
pub fn taints(w: &mut Writer, title: &str, taints: &[Taint]) {
    w.write(0, &format!("{title}:\t"));
    if taints.is_empty() {
        w.line("<none>");
        return;
    }
    let mut sorted: Vec<&Taint> = taints.iter().collect();
    sorted
        .sort_by(|a, b| format!("{},{}", a.effect, a.key).cmp(&format!("{},{}", b.effect, b.key)));
    for (i, t) in sorted.into_iter().enumerate() {
        if i != 0 {
            w.write(0, "\t");
        }
        w.write(0, &format!("{}\n", taint_string(t)));
    }
}

/// `printTolerationsMultilineWithIndent`, sorted by key.
pub fn tolerations(w: &mut Writer, initial: &str, title: &str, tolerations: &[Toleration]) {
    w.write(0, &format!("{initial}{title}:\t"));
    if tolerations.is_empty() {
        w.line("<none>");
        return;
    }
    let mut sorted: Vec<&Toleration> = tolerations.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for (i, t) in sorted.into_iter().enumerate() {
        if i != 0 {
            w.write(0, initial);
            w.write(0, "\t");
        }
        let key = t.key.as_deref().unwrap_or_default();
        let value = t.value.as_deref().unwrap_or_default();
        let effect = t.effect.as_deref().unwrap_or_default();
        let mut s = key.to_string();
        if !value.is_empty() {
            s.push_str(&format!("={value}"));
        }
        if !effect.is_empty() {
            s.push_str(&format!(":{effect}"));
        }
        if t.operator.as_deref() == Some("Exists") && value.is_empty() {
            if !key.is_empty() || !effect.is_empty() {
                s.push_str(" op=Exists");
            } else {
                s.push_str("op=Exists");
            }
        }
        if let Some(secs) = t.toleration_seconds {
            s.push_str(&format!(" for {secs}s"));
        }
        w.write(0, &format!("{s}\n"));
    }
}

/// Go's `time.RFC1123Z` in the local zone, as `metav1.Time` decodes.
pub fn rfc1123z(t: &Timestamp) -> String {
    t.to_zoned(TimeZone::system())
        .strftime("%a, %d %b %Y %H:%M:%S %z")
        .to_string()
}

/// [`rfc1123z`] of an optional time; Go formats the zero time.
pub fn time_or_zero(t: Option<&Time>) -> String {
    match t {
        Some(t) => rfc1123z(&t.0),
        None => "Mon, 01 Jan 0001 00:00:00 +0000".to_string(),
    }
}

/// `translateTimestampSince`: the age of `t`, or `<unknown>`.
pub fn since(t: Option<&Timestamp>) -> String {
    match t {
        Some(t) => {
            let d = Timestamp::now().duration_since(*t);
            human_duration(d.as_secs())
        }
        None => "<unknown>".to_string(),
    }
}

/// Upstream's `duration.HumanDuration` of `seconds`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// `printBool`.
pub fn bool_title(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A quantity as `Quantity.String()` prints it (canonical form).
pub fn quantity(q: &str) -> String {
    Quantity::parse(q)
        .map(|q| q.to_string())
        .unwrap_or_else(|_| q.to_string())
}

/// `printController`: `Kind/name` of the controlling owner, if any.
pub fn controller(owners: Option<&Vec<OwnerReference>>) -> Option<String> {
    owners?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| format!("{}/{}", o.kind, o.name))
}

/// `DescribeEvents`: the events table, oldest last-seen first.
pub fn events(w: &mut Writer, events: &[Event]) {
    if events.is_empty() {
        w.write(0, "Events:\t<none>\n");
        return;
    }
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0));
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
    w.write(1, "----\t------\t----\t----\t-------\n");
    for e in sorted {
        let first = match &e.event_time {
            Some(t) => since(Some(&t.0)),
            None => since(e.first_timestamp.as_ref().map(|t| &t.0)),
        };
        let interval = if let Some(s) = &e.series {
            format!(
                "{} (x{} over {first})",
                since(s.last_observed_time.as_ref().map(|t| &t.0)),
                s.count.unwrap_or(0)
            )
        } else if e.count.unwrap_or(0) > 1 {
            format!(
                "{} (x{} over {first})",
                since(e.last_timestamp.as_ref().map(|t| &t.0)),
                e.count.unwrap_or(0)
            )
        } else {
            first
        };
        let source = e
            .source
            .as_ref()
            .and_then(|s| s.component.clone())
            .filter(|c| !c.is_empty())
            .or_else(|| e.reporting_component.clone())
            .unwrap_or_default();
        w.write(
            1,
            &format!(
                "{}\t{}\t{interval}\t{source}\t{}\n",
                e.type_.as_deref().unwrap_or_default(),
                e.reason.as_deref().unwrap_or_default(),
                e.message.as_deref().unwrap_or_default().trim()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(123), "2m3s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(50 * 3600), "2d2h");
        assert_eq!(human_duration(-5), "<invalid>");
    }

    #[test]
    fn label_blocks() {
        let mut w = Writer::new();
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), "2".to_string());
        m.insert("a".to_string(), "1".to_string());
        labels(&mut w, "Labels", Some(&m));
        labels(&mut w, "Selector", None);
        assert_eq!(
            w.finish(),
            "Labels:    a=1\n           b=2\nSelector:  <none>\n"
        );
    }

    #[test]
    fn long_annotations_fold() {
        let mut w = Writer::new();
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), "v".repeat(150));
        m.insert(SKIP_ANNOTATIONS[0].to_string(), "{}".to_string());
        annotations(&mut w, "Annotations", Some(&m));
        let out = w.finish();
        assert!(out.starts_with("Annotations:  k:\n"));
        assert!(out.ends_with(&format!("{}...\n", "v".repeat(138))));
    }

    #[test]
    fn toleration_text() {
        let mut w = Writer::new();
        let t = Toleration {
            key: Some("node.kubernetes.io/not-ready".into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: Some(300),
            value: None,
        };
        tolerations(&mut w, "", "Tolerations", &[t]);
        assert_eq!(
            w.finish(),
            "Tolerations:  node.kubernetes.io/not-ready:NoExecute op=Exists for 300s\n"
        );
    }
}
