//! `KubeSchedulerConfiguration` (`kubescheduler.config.k8s.io/v1`): the
//! parts this scheduler honours — profiles with their `schedulerName`,
//! enabled/disabled filter and score plugins with score weights,
//! NodeResourcesFit's scoring strategy, `percentageOfNodesToScore`, the
//! pod backoff bounds, `clientConnection.kubeconfig` and
//! `leaderElection.leaderElect`. Other fields are accepted and ignored.

use std::time::Duration;

use serde::Deserialize;

use crate::plugins::ScoringStrategy;
use crate::queue::QueueConfig;
use crate::Error;

/// The default profile's scheduler name.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// Filter plugins in upstream's default order (upstream's VolumeZone,
/// between VolumeBinding and PodTopologySpread, is not implemented).
pub const DEFAULT_FILTERS: &[&str] = &[
    "NodeUnschedulable",
    "NodeName",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeBinding",
    "PodTopologySpread",
    "InterPodAffinity",
];

/// Score plugins and upstream's default weights.
pub const DEFAULT_SCORES: &[(&str, i64)] = &[
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodeResourcesFit", 1),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("InterPodAffinity", 2),
    ("PodTopologySpread", 2),
];

/// One scheduling profile, resolved.
#[derive(Clone, Debug)]
pub struct Profile {
    pub scheduler_name: String,
    /// Enabled filters, in order.
    pub filters: Vec<String>,
    /// Enabled scorers with weights.
    pub scores: Vec<(String, i64)>,
    pub percentage_of_nodes_to_score: Option<i32>,
    pub fit_strategy: ScoringStrategy,
    /// `(resource, weight)` for NodeResourcesFit scoring.
    pub fit_resources: Vec<(String, i64)>,
    /// `(resource, weight)` for NodeResourcesBalancedAllocation.
    pub balanced_resources: Vec<(String, i64)>,
    /// VolumeBinding's `bindTimeoutSeconds`: how long PreBind waits for
    /// the pod's claims to be bound.
    pub bind_timeout: Duration,
}

impl Profile {
    /// The default profile (`default-scheduler`, every plugin, default weights).
    pub fn default_profile(name: &str) -> Profile {
        Profile {
            scheduler_name: name.to_string(),
            filters: DEFAULT_FILTERS.iter().map(|s| s.to_string()).collect(),
            scores: DEFAULT_SCORES
                .iter()
                .map(|(n, w)| (n.to_string(), *w))
                .collect(),
            percentage_of_nodes_to_score: None,
            fit_strategy: ScoringStrategy::LeastAllocated,
            fit_resources: vec![("cpu".into(), 1), ("memory".into(), 1)],
            balanced_resources: vec![("cpu".into(), 1), ("memory".into(), 1)],
            bind_timeout: crate::plugins::volumebinding_default_timeout(),
        }
    }
}

