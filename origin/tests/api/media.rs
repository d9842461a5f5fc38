//! Media under a version: full bodies, byte ranges, multipart, conditionals,
//! HEAD, content types and caching headers (RFC 9110 §13, §14).

use crate::helpers::{pseudo_random, spawn_app};
use goflix_shared::domain::Visibility;
use goflix_shared::layout;
use goflix_shared::store::ObjectStore;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

#[tokio::test]
async fn full_body_equals_stored_bytes_with_validators() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let r = app.get(&p.path("720p.mp4"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.sized_body(), &p.video_bytes[..]);
    assert_eq!(r.header("content-type"), Some("video/mp4"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("cache-control"), Some(IMMUTABLE));
    assert_eq!(r.header("content-encoding"), None);
    let etag = r.header("etag").unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
    assert!(httpdate::parse_http_date(r.header("last-modified").unwrap()).is_ok());
}

#[tokio::test]
async fn single_ranges_are_exact_slices() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let data = &p.video_bytes;
    let len = data.len();
    for (header, start, end) in [
        ("bytes=0-0", 0, 1),
        ("bytes=100-199", 100, 200),
        ("bytes=65530-65545", 65530, 65546),
        ("bytes=299000-", 299_000, len),
        ("bytes=-1000", len - 1000, len),
        ("bytes=10-999999999", 10, len),
        ("bytes=0-99999999999999999999999", 0, len),
    ] {
        let r = app.get(&p.path("720p.mp4"), &[("Range", header)]).await;
        assert_eq!(r.status, 206, "{header}");
        assert_eq!(r.sized_body(), &data[start..end], "{header}");
        assert_eq!(
            r.header("content-range").unwrap(),
            format!("bytes {start}-{}/{len}", end - 1)
        );
        assert_eq!(r.header("cache-control"), Some(IMMUTABLE));
        assert!(r.header("etag").is_some());
    }
}

#[tokio::test]
async fn unsatisfiable_ranges_are_416_with_the_length() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let len = p.video_bytes.len();
    for header in [
        format!("bytes={len}-"),
        "bytes=99999999999999999999999-".to_string(),
        "bytes=-0".to_string(),
        format!("bytes={}-{}", len + 10, len + 20),
    ] {
        let r = app.get(&p.path("720p.mp4"), &[("Range", &header)]).await;
        assert_eq!(r.status, 416, "{header}");
        assert_eq!(r.header("content-range").unwrap(), format!("bytes */{len}"));
        assert_eq!(r.code(), "range_not_satisfiable");
    }
}

#[tokio::test]
async fn malformed_or_abusive_ranges_get_the_full_body() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let overlapping = format!("bytes={}", vec!["0-"; 500].join(","));
    let scattered = format!(
        "bytes={}",
        (0..40)
            .map(|i| format!("{0}-{0}", i * 1000))
            .collect::<Vec<_>>()
            .join(",")
    );
    for header in [
        "",
        "bytes=",
        "garbage",
        "bytes=5-1",
        "items=0-1",
        "bytes=a-",
        &overlapping,
        &scattered,
    ] {
        let r = app.get(&p.path("720p.mp4"), &[("Range", header)]).await;
        assert_eq!(r.status, 200, "{header:?}");
        assert_eq!(r.sized_body(), &p.video_bytes[..]);
    }
}

#[tokio::test]
async fn multiple_ranges_are_multipart_byteranges() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let data = &p.video_bytes;
    let len = data.len() as u64;
    let r = app
        .get(
            &p.path("720p.mp4"),
            &[("Range", "bytes=0-99, 200000-200009, -5")],
        )
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), None);
    let parts = r.byteranges();
    assert_eq!(parts.len(), 3);
    for (first, last, total, bytes) in &parts {
        assert_eq!(*total, len);
        assert_eq!(bytes[..], data[*first as usize..=*last as usize]);
    }
    assert_eq!((parts[0].0, parts[0].1), (0, 99));
    assert_eq!((parts[1].0, parts[1].1), (200_000, 200_009));
    assert_eq!((parts[2].0, parts[2].1), (len - 5, len - 1));
    assert!(r
        .body
        .windows(b"Content-Type: video/mp4".len())
        .any(|w| w == b"Content-Type: video/mp4"));

    // Overlapping ranges are coalesced into one part.
    let r = app
        .get(&p.path("720p.mp4"), &[("Range", "bytes=0-99,50-149")])
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-149/{len}").as_str())
    );
    assert_eq!(r.sized_body(), &data[..150]);
}

#[tokio::test]
async fn if_none_match_gives_304() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let etag = app
        .get(&p.path("720p.mp4"), &[])
        .await
        .header("etag")
        .unwrap()
        .to_string();
    for value in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".into(),
    ] {
        let r = app
            .get(&p.path("720p.mp4"), &[("If-None-Match", &value)])
            .await;
        assert_eq!(r.status, 304, "{value}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(etag.as_str()));
        assert_eq!(r.header("cache-control"), Some(IMMUTABLE));
    }
    let r = app
        .get(&p.path("720p.mp4"), &[("If-None-Match", "\"other\"")])
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .head(&p.path("720p.mp4"), &[("If-None-Match", &etag)])
        .await;
    assert_eq!(r.status, 304);
}

