//! The origin's media cache holds to its budget: a separate `goflix
//! origin` on S3 (a private s3s-fs) streams a working set four times its
//! `GOFLIX_ORIGIN_CACHE_BYTES`, twice over, and its resident memory of its
//! own (anonymous: not the executable's and libraries' pages) stays under
//! the budget plus 64 MiB throughout.

use crate::common::cluster::{Cluster, S3Server};
use futures_util::StreamExt;
use goflix_shared::domain::VideoId;
use goflix_shared::layout;
use goflix_testkit::data::pseudo_random;

const MIB: u64 = 1 << 20;
const BUDGET: u64 = 32 * MIB;
/// Objects of the working set, each [`OBJECT_LEN`] long: 4 × the budget.
const OBJECTS: u64 = 8;
const OBJECT_LEN: u64 = 16 * MIB;

/// `RssAnon` of process `pid`, in bytes: its own memory (the cache, heap,
/// stacks). `RssFile` is the executable and FFmpeg's shared libraries,
/// mapped from disk, shared, and the same whatever the cache holds.
fn anonymous_resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches(" kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or_else(|| panic!("RssAnon in {status}"))
        * 1024
}

/// Whether `chunk`, read at offset `at`, is what `block` repeated holds there.
fn repeats(block: &[u8], at: u64, chunk: &[u8]) -> bool {
    let mut offset = (at % block.len() as u64) as usize;
    let mut rest = chunk;
    while !rest.is_empty() {
        let n = rest.len().min(block.len() - offset);
        if rest[..n] != block[offset..offset + n] {
            return false;
        }
        (rest, offset) = (&rest[n..], 0);
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_media_cache_holds_to_its_budget() {
    let mut cluster = Cluster::new().await;
    let s3 = S3Server::start(cluster.dir.path());
    cluster.use_s3(&s3);
    cluster.set_env("GOFLIX_ORIGIN_CACHE_BYTES", BUDGET.to_string());
    // The working set, written as the s3s-fs server's files.
    let video = VideoId::new();
    let version = layout::new_version();
    let folder = s3.objects().join(format!("media/{video}/{version}"));
    std::fs::create_dir_all(&folder).unwrap();
    let block = pseudo_random(MIB as usize, 3);
    for n in 0..OBJECTS {
        let bytes: Vec<u8> = block
            .iter()
            .copied()
            .cycle()
            .take(OBJECT_LEN as usize)
            .collect();
        std::fs::write(folder.join(format!("r{n}.mp4")), bytes).unwrap();
    }
    let record = serde_json::json!({
        "version": version,
        "visibility": "public",
        "updated_at": "2025-01-01T00:00:00Z",
    });
    std::fs::write(
        s3.objects().join(format!("media/{video}/playback.json")),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();

    let origin = cluster.start_origin().await;
    let pid = cluster.origins[0].child.id();
    let idle = anonymous_resident(pid);
    let mut peak = idle;
    for pass in 0..2 {
        for n in 0..OBJECTS {
            let url = format!("{origin}/v/{video}/{version}/r{n}.mp4");
            // Whole objects and 1 MiB ranges straddling slices, as players ask.
            let response = cluster.client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{url}: {}", cluster.logs());
            let mut body = response.bytes_stream();
            let mut read = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.unwrap();
                assert!(
                    repeats(&block, read, &chunk),
                    "pass {pass}, {url} at {read}"
                );
                read += chunk.len() as u64;
            }
            assert_eq!(read, OBJECT_LEN);
            let start = n * MIB + MIB / 2;
            let range = format!("bytes={start}-{}", start + MIB - 1);
            let response = cluster
                .client
                .get(&url)
                .header("Range", &range)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 206);
            assert_eq!(response.bytes().await.unwrap().len() as u64, MIB);
            peak = peak.max(anonymous_resident(pid));
        }
    }
    let limit = BUDGET + 64 * MIB;
    println!(
        "origin anonymous RSS: idle {} MiB, peak {} MiB while streaming {} MiB (budget {} MiB)",
        idle / MIB,
        peak / MIB,
        2 * OBJECTS * OBJECT_LEN / MIB,
        BUDGET / MIB
    );
    assert!(
        peak < limit,
        "RSS {} MiB over {} MiB",
        peak / MIB,
        limit / MIB
    );
    // The budget was held by evicting, and the evictions are counted.
    let metrics = reqwest::get(format!("{origin}/metrics")).await.unwrap();
    let metrics = metrics.text().await.unwrap();
    let evictions = metrics
        .lines()
        .find_map(|line| line.strip_prefix("goflix_origin_cache_evictions_total "))
        .and_then(|value| value.parse::<f64>().ok());
    assert!(evictions.is_some_and(|n| n > 0.0), "{metrics}");
}
