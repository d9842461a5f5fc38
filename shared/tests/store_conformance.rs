//! One conformance suite for [`ObjectStore`], run against every backend
//! available here. Every implementation must pass it unchanged.

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use goflix_shared::store::{ByteStream, FsStore, ObjectKey, ObjectStore, Store, StoreError};

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

async fn read_all(mut body: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// The suite: every behaviour the roles rely on.
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
    test_suite(FsStore::open(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn store_enum_conforms_over_fs() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    test_suite(Store::open(&url).await.unwrap()).await;
}
