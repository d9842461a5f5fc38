//! One conformance suite for [`ObjectStore`], run against every backend:
//! the folder store, and S3 on the test server (`GOFLIX_TEST_S3_*`, each
//! test under its own key prefix). Every implementation must pass it
//! unchanged.

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use goflix_shared::config::Storage;
use goflix_shared::store::{
    ByteStream, FsStore, ObjectKey, ObjectStore, S3Options, S3Store, Store, StoreError, PART_SIZE,
};

fn key(s: &str) -> ObjectKey {
    ObjectKey::new(s).unwrap()
}

fn chunks(parts: &[&'static [u8]]) -> ByteStream {
    Box::pin(stream::iter(
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p)))
            .collect::<Vec<_>>(),
    ))
}

/// `len` deterministic bytes in chunks of an odd size, so chunks straddle part boundaries.
fn large(len: usize) -> (Vec<u8>, ByteStream) {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let chunks: Vec<_> = bytes
        .chunks(1_000_003)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    (bytes, Box::pin(stream::iter(chunks)))
}

async fn read_all(mut body: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// The suite: every behaviour the roles rely on. Its future is large (the S3
/// client's are): callers box it rather than hold it on a test thread's stack.
async fn test_suite<S: ObjectStore>(store: S) {
    // Streams are stored whole and read back exactly.
    let k = key("masters/a");
    let size = store
        .put_stream(&k, chunks(&[b"hello ", b"world"]), Some(100))
        .await
        .unwrap();
    assert_eq!(size, 11);
    assert_eq!(store.get_bytes(&k).await.unwrap(), "hello world");
    assert_eq!(store.head(&k).await.unwrap().size, 11);

    // Ranges are exact slices; out-of-bounds ranges are errors.
    let (meta, body) = store.get_range(&k, Some(6..11)).await.unwrap();
    assert_eq!(meta.size, 11);
    assert_eq!(read_all(body).await, b"world");
    let (_, body) = store.get_range(&k, None).await.unwrap();
    assert_eq!(read_all(body).await, b"hello world");
    assert!(matches!(
        store.get_range(&k, Some(5..12)).await,
        Err(StoreError::BadRange { .. })
    ));

    // Over the limit nothing is stored, and an existing object is untouched.
    let err = store
        .put_stream(&k, chunks(&[b"0123456789", b"0123456789"]), Some(15))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { limit: 15 }));
    assert_eq!(store.get_bytes(&k).await.unwrap(), "hello world");
    let fresh = key("masters/too-big");
    assert!(store
        .put_stream(&fresh, chunks(&[b"0123456789", b"0123456789"]), Some(15))
        .await
        .is_err());
    assert!(matches!(
        store.head(&fresh).await,
        Err(StoreError::NotFound(_))
    ));

    // A failing stream stores nothing.
    let broken: ByteStream = Box::pin(stream::iter(vec![
        Ok(Bytes::from_static(b"part")),
        Err(std::io::Error::other("client went away")),
    ]));
    assert!(store.put_stream(&fresh, broken, None).await.is_err());
    assert!(store.head(&fresh).await.is_err());

    // Objects of several upload parts are stored whole, ranges across a part
    // boundary are exact, and an over-limit or broken large stream stores nothing.
    let len = 2 * PART_SIZE + 12_345;
    let big = key("masters/big");
    let (bytes, body) = large(len);
    assert_eq!(
        store.put_stream(&big, body, None).await.unwrap(),
        len as u64
    );
    assert_eq!(store.head(&big).await.unwrap().size, len as u64);
    let across = (PART_SIZE - 10) as u64..(PART_SIZE + 10) as u64;
    let (meta, body) = store.get_range(&big, Some(across.clone())).await.unwrap();
    assert_eq!(meta.size, len as u64);
    assert_eq!(
        read_all(body).await,
        &bytes[across.start as usize..across.end as usize]
    );
    let (_, body) = store.get_range(&big, None).await.unwrap();
    assert!(
        read_all(body).await == bytes,
        "large object read back whole"
    );
    let (_, body) = large(len);
    let limit = (PART_SIZE + 1) as u64;
    assert!(matches!(
        store.put_stream(&fresh, body, Some(limit)).await,
        Err(StoreError::TooLarge { .. })
    ));
    assert!(matches!(
        store.head(&fresh).await,
        Err(StoreError::NotFound(_))
    ));
    let (_, body) = large(PART_SIZE + 5);
    let broken: ByteStream = Box::pin(body.chain(stream::iter(vec![Err(std::io::Error::other(
        "client went away",
    ))])));
    assert!(store.put_stream(&fresh, broken, None).await.is_err());
    assert!(store.head(&fresh).await.is_err());
    let big_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(big_file.path(), &bytes).unwrap();
    store.put_file(&big, big_file.path()).await.unwrap();
    assert_eq!(store.head(&big).await.unwrap().size, len as u64);
    store.delete_prefix("masters/big").await.unwrap();

    // Overwrites replace; ETags change with content.
    let before = store.head(&k).await.unwrap().etag;
    store
        .put_bytes(&k, Bytes::from_static(b"replaced!!!!"))
        .await
        .unwrap();
    assert_eq!(store.get_bytes(&k).await.unwrap(), "replaced!!!!");
    assert_ne!(store.head(&k).await.unwrap().etag, before);

    // Files in and out.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("in");
    std::fs::write(&local, b"from a file").unwrap();
    let fk = key("media/v/1/720p.mp4");
    store.put_file(&fk, &local).await.unwrap();
    let out = dir.path().join("out");
    store.download_to(&fk, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"from a file");
    // The downloaded file keeps the object as it was when downloaded, and a
    // second download replaces an existing file.
    store
        .put_bytes(&fk, Bytes::from_static(b"replaced"))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"from a file");
    store.download_to(&fk, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"replaced");
    let other = key("media/v/1/480p.mp4");
    store
        .put_bytes(&other, Bytes::from_static(b"another object"))
        .await
        .unwrap();
    store.download_to(&other, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"another object");
    assert_eq!(
        read_all(store.get_range(&fk, None).await.unwrap().1).await,
        b"replaced"
    );

    // Prefix deletion removes exactly that prefix.
    store
        .put_bytes(&key("media/v/playback.json"), Bytes::from_static(b"{}"))
        .await
        .unwrap();
    store
        .put_bytes(&key("media/w/playback.json"), Bytes::from_static(b"{}"))
        .await
        .unwrap();
    store.delete_prefix("media/v/").await.unwrap();
    assert!(store.head(&fk).await.is_err());
    assert!(store.head(&key("media/v/playback.json")).await.is_err());
    assert!(store.head(&key("media/w/playback.json")).await.is_ok());
    store.delete_prefix("media/nothing-here/").await.unwrap();

    // Missing objects are NotFound everywhere.
    let missing = key("nope/missing");
    assert!(matches!(
        store.get_bytes(&missing).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.head(&missing).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_range(&missing, None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.download_to(&missing, &dir.path().join("x")).await,
        Err(StoreError::NotFound(_))
    ));
    store.check().await.unwrap();
}

