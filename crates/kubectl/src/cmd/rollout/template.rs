//! How `rollout history --revision` and `rollout undo --dry-run` show a
//! pod template: upstream's `DescribePodTemplate`, written through a
//! prefix writer straight into a buffer (tabs stay tabs).

use serde_json::Value;

/// The pod template a ControllerRevision recorded (its data patches
/// `spec.template` wholesale).
pub fn apply_revision(_owner: &Value, rev: &Value) -> Value {
    let mut t = rev["data"]["spec"]["template"].clone();
    if let Some(m) = t.as_object_mut() {
        m.remove("$patch");
    }
    t
}

/// Rows through a tab writer with minwidth 0, tabwidth 8, padding 2.
pub fn tabbed(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                widths[i] = widths[i].max(c.chars().count() + 2);
            }
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                out.push_str(&" ".repeat(widths[i] - c.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `title:\tk=v` lines, `<none>` when empty, as `printLabelsMultiline`.
fn multiline(out: &mut String, title: &str, map: &Value) {
    out.push_str(&format!("{title}:\t"));
    let Some(m) = map.as_object().filter(|m| !m.is_empty()) else {
        out.push_str("<none>\n");
        return;
    };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        out.push_str(&format!("{k}={}\n", str_of(&m[k.as_str()])));
    }
}

/// `  Annotations:\tk: v` lines, as `printAnnotationsMultiline`.
fn annotations(out: &mut String, map: &Value) {
    out.push_str("  Annotations:\t");
    let Some(m) = map.as_object() else { return };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        out.push_str(&format!("{k}: {}\n", str_of(&m[k.as_str()])));
    }
}

fn ports(ps: &Value, field: &str) -> String {
    ps.as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{}/{}",
                p[field].as_i64().unwrap_or(0),
                p["protocol"].as_str().unwrap_or("TCP")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_containers(out: &mut String, label: &str, ctrs: &[Value]) {
    out.push_str(&format!("  {label}:\n"));
    for c in ctrs {
        out.push_str(&format!("   {}:\n", c["name"].as_str().unwrap_or_default()));
        out.push_str(&format!(
            "    Image:\t{}\n",
            c["image"].as_str().unwrap_or_default()
        ));
        let p = ports(&c["ports"], "containerPort");
        let hp = ports(&c["ports"], "hostPort");
        let none = |s: String| {
            if s.is_empty() {
                "<none>".to_string()
            } else {
                s
            }
        };
        if p.contains(',') {
            out.push_str(&format!("    Ports:\t{p}\n"));
        } else {
            out.push_str(&format!("    Port:\t{}\n", none(p)));
        }
        if hp.contains(',') {
            out.push_str(&format!("    Host Ports:\t{hp}\n"));
        } else {
            out.push_str(&format!("    Host Port:\t{}\n", none(hp)));
        }
        for (field, title) in [("command", "Command"), ("args", "Args")] {
            if let Some(list) = c[field].as_array().filter(|l| !l.is_empty()) {
                out.push_str(&format!("    {title}:\n"));
                for a in list {
                    out.push_str(&format!("      {}\n", str_of(a)));
                }
            }
        }
        for (field, title) in [("limits", "Limits"), ("requests", "Requests")] {
            if let Some(m) = c["resources"][field].as_object().filter(|m| !m.is_empty()) {
                out.push_str(&format!("    {title}:\n"));
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                for k in keys {
                    out.push_str(&format!("      {k}:\t{}\n", str_of(&m[k.as_str()])));
                }
            }
        }
        match c["env"].as_array().filter(|l| !l.is_empty()) {
            None => out.push_str("    Environment:\t<none>\n"),
            Some(env) => {
                out.push_str("    Environment:\n");
                for e in env {
                    let name = e["name"].as_str().unwrap_or_default();
                    if let Some(r) = e["valueFrom"]["configMapKeyRef"].as_object() {
                        out.push_str(&format!(
                            "      {name}:\t<set to the key '{}' of config map '{}'>\tOptional: {}\n",
                            str_of(&r["key"].clone()),
                            str_of(&r["name"].clone()),
                            r.get("optional").and_then(Value::as_bool).unwrap_or(false)
                        ));
                    } else if let Some(r) = e["valueFrom"]["secretKeyRef"].as_object() {
                        out.push_str(&format!(
                            "      {name}:\t<set to the key '{}' in secret '{}'>\tOptional: {}\n",
                            str_of(&r["key"].clone()),
                            str_of(&r["name"].clone()),
                            r.get("optional").and_then(Value::as_bool).unwrap_or(false)
                        ));
                    } else if let Some(p) = e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                        out.push_str(&format!(
                            "      {name}:\t ({}:{p})\n",
                            e["valueFrom"]["fieldRef"]["apiVersion"]
                                .as_str()
                                .unwrap_or("v1")
                        ));
                    } else {
                        out.push_str(&format!("      {name}:\t{}\n", str_of(&e["value"])));
                    }
                }
            }
        }
        match c["volumeMounts"].as_array().filter(|l| !l.is_empty()) {
            None => out.push_str("    Mounts:\t<none>\n"),
            Some(ms) => {
                out.push_str("    Mounts:\n");
                let mut ms: Vec<&Value> = ms.iter().collect();
                ms.sort_by_key(|m| m["mountPath"].as_str().unwrap_or_default().to_string());
                for m in ms {
                    let access = if m["readOnly"] == true { "ro" } else { "rw" };
                    let sub = m["subPath"].as_str().filter(|s| !s.is_empty());
                    let extra = match sub {
                        Some(s) => format!("{access},path={s:?}"),
                        None => access.to_string(),
                    };
                    out.push_str(&format!(
                        "      {} from {} ({extra})\n",
                        m["mountPath"].as_str().unwrap_or_default(),
                        m["name"].as_str().unwrap_or_default()
                    ));
                }
            }
        }
    }
}

