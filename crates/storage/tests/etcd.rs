//! Storage against a real etcd started by the harness.

use storage::{EtcdStore, StorageError, Store, WatchEvent};

async fn store() -> (etcd_harness::Etcd, EtcdStore, String) {
    let etcd = etcd_harness::Etcd::start().expect("start etcd");
    let s = EtcdStore::connect(&[etcd.endpoint().to_string()])
        .await
        .expect("connect");
    let prefix = etcd.unique_prefix();
    (etcd, s, prefix)
}

#[tokio::test]
async fn create_update_delete_with_revisions() {
    let (_etcd, s, p) = store().await;
    let key = format!("{p}/configmaps/default/a");
    let r1 = s.create(&key, b"one".to_vec()).await.unwrap();
    assert!(matches!(
        s.create(&key, b"x".to_vec()).await,
        Err(StorageError::AlreadyExists(_))
    ));
    let got = s.get(&key).await.unwrap().unwrap();
    assert_eq!((got.value.as_slice(), got.mod_revision), (&b"one"[..], r1));
    let r2 = s.update(&key, b"two".to_vec(), r1).await.unwrap();
    assert!(r2 > r1);
    match s.update(&key, b"stale".to_vec(), r1).await {
        Err(StorageError::Conflict {
            current: Some(kv), ..
        }) => assert_eq!(kv.value, b"two"),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert!(matches!(
        s.delete(&key, r1).await,
        Err(StorageError::Conflict { .. })
    ));
    s.delete(&key, r2).await.unwrap();
    assert!(s.get(&key).await.unwrap().is_none());
    assert!(matches!(
        s.update(&key, b"x".to_vec(), r2).await,
        Err(StorageError::NotFound(_))
    ));
}

#[tokio::test]
async fn paged_list_at_one_revision() {
    let (_etcd, s, p) = store().await;
    let prefix = format!("{p}/configmaps/ns/");
    for i in 0..10 {
        s.create(&format!("{prefix}cm-{i:02}"), vec![i])
            .await
            .unwrap();
    }
    let first = s.list(&prefix, None, 4, 0).await.unwrap();
    assert_eq!(first.items.len(), 4);
    assert!(first.more);
    assert_eq!(first.count, 6);
    // A write after the first page must not show up in later pages.
    s.create(&format!("{prefix}cm-99"), vec![99]).await.unwrap();
    let next = format!("{}\u{0}", first.items[3].key);
    let rest = s
        .list(&prefix, Some(&next), 0, first.revision)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 6);
    assert!(!rest.items.iter().any(|kv| kv.key.ends_with("cm-99")));
}

#[tokio::test]
async fn watch_from_revision_in_order() {
    let (_etcd, s, p) = store().await;
    let prefix = format!("{p}/pods/");
    let r0 = s
        .create(&format!("{prefix}a"), b"1".to_vec())
        .await
        .unwrap();
    let r1 = s
        .update(&format!("{prefix}a"), b"2".to_vec(), r0)
        .await
        .unwrap();
    let r2 = s.delete(&format!("{prefix}a"), r1).await.unwrap();
    let mut w = s.watch(&prefix, r0).await.unwrap();
    match w.recv().await.unwrap().unwrap() {
        WatchEvent::Put { kv, prev } => {
            assert_eq!(kv.mod_revision, r1);
            assert_eq!(prev.unwrap().value, b"1");
        }
        other => panic!("{other:?}"),
    }
    match w.recv().await.unwrap().unwrap() {
        WatchEvent::Delete { prev, revision } => {
            assert_eq!(revision, r2);
            assert_eq!(prev.value, b"2");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn compacted_watch_is_reported() {
    let (_etcd, s, p) = store().await;
    let key = format!("{p}/leases/x");
    let r0 = s.create(&key, b"1".to_vec()).await.unwrap();
    let r1 = s.update(&key, b"2".to_vec(), r0).await.unwrap();
    s.compact(r1).await.unwrap();
    let mut w = s.watch(&format!("{p}/leases/"), r0 - 1).await.unwrap();
    assert!(matches!(
        w.recv().await,
        Some(Err(StorageError::Compacted { .. }))
    ));
    assert!(matches!(
        s.list(&format!("{p}/leases/"), None, 0, r0).await,
        Err(StorageError::Compacted { .. })
    ));
}

#[tokio::test]
async fn progress_on_request_reports_current_revision() {
    let (_etcd, s, p) = store().await;
    // A write outside the watched prefix still moves the revision on.
    let rev = s
        .create(&format!("{p}/other/x"), b"1".to_vec())
        .await
        .unwrap();
    let w = s.watch(&format!("{p}/pods/"), rev).await.unwrap();
    let mut w = w;
    w.request_progress();
    let ev = tokio::time::timeout(std::time::Duration::from_secs(10), w.recv())
        .await
        .expect("progress within 10s")
        .unwrap()
        .unwrap();
    match ev {
        WatchEvent::Progress { revision } => assert!(revision >= rev, "{revision} < {rev}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn leased_keys_expire_with_their_lease() {
    let (_etcd, s, p) = store().await;
    let lease = s.grant_lease(1).await.unwrap();
    let key = format!("{p}/events/default/e1");
    let rev = s.create_leased(&key, b"1".to_vec(), lease).await.unwrap();
    s.update_leased(&key, b"2".to_vec(), rev, lease)
        .await
        .unwrap();
    assert!(s.get(&key).await.unwrap().is_some());
    // etcd expires a 1 s lease within a few seconds.
    let mut gone = false;
    for _ in 0..100 {
        if s.get(&key).await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "leased key outlived its lease");
}
