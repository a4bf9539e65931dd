//! The baseline: what etcd itself sustains through etcd-client, with the
//! same request shapes the apiserver's storage layer sends (a create is a
//! transaction conditioned on `create_revision == 0`; a get is a
//! linearizable single-key range).

use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};
use serde::Serialize;

use crate::load::{closed_loop, remember, spread, Plan, Summary};
use crate::object;
use crate::probe::Probe;

/// Raw etcd results.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub txn_put: Summary,
    pub get: Summary,
}

/// One etcd-client connection (as the apiserver has) and a key prefix.
pub struct RawEtcd {
    client: Client,
    /// Everything the bench writes is under here.
    root: String,
    /// Where the baseline's own keys go.
    prefix: String,
}

impl RawEtcd {
    pub async fn connect(endpoint: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = Client::connect([endpoint], None)
            .await
            .context("connecting to etcd")?;
        Ok(RawEtcd {
            client,
            root: format!("{prefix}/"),
            prefix: format!("{prefix}/raw/"),
        })
    }

    /// Creates keys for the plan's duration; returns up to `read_keys` of
    /// them for [`RawEtcd::gets`].
    pub async fn puts(
        &self,
        plan: Plan,
        size: usize,
        read_keys: usize,
        probe: &Probe,
    ) -> (Summary, Vec<String>) {
        eprintln!("bench: etcd txn puts ({} workers)", plan.concurrency);
        let written: Arc<Mutex<Vec<u64>>> = Arc::default();
        let (client, prefix, w) = (self.client.clone(), self.prefix.clone(), written.clone());
        let summary = closed_loop(plan, probe, move |i| {
            let mut kv = client.kv_client();
            let key = format!("{prefix}{}", object::name("c", i));
            let value = object::configmap("bench", &object::name("c", i), size);
            let w = w.clone();
            async move {
                let txn = Txn::new()
                    .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(key.as_str(), value.to_vec(), None)]);
                if !kv.txn(txn).await?.succeeded() {
                    bail!("{key} already exists");
                }
                remember(&w, i, read_keys);
                Ok(())
            }
        })
        .await;
        let keys = written
            .lock()
            .expect("lock")
            .iter()
            .map(|i| format!("{}{}", self.prefix, object::name("c", *i)))
            .collect();
        (summary, keys)
    }

    /// Linearizable single-key reads scattered over `keys`.
    pub async fn gets(
        &self,
        plan: Plan,
        keys: Vec<String>,
        probe: &Probe,
    ) -> anyhow::Result<Summary> {
        if keys.is_empty() {
            bail!("no etcd puts succeeded, nothing to read");
        }
        eprintln!("bench: etcd linearizable gets over {} keys", keys.len());
        let keys = Arc::new(keys);
        let client = self.client.clone();
        Ok(closed_loop(plan, probe, move |i| {
            let mut kv = client.kv_client();
            let keys = keys.clone();
            async move {
                let key = &keys[spread(i, keys.len())];
                if kv.get(key.as_str(), None).await?.kvs().is_empty() {
                    bail!("{key} not found");
                }
                Ok(())
            }
        })
        .await)
    }

    /// Deletes everything the bench wrote (matters for a shared etcd from
    /// `TEST_ETCD_ENDPOINT`; a harness etcd is wiped anyway).
    pub async fn delete_all(&self) -> anyhow::Result<()> {
        let opts = etcd_client::DeleteOptions::new().with_prefix();
        self.client
            .kv_client()
            .delete(self.root.as_str(), Some(opts))
            .await?;
        Ok(())
    }
}