/// `Pod Template:` and what follows.
pub fn describe(t: &Value) -> String {
    let mut out = String::from("Pod Template:\n");
    if t.is_null() {
        out.push_str("  <unset>");
        return out;
    }
    multiline(&mut out, "  Labels", &t["metadata"]["labels"]);
    if t["metadata"]["annotations"]
        .as_object()
        .is_some_and(|m| !m.is_empty())
    {
        annotations(&mut out, &t["metadata"]["annotations"]);
    }
    let spec = &t["spec"];
    if let Some(sa) = spec["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        out.push_str(&format!("  Service Account:\t{sa}\n"));
    }
    if let Some(ic) = spec["initContainers"].as_array().filter(|l| !l.is_empty()) {
        describe_containers(&mut out, "Init Containers", ic);
    }
    match spec["containers"].as_array().filter(|l| !l.is_empty()) {
        Some(c) => describe_containers(&mut out, "Containers", c),
        None => out.push_str("  Containers: <none>\n"),
    }
    match spec["volumes"].as_array().filter(|l| !l.is_empty()) {
        None => out.push_str("  Volumes:\t<none>\n"),
        Some(vols) => {
            out.push_str("  Volumes:\n");
            for v in vols {
                out.push_str(&format!("   {}:\n", v["name"].as_str().unwrap_or_default()));
                if let Some(cm) = v.get("configMap") {
                    out.push_str("    Type:\tConfigMap (a volume populated by a ConfigMap)\n");
                    out.push_str(&format!("    Name:\t{}\n", str_of(&cm["name"])));
                    out.push_str(&format!(
                        "    Optional:\t{}\n",
                        cm["optional"].as_bool().unwrap_or(false)
                    ));
                } else if let Some(ed) = v.get("emptyDir") {
                    out.push_str("    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n");
                    out.push_str(&format!("    Medium:\t{}\n", str_of(&ed["medium"])));
                    match ed["sizeLimit"].as_str() {
                        Some(s) => out.push_str(&format!("    SizeLimit:\t{s}\n")),
                        None => out.push_str("    SizeLimit:\t<unset>\n"),
                    }
                }
            }
        }
    }
    if let Some(p) = spec["priorityClassName"].as_str().filter(|s| !s.is_empty()) {
        out.push_str(&format!("  Priority Class Name:\t{p}\n"));
    }
    multiline(&mut out, "  Node-Selectors", &spec["nodeSelector"]);
    match spec["tolerations"].as_array().filter(|l| !l.is_empty()) {
        None => out.push_str("  Tolerations:\t<none>\n"),
        Some(ts) => {
            out.push_str("  Tolerations:\t");
            for (i, t) in ts.iter().enumerate() {
                if i > 0 {
                    out.push('\t');
                }
                let mut s = str_of(&t["key"]);
                if let Some(v) = t["value"].as_str().filter(|v| !v.is_empty()) {
                    s.push_str(&format!("={v}"));
                } else if t["operator"] == "Exists" && !s.is_empty() {
                    s = format!("{s} op=Exists");
                }
                if let Some(e) = t["effect"].as_str().filter(|v| !v.is_empty()) {
                    s.push_str(&format!(":{e}"));
                }
                if let Some(secs) = t["tolerationSeconds"].as_i64() {
                    s.push_str(&format!(" for {secs}s"));
                }
                out.push_str(&s);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describes_a_template() {
        let t = json!({"metadata": {"labels": {"app": "x", "b": "c"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
        assert_eq!(
            describe(&t),
            "Pod Template:\n  Labels:\tapp=x\n\tb=c\n  Containers:\n   web:\n    Image:\tnginx\n    Port:\t<none>\n    Host Port:\t<none>\n    Environment:\t<none>\n    Mounts:\t<none>\n  Volumes:\t<none>\n  Node-Selectors:\t<none>\n  Tolerations:\t<none>\n"
        );
    }

    #[test]
    fn tab_writer() {
        let rows = vec![
            vec!["REVISION".to_string(), "CHANGE-CAUSE".to_string()],
            vec!["1".to_string(), "<none>".to_string()],
        ];
        assert_eq!(tabbed(&rows), "REVISION  CHANGE-CAUSE\n1         <none>\n");
    }
}