/// The resolved configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub profiles: Vec<Profile>,
    /// Global `percentageOfNodesToScore` (0 or unset: adaptive).
    pub percentage_of_nodes_to_score: Option<i32>,
    pub queue: QueueConfig,
    pub kubeconfig: Option<String>,
    pub leader_elect: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            profiles: vec![Profile::default_profile(DEFAULT_SCHEDULER_NAME)],
            percentage_of_nodes_to_score: None,
            queue: QueueConfig::default(),
            kubeconfig: None,
            leader_elect: true,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Raw {
    api_version: Option<String>,
    kind: Option<String>,
    percentage_of_nodes_to_score: Option<i32>,
    pod_initial_backoff_seconds: Option<u64>,
    pod_max_backoff_seconds: Option<u64>,
    client_connection: Option<RawClient>,
    leader_election: Option<RawLeader>,
    #[serde(default)]
    profiles: Vec<RawProfile>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawClient {
    kubeconfig: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawLeader {
    leader_elect: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    scheduler_name: Option<String>,
    percentage_of_nodes_to_score: Option<i32>,
    plugins: Option<RawPlugins>,
    #[serde(default)]
    plugin_config: Vec<RawPluginConfig>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPlugins {
    multi_point: Option<RawSet>,
    filter: Option<RawSet>,
    score: Option<RawSet>,
}

#[derive(Deserialize, Default)]
struct RawSet {
    #[serde(default)]
    enabled: Vec<RawPlugin>,
    #[serde(default)]
    disabled: Vec<RawPlugin>,
}

#[derive(Deserialize)]
struct RawPlugin {
    name: String,
    weight: Option<i64>,
}

#[derive(Deserialize)]
struct RawPluginConfig {
    name: String,
    #[serde(default)]
    args: serde_json::Value,
}

fn apply_set(list: &mut Vec<(String, i64)>, set: &RawSet, known: &[(&str, i64)]) {
    if set.disabled.iter().any(|p| p.name == "*") {
        list.clear();
    }
    list.retain(|(n, _)| !set.disabled.iter().any(|d| &d.name == n));
    for e in &set.enabled {
        let default = known
            .iter()
            .find(|(n, _)| *n == e.name)
            .map(|(_, w)| *w)
            .unwrap_or(1);
        let w = e.weight.filter(|w| *w > 0).unwrap_or(default);
        match list.iter_mut().find(|(n, _)| *n == e.name) {
            Some(x) => x.1 = w,
            None => list.push((e.name.clone(), w)),
        }
    }
}

fn resource_weights(v: &serde_json::Value) -> Option<Vec<(String, i64)>> {
    let arr = v.get("resources")?.as_array()?;
    Some(
        arr.iter()
            .filter_map(|r| {
                Some((
                    r.get("name")?.as_str()?.to_string(),
                    r.get("weight").and_then(|w| w.as_i64()).unwrap_or(1),
                ))
            })
            .collect(),
    )
}

impl Config {
    /// Parses a `KubeSchedulerConfiguration` document.
    pub fn from_yaml(text: &str) -> Result<Config, Error> {
        let raw: Raw = serde_yaml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        if let Some(v) = raw.api_version.as_deref() {
            if v != "kubescheduler.config.k8s.io/v1" {
                return Err(Error::Config(format!(
                    "unsupported apiVersion {v:?} (supported: kubescheduler.config.k8s.io/v1)"
                )));
            }
        }
        if let Some(k) = raw.kind.as_deref() {
            if k != "KubeSchedulerConfiguration" {
                return Err(Error::Config(format!("unsupported kind {k:?}")));
            }
        }
        let mut cfg = Config {
            percentage_of_nodes_to_score: raw.percentage_of_nodes_to_score,
            ..Config::default()
        };
        if let Some(s) = raw.pod_initial_backoff_seconds {
            cfg.queue.initial_backoff = Duration::from_secs(s);
        }
        if let Some(s) = raw.pod_max_backoff_seconds {
            cfg.queue.max_backoff = Duration::from_secs(s);
        }
        cfg.kubeconfig = raw.client_connection.and_then(|c| c.kubeconfig);
        if let Some(le) = raw.leader_election.and_then(|l| l.leader_elect) {
            cfg.leader_elect = le;
        }
        if !raw.profiles.is_empty() {
            cfg.profiles.clear();
        }
        let known_filters: Vec<(&str, i64)> = DEFAULT_FILTERS.iter().map(|n| (*n, 0)).collect();
        for rp in raw.profiles {
            let name = rp
                .scheduler_name
                .unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.to_string());
            if cfg.profiles.iter().any(|p| p.scheduler_name == name) {
                return Err(Error::Config(format!(
                    "profiles: duplicate schedulerName {name:?}"
                )));
            }
            let mut p = Profile::default_profile(&name);
            p.percentage_of_nodes_to_score = rp.percentage_of_nodes_to_score;
            let mut filters: Vec<(String, i64)> =
                p.filters.iter().map(|f| (f.clone(), 0)).collect();
            if let Some(pl) = rp.plugins {
                for set in [pl.multi_point.as_ref(), pl.filter.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    apply_set(&mut filters, set, &known_filters);
                }
                for set in [pl.multi_point.as_ref(), pl.score.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    apply_set(&mut p.scores, set, DEFAULT_SCORES);
                }
            }
            // Only plugins this scheduler knows take part.
            filters.retain(|(n, _)| DEFAULT_FILTERS.contains(&n.as_str()));
            p.filters = filters.into_iter().map(|(n, _)| n).collect();
            p.scores
                .retain(|(n, _)| DEFAULT_SCORES.iter().any(|(k, _)| k == n));
            for pc in rp.plugin_config {
                match pc.name.as_str() {
                    "NodeResourcesFit" => {
                        if let Some(s) = pc.args.get("scoringStrategy") {
                            match s.get("type").and_then(|t| t.as_str()) {
                                Some("MostAllocated") => {
                                    p.fit_strategy = ScoringStrategy::MostAllocated
                                }
                                Some("LeastAllocated") | None => {
                                    p.fit_strategy = ScoringStrategy::LeastAllocated
                                }
                                Some(other) => {
                                    return Err(Error::Config(format!(
                                    "NodeResourcesFit: scoring strategy {other:?} is not supported"
                                )))
                                }
                            }
                            if let Some(r) = resource_weights(s) {
                                p.fit_resources = r;
                            }
                        }
                    }
                    "NodeResourcesBalancedAllocation" => {
                        if let Some(r) = resource_weights(&pc.args) {
                            p.balanced_resources = r;
                        }
                    }
                    "VolumeBinding" => {
                        if let Some(t) = pc.args.get("bindTimeoutSeconds") {
                            match t.as_u64() {
                                Some(secs) if secs > 0 => {
                                    p.bind_timeout = Duration::from_secs(secs)
                                }
                                _ => {
                                    return Err(Error::Config(format!(
                                        "VolumeBinding: bindTimeoutSeconds must be a positive integer, got {t}"
                                    )))
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            cfg.profiles.push(p);
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_upstream() {
        let c = Config::default();
        assert_eq!(c.profiles[0].scheduler_name, "default-scheduler");
        assert_eq!(c.profiles[0].scores.len(), 7);
        assert_eq!(c.queue.initial_backoff, Duration::from_secs(1));
        assert_eq!(c.queue.max_backoff, Duration::from_secs(10));
        assert_eq!(c.profiles[0].bind_timeout, Duration::from_secs(600));
        let f = &c.profiles[0].filters;
        let pos = |n: &str| f.iter().position(|x| x == n).unwrap();
        assert!(pos("NodeResourcesFit") < pos("VolumeRestrictions"));
        assert!(pos("VolumeRestrictions") < pos("NodeVolumeLimits"));
        assert!(pos("NodeVolumeLimits") < pos("VolumeBinding"));
        assert!(pos("VolumeBinding") < pos("PodTopologySpread"));
    }

    #[test]
    fn profiles_weights_and_disabled_plugins() {
        let c = Config::from_yaml(
            r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 30
podMaxBackoffSeconds: 5
leaderElection:
  leaderElect: false
clientConnection:
  kubeconfig: /etc/k.conf
profiles:
- schedulerName: default-scheduler
  plugins:
    score:
      enabled:
      - name: NodeResourcesFit
        weight: 5
      disabled:
      - name: ImageLocality
- schedulerName: packer
  plugins:
    multiPoint:
      disabled:
      - name: NodePorts
  pluginConfig:
  - name: VolumeBinding
    args:
      bindTimeoutSeconds: 20
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - name: cpu
          weight: 2
"#,
        )
        .unwrap();
        assert_eq!(c.percentage_of_nodes_to_score, Some(30));
        assert_eq!(c.queue.max_backoff, Duration::from_secs(5));
        assert!(!c.leader_elect);
        assert_eq!(c.kubeconfig.as_deref(), Some("/etc/k.conf"));
        let d = &c.profiles[0];
        assert!(d.scores.contains(&("NodeResourcesFit".into(), 5)));
        assert!(!d.scores.iter().any(|(n, _)| n == "ImageLocality"));
        let p = &c.profiles[1];
        assert_eq!(p.scheduler_name, "packer");
        assert!(!p.filters.iter().any(|n| n == "NodePorts"));
        assert_eq!(p.fit_strategy, ScoringStrategy::MostAllocated);
        assert_eq!(p.fit_resources, vec![("cpu".to_string(), 2)]);
        assert_eq!(p.bind_timeout, Duration::from_secs(20));
    }

    #[test]
    fn wrong_api_version_is_rejected() {
        let e = Config::from_yaml("apiVersion: kubescheduler.config.k8s.io/v1beta1\n").unwrap_err();
        assert!(e.to_string().contains("v1beta1"));
    }
}
