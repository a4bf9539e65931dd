//! The watch cache against a real etcd: reads after a write see the write,
//! even when the write went to etcd directly and nothing else changes.

use std::sync::Arc;
use std::time::Duration;

use apiserver::cache::WatchCache;
use storage::{EtcdStore, Store};

async fn setup() -> (etcd_harness::Etcd, Arc<dyn Store>, String, Arc<WatchCache>) {
    let etcd = etcd_harness::Etcd::start().expect("etcd");
    let store: Arc<dyn Store> = Arc::new(
        EtcdStore::connect(&[etcd.endpoint().to_string()])
            .await
            .unwrap(),
    );
    let prefix = format!("{}/", etcd.unique_prefix());
    store
        .create(&format!("{prefix}pods/a/before"), b"{\"n\":0}".to_vec())
        .await
        .unwrap();
    let cache = WatchCache::start(store.clone(), prefix.clone());
    for _ in 0..200 {
        if cache.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(cache.is_ready());
    (etcd, store, prefix, cache)
}

#[tokio::test]
async fn consistent_reads_see_every_completed_write() {
    let (_etcd, store, prefix, cache) = setup().await;
    assert!(
        cache.get(&format!("{prefix}pods/a/before")).is_some(),
        "initial list"
    );
    for i in 0..50 {
        let key = format!("{prefix}pods/a/p{i}");
        let rev = store
            .create(&key, format!("{{\"n\":{i}}}").into_bytes())
            .await
            .unwrap();
        assert!(cache.wait_fresh().await);
        let got = cache.get(&key).expect("write visible after wait_fresh");
        assert_eq!(got.mod_revision, rev);
        assert_eq!(got.value["n"], i);
    }
    let (items, rev) = cache.list(&format!("{prefix}pods/a/"));
    assert_eq!(items.len(), 51);
    assert!(rev >= store.current_revision().await.unwrap() - 1);
    let key = format!("{prefix}pods/a/p0");
    let cur = store.get(&key).await.unwrap().unwrap();
    store.delete(&key, cur.mod_revision).await.unwrap();
    assert!(cache.wait_fresh().await);
    assert!(cache.get(&key).is_none());
}

#[tokio::test]
async fn revisions_it_cannot_observe_send_readers_to_etcd() {
    let (_etcd, store, prefix, cache) = setup().await;
    assert!(cache.wait_fresh().await, "nothing written: fresh");
    // A write outside the cached prefix moves etcd's revision without an
    // event the cache could see: it cannot prove freshness, so readers
    // fall back to etcd (progress notifications are not trusted).
    let outside = prefix.trim_end_matches('/').to_string() + "-other/x";
    store.create(&outside, b"{}".to_vec()).await.unwrap();
    assert!(!cache.wait_fresh().await);
    // The next write under the prefix brings it back.
    store
        .create(&format!("{prefix}pods/a/again"), b"{}".to_vec())
        .await
        .unwrap();
    assert!(cache.wait_fresh().await);
}

#[tokio::test]
async fn many_concurrent_readers() {
    let (_etcd, store, prefix, cache) = setup().await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (store, cache, prefix) = (store.clone(), cache.clone(), prefix.clone());
        tasks.push(tokio::spawn(async move {
            let key = format!("{prefix}pods/b/{i}");
            store.create(&key, b"{}".to_vec()).await.unwrap();
            assert!(cache.wait_fresh().await);
            assert!(cache.get(&key).is_some(), "reader {i} missed its own write");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
