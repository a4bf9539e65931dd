//! `metav1.LabelSelector` matching (a `None` selector is handled by callers:
//! for pod affinity and topology spread it selects nothing).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy every `matchLabels` pair and `matchExpressions`
/// requirement (`In`, `NotIn`, `Exists`, `DoesNotExist`); `{}` matches all.
pub fn selector_matches(sel: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k));
    if let Some(ml) = &sel.match_labels {
        if !ml.iter().all(|(k, v)| get(k) == Some(v)) {
            return false;
        }
    }
    sel.match_expressions.iter().flatten().all(|r| {
        let values = r.values.as_deref().unwrap_or(&[]);
        let v = get(&r.key);
        match r.operator.as_str() {
            "In" => v.is_some_and(|v| values.contains(v)),
            "NotIn" => v.is_none_or(|v| !values.contains(v)),
            "Exists" => v.is_some(),
            "DoesNotExist" => v.is_none(),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn match_labels_and_expressions() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]},
                                 {"key": "env", "operator": "Exists"}]
        }))
        .unwrap();
        let l =
            |v: serde_json::Value| serde_json::from_value::<BTreeMap<String, String>>(v).unwrap();
        assert!(selector_matches(
            &sel,
            Some(&l(json!({"app": "web", "env": "x"})))
        ));
        assert!(!selector_matches(
            &sel,
            Some(&l(json!({"app": "web", "env": "x", "tier": "db"})))
        ));
        assert!(!selector_matches(&sel, Some(&l(json!({"app": "web"})))));
        assert!(!selector_matches(&sel, None));
        assert!(selector_matches(&LabelSelector::default(), None));
    }
}
