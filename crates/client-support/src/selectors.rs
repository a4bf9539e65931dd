//! Matching of typed label and node selectors, shared by the scheduler and
//! the controllers (upstream shares the same helpers between them, so a
//! DaemonSet's idea of an eligible node is the scheduler's).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy every `matchLabels` pair and `matchExpressions`
/// requirement (`In`, `NotIn`, `Exists`, `DoesNotExist`); `{}` matches all.
/// A `None` selector is the caller's to interpret.
pub fn label_selector_matches(
    sel: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
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

/// One node selector requirement against a label (or field) value, with
/// upstream's rules: `In`/`NotIn` need values, `Exists`/`DoesNotExist` must
/// have none, `Gt`/`Lt` compare one integer.
pub fn node_selector_requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    match r.operator.as_str() {
        "In" => !values.is_empty() && value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => !values.is_empty() && value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => values.is_empty() && value.is_some(),
        "DoesNotExist" => values.is_empty() && value.is_none(),
        op @ ("Gt" | "Lt") => {
            let [bound] = values else { return false };
            let (Ok(bound), Some(Ok(v))) = (bound.parse::<i64>(), value.map(str::parse::<i64>))
            else {
                return false;
            };
            if op == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// Whether one node selector term matches a node (its expressions and
/// fields ANDed; an empty term matches nothing; the only field is
/// `metadata.name` with `In`/`NotIn`).
pub fn node_matches_term(
    term: &NodeSelectorTerm,
    name: &str,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    exprs
        .iter()
        .all(|r| node_selector_requirement_matches(r, label(&r.key)))
        && fields.iter().all(|r| {
            r.key == "metadata.name"
                && matches!(r.operator.as_str(), "In" | "NotIn")
                && node_selector_requirement_matches(r, Some(name))
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
        assert!(label_selector_matches(
            &sel,
            Some(&l(json!({"app": "web", "env": "x"})))
        ));
        assert!(!label_selector_matches(
            &sel,
            Some(&l(json!({"app": "web", "env": "x", "tier": "db"})))
        ));
        assert!(!label_selector_matches(
            &sel,
            Some(&l(json!({"app": "web"})))
        ));
        assert!(!label_selector_matches(&sel, None));
        assert!(label_selector_matches(&LabelSelector::default(), None));
    }
}