#[tokio::test]
async fn if_modified_since_gives_304() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let modified = app
        .get(&p.path("720p.mp4"), &[])
        .await
        .header("last-modified")
        .unwrap()
        .to_string();
    let r = app
        .get(&p.path("720p.mp4"), &[("If-Modified-Since", &modified)])
        .await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    let r = app
        .get(
            &p.path("720p.mp4"),
            &[("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")],
        )
        .await;
    assert_eq!(r.status, 200);
    // If-None-Match wins over If-Modified-Since.
    let r = app
        .get(
            &p.path("720p.mp4"),
            &[
                ("If-None-Match", "\"other\""),
                ("If-Modified-Since", &modified),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn if_match_failure_is_412() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let r = app
        .get(&p.path("720p.mp4"), &[("If-Match", "\"other\"")])
        .await;
    assert_eq!(r.status, 412);
    assert_eq!(r.code(), "precondition_failed");
}

#[tokio::test]
async fn if_range_decides_between_partial_and_full() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let full = app.get(&p.path("720p.mp4"), &[]).await;
    let etag = full.header("etag").unwrap();
    let modified = full.header("last-modified").unwrap();
    for (if_range, status) in [
        (etag.to_string(), 206),
        (modified.to_string(), 206),
        ("\"stale\"".to_string(), 200),
        (format!("W/{etag}"), 200),
        ("Sat, 01 Jan 2000 00:00:00 GMT".to_string(), 200),
    ] {
        let r = app
            .get(
                &p.path("720p.mp4"),
                &[("Range", "bytes=10-19"), ("If-Range", &if_range)],
            )
            .await;
        assert_eq!(r.status, status, "{if_range}");
        if status == 200 {
            assert_eq!(r.sized_body(), &p.video_bytes[..]);
        } else {
            assert_eq!(r.sized_body(), &p.video_bytes[10..20]);
        }
    }
}

#[tokio::test]
async fn head_has_the_same_headers_and_no_body() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    for path in [
        p.path("720p.mp4"),
        p.path("720p.m3u8"),
        p.master_path(),
        p.mpd_path(),
    ] {
        let get = app.get(&path, &[]).await;
        let head = app.head(&path, &[]).await;
        assert_eq!(get.status, 200);
        assert_eq!(head.status, 200);
        assert_eq!(get.entity_headers(), head.entity_headers(), "{path}");
        assert!(head.body.is_empty(), "{path}");
        assert_eq!(
            head.header("content-length").unwrap(),
            get.body.len().to_string()
        );
    }
}

/// A media file many read chunks long: full bodies and ranges that start,
/// end and cross chunk boundaries come back exact, always with
/// `Content-Length` and never chunked, and HEAD announces the same length.
#[tokio::test]
async fn large_files_are_served_exactly_with_content_length() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    let data = pseudo_random(3 << 20, 23);
    let key = layout::media_file(p.video, &p.version, "1080p.mp4").unwrap();
    app.store
        .put_bytes(&key, data.clone().into())
        .await
        .unwrap();
    let path = p.path("1080p.mp4");
    let len = data.len();
    let r = app.get(&path, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.sized_body(), &data[..]);
    let head = app.head(&path, &[]).await;
    assert_eq!(
        head.header("content-length"),
        Some(len.to_string().as_str())
    );
    assert!(head.body.is_empty());
    for (start, end) in [
        (0, 1 << 20),
        (65_535, 65_537),
        (65_536, 65_536 * 3),
        (1, len),
        (len - 1, len),
        (1_000_000, 2_048_577),
    ] {
        let header = format!("bytes={start}-{}", end - 1);
        let r = app.get(&path, &[("Range", &header)]).await;
        assert_eq!(r.status, 206, "{header}");
        assert!(r.sized_body() == &data[start..end], "{header}");
        assert_eq!(
            r.header("content-range").unwrap(),
            format!("bytes {start}-{}/{len}", end - 1)
        );
    }
    let r = app
        .get(&path, &[("Range", "bytes=0-99,1048576-1048675,-100")])
        .await;
    assert_eq!(r.status, 206);
    let parts = r.byteranges();
    assert_eq!(parts.len(), 3);
    assert!(parts[1].3 == data[1_048_576..1_048_676]);
    assert!(parts[2].3 == data[len - 100..]);
}

