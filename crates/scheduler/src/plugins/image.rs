//! ImageLocality: favours nodes that already have the pod's images, scaled
//! by how widely each image is spread (upstream's formula and thresholds).

use super::{Plugin, MAX_NODE_SCORE};
use crate::cache::Snapshot;
use crate::nodeinfo::{normalize_image, NodeInfo, PodInfo};

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

pub struct ImageLocality;

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        "ImageLocality"
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo, snap: &Snapshot) -> i64 {
        let Some(spec) = pod.pod.spec.as_ref() else {
            return 0;
        };
        let total = snap.nodes.len().max(1) as f64;
        let containers: Vec<_> = spec
            .init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter())
            .collect();
        let mut sum = 0i64;
        for c in &containers {
            let Some(img) = c.image.as_deref() else {
                continue;
            };
            let name = normalize_image(img);
            if let Some(size) = node.images.get(&name) {
                let spread = snap.image_nodes.get(&name).copied().unwrap_or(1) as f64 / total;
                sum += (*size as f64 * spread) as i64;
            }
        }
        let max = MAX_CONTAINER_THRESHOLD * containers.len().max(1) as i64;
        let sum = sum.clamp(MIN_THRESHOLD, max);
        MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn nodes_with_the_image_score_higher() {
        let with = node(
            "a",
            json!({"status": {"images": [{"names": ["nginx:1.22"], "sizeBytes": 523 * MB}]}}),
        );
        let without = node("b", json!({}));
        let mut snap = Snapshot::with_nodes([with.clone(), without.clone()]);
        std::sync::Arc::make_mut(&mut snap.image_nodes).insert("nginx:1.22".into(), 1);
        let p = pod(
            "p",
            json!({"containers": [{"name": "c", "image": "nginx:1.22"}]}),
        );
        // 523MB * 1/2 = 261.5MB: (261.5-23)/(1000-23)*100 = 24.
        assert_eq!(ImageLocality.score(&p, &with, &snap), 24);
        assert_eq!(ImageLocality.score(&p, &without, &snap), 0);
    }
}