#[tokio::test]
async fn fs_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    Box::pin(test_suite(FsStore::open(dir.path()).await.unwrap())).await;
}

#[tokio::test]
async fn store_enum_conforms_over_fs() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Folder(dir.path().to_owned());
    Box::pin(test_suite(Store::open(&storage).await.unwrap())).await;
}

#[tokio::test]
async fn s3_store_conforms() {
    let store = goflix_testkit::s3::s3_store().await;
    Box::pin(test_suite(store.clone())).await;
    store.delete_prefix("").await.unwrap();
}

#[tokio::test]
async fn store_enum_conforms_over_s3() {
    let store = Store::S3(goflix_testkit::s3::s3_store().await);
    Box::pin(test_suite(store.clone())).await;
    store.delete_prefix("").await.unwrap();
}

#[tokio::test]
async fn an_unreachable_s3_is_unavailable_not_missing() {
    // Nothing listens on port 1: every call fails fast with Unavailable.
    let options = S3Options {
        endpoint: Some("http://127.0.0.1:1".into()),
        ..goflix_testkit::s3::s3_options()
    };
    let store = S3Store::open(options).await.unwrap();
    let k = key("media/v/playback.json");
    assert!(matches!(
        store.check().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.get_bytes(&k).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.get_range(&k, Some(0..10)).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.put_bytes(&k, Bytes::from_static(b"{}")).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn s3_urls_open_the_s3_backend() {
    let url = format!(
        "s3://{}?endpoint={}&region=us-east-1&path_style=true&prefix=test-url",
        goflix_testkit::var("GOFLIX_TEST_S3_BUCKET"),
        goflix_testkit::var("GOFLIX_TEST_S3_ENDPOINT"),
    );
    let storage: Storage = url.parse().unwrap();
    assert!(matches!(Store::open(&storage).await.unwrap(), Store::S3(_)));
    assert!("s3://bucket?colour=blue".parse::<Storage>().is_err());
}

/// Deleting a prefix while a writer keeps adding objects below it (a worker
/// still encoding a video that is being deleted) succeeds every time, and
/// once the writer stops one more delete leaves nothing.
async fn deletes_while_written<S: ObjectStore + Clone + 'static>(store: S) {
    let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = tokio::spawn({
        let (store, writing) = (store.clone(), writing.clone());
        async move {
            let mut n = 0u32;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                let object = key(&format!("media/busy/v{}/live/seg-{n}.m4s", n % 7));
                // A write may race the delete of its folder: only the deletes are under test.
                let _ = store.put_bytes(&object, Bytes::from_static(b"x")).await;
                n += 1;
            }
        }
    });
    for _ in 0..200 {
        store.delete_prefix("media/busy/").await.unwrap();
    }
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    store.delete_prefix("media/busy/").await.unwrap();
    assert!(store
        .head(&key("media/busy/v0/live/seg-0.m4s"))
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_store_deletes_a_prefix_while_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    deletes_while_written(store.clone()).await;
    let root: Vec<_> = std::fs::read_dir(dir.path().join("media"))
        .map(|entries| entries.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(root.is_empty(), "{root:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_deletes_a_prefix_while_it_is_written() {
    let store = goflix_testkit::s3::s3_store().await;
    deletes_while_written(store.clone()).await;
    store.delete_prefix("").await.unwrap();
}