#[tokio::test]
async fn content_types_follow_the_file_name() {
    let app = spawn_app().await;
    let p = app.publish(Visibility::Public).await;
    for (file, content_type) in [
        ("720p.mp4", "video/mp4"),
        ("audio.mp4", "audio/mp4"),
        ("720p.m3u8", "application/vnd.apple.mpegurl"),
        ("manifest.mpd", "application/dash+xml"),
        ("poster.jpg", "image/jpeg"),
        ("en.vtt", "text/vtt"),
    ] {
        let r = app.get(&p.path(file), &[]).await;
        assert_eq!(r.status, 200, "{file}");
        assert_eq!(r.header("content-type"), Some(content_type), "{file}");
        assert_eq!(r.header("cache-control"), Some(IMMUTABLE), "{file}");
    }
    let r = app.get(&p.path("audio.mp4"), &[]).await;
    assert_eq!(r.sized_body(), &p.audio_bytes[..]);
    let r = app.get(&p.path("missing.mp4"), &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "not_found");
    assert_eq!(r.header("cache-control"), Some("public, max-age=5"));
}

/// Ranges closer than this are served as one part (the origin's coalescing gap).
const COALESCE_GAP: u64 = 80;

/// The parts a request for the inclusive ranges `wanted` is answered with:
/// as asked when no two of them lie within [`COALESCE_GAP`] bytes of each
/// other, else their union across such gaps in ascending order.
fn served_as(wanted: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut ascending = wanted.to_vec();
    ascending.sort_unstable();
    let mut union: Vec<(u64, u64)> = Vec::new();
    for (first, last) in ascending {
        if let Some(open) = union
            .last_mut()
            .filter(|(_, end)| first <= end + 1 + COALESCE_GAP)
        {
            open.1 = open.1.max(last);
        } else {
            union.push((first, last));
        }
    }
    if union.len() == wanted.len() {
        wanted.to_vec()
    } else {
        union
    }
}

/// Random files × random range headers, end to end: every part of every
/// 206 equals the stored slice, and the parts are exactly the requested
/// ranges, merged where they overlap or nearly touch.
#[test]
fn random_files_and_ranges_round_trip() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(spawn_app());
    let p = runtime.block_on(app.publish(Visibility::Public));
    let spec = prop_oneof![
        (0u64..400_000, 0u64..400_000).prop_map(|(a, d)| format!("{a}-{}", a + d)),
        (0u64..400_000).prop_map(|a| format!("{a}-")),
        (0u64..400_000).prop_map(|n| format!("-{n}")),
    ];
    let strategy = (
        0usize..300_000,
        any::<u64>(),
        proptest::collection::vec(spec, 1..5),
    );
    let mut runner = TestRunner::new(Config {
        cases: 48,
        ..Config::default()
    });
    runner
        .run(&strategy, |(len, seed, specs)| {
            let data = pseudo_random(len, seed);
            let name = format!("r{seed:x}.mp4");
            let key = layout::media_file(p.video, &p.version, &name).unwrap();
            let header = format!("bytes={}", specs.join(","));
            let r = runtime.block_on(async {
                app.store
                    .put_bytes(&key, data.clone().into())
                    .await
                    .unwrap();
                app.get(&p.path(&name), &[("Range", &header)]).await
            });
            let len = len as u64;
            let wanted: Vec<(u64, u64)> = specs
                .iter()
                .filter_map(|s| {
                    let (a, b) = s.split_once('-').unwrap();
                    match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
                        (Some(a), _) if a >= len => None,
                        (Some(a), Some(b)) => Some((a, b.min(len - 1))),
                        (Some(a), None) => Some((a, len - 1)),
                        (None, Some(0)) => None,
                        (None, Some(n)) if len > 0 => Some((len.saturating_sub(n), len - 1)),
                        _ => None,
                    }
                })
                .collect();
            let parts = match r.status {
                416 => {
                    prop_assert!(wanted.is_empty());
                    prop_assert_eq!(r.header("content-range").unwrap(), format!("bytes */{len}"));
                    return Ok(());
                }
                206 if r.header("content-range").is_some() => {
                    let range = r
                        .header("content-range")
                        .unwrap()
                        .strip_prefix("bytes ")
                        .unwrap();
                    let (span, total) = range.split_once('/').unwrap();
                    let (a, b) = span.split_once('-').unwrap();
                    vec![(
                        a.parse().unwrap(),
                        b.parse().unwrap(),
                        total.parse().unwrap(),
                        r.sized_body().to_vec(),
                    )]
                }
                206 => r.byteranges(),
                status => {
                    return Err(TestCaseError::fail(format!("status {status} for {header}")));
                }
            };
            for (first, last, total, bytes) in &parts {
                prop_assert_eq!(*total, len);
                prop_assert_eq!(&bytes[..], &data[*first as usize..=*last as usize]);
            }
            // The parts are the requested ranges and nothing more: merged
            // where they overlap or nearly touch, else as asked.
            let spans: Vec<(u64, u64)> = parts.iter().map(|(f, l, _, _)| (*f, *l)).collect();
            prop_assert_eq!(spans, served_as(&wanted), "for {}", header);
            Ok(())
        })
        .unwrap();
}
