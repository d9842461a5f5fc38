//! Hostile and broken uploads end `failed` with a stable error code and a
//! readable message, and the queue keeps working behind them: a good clip
//! uploaded after all of them still reaches `ready`.

use crate::common::{clip, ffmpeg, spawn_app};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_masters_fail_clearly_and_the_queue_keeps_going() {
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let dir = media.path();

    // A canary the hostile playlist points at: it must never be read.
    let canary = FifoCanary::new(&dir.join("canary.ts"));
    let good = clip(dir, "good.mp4", "320x240", 4, true);
    let whole = std::fs::read(&good).unwrap();
    let audio_only = dir.join("audio-only.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=3",
        "-c:a",
        "aac",
        audio_only.to_str().unwrap(),
    ]);
    let subtitles = write(
        dir,
        "subs.srt",
        b"1\n00:00:00,000 --> 00:00:01,000\nhello\n",
    );
    let no_video = dir.join("no-video.mkv");
    ffmpeg(&[
        "-i",
        subtitles.to_str().unwrap(),
        no_video.to_str().unwrap(),
    ]);
    let random: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();

    let cases: Vec<(PathBuf, &[&str])> = vec![
        (write(dir, "empty.mp4", b""), &["invalid_media"]),
        (write(dir, "random.mp4", &random), &["invalid_media", "unsupported_format"]),
        (write(dir, "truncated.mp4", &whole[..whole.len() / 2]), &["invalid_media", "decode_failed"]),
        (audio_only, &["audio_only"]),
        (no_video, &["no_video_stream"]),
        (
            write(
                dir,
                "playlist.mp4",
                format!(
                    "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXTINF:10,\nfile://{}\n#EXT-X-ENDLIST\n",
                    canary.path.display()
                )
                .as_bytes(),
            ),
            &["unsupported_format"],
        ),
    ];

    let mut queued = Vec::new();
    for (file, codes) in &cases {
        let (status, body) = app.upload("bad", file).await;
        assert_eq!(status, 202, "{file:?}: {body}");
        queued.push((file, *codes, body["id"].as_str().unwrap().to_string()));
    }
    let (status, body) = app.upload("good after the bad ones", &good).await;
    assert_eq!(status, 202, "{body}");
    let good_id = body["id"].as_str().unwrap().to_string();

    for (file, codes, id) in &queued {
        let video = app.wait_settled(id, Duration::from_secs(120)).await;
        assert_eq!(video["state"], "failed", "{file:?}: {video}");
        let code = video["error"]["code"].as_str().unwrap();
        assert!(
            codes.contains(&code),
            "{file:?} failed with {code}, expected one of {codes:?}"
        );
        let message = video["error"]["message"].as_str().unwrap();
        assert!(
            message.len() > 10,
            "{file:?}: unhelpful message {message:?}"
        );
        assert!(video["playback"].is_null(), "{video}");
        // Nothing was published for a failed video.
        assert_eq!(app.get(&format!("/v/{id}/master.m3u8")).await.status(), 404);
    }
    let video = app.wait_settled(&good_id, Duration::from_secs(180)).await;
    assert_eq!(video["state"], "ready", "{video}");
    assert_eq!(
        app.get(&format!("/v/{good_id}/master.m3u8")).await.status(),
        200
    );
    assert!(!canary.was_opened(), "the playlist's canary was opened");
}

/// A FIFO whose opening by anyone is seen: a thread waits to open its
/// writing end, which happens only once a reader opens the other.
struct FifoCanary {
    path: PathBuf,
    opened: Arc<AtomicBool>,
    finished: Arc<AtomicBool>,
    waiter: Option<std::thread::JoinHandle<()>>,
}

impl FifoCanary {
    fn new(path: &Path) -> Self {
        let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
        assert!(status.success(), "mkfifo {path:?}");
        let (opened, finished) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let waiter = {
            let (path, opened, finished) = (path.to_owned(), opened.clone(), finished.clone());
            std::thread::spawn(move || {
                let writer = std::fs::OpenOptions::new().write(true).open(&path);
                if !finished.load(Ordering::SeqCst) {
                    opened.store(true, Ordering::SeqCst);
                }
                drop(writer);
            })
        };
        Self {
            path: path.to_owned(),
            opened,
            finished,
            waiter: Some(waiter),
        }
    }

    /// Whether a reader opened the FIFO; ends the watch.
    fn was_opened(mut self) -> bool {
        let waiter = self.waiter.take().unwrap();
        if !self.opened.load(Ordering::SeqCst) {
            // Release the waiting writer by opening the reading end ourselves.
            self.finished.store(true, Ordering::SeqCst);
            drop(std::fs::File::open(&self.path).unwrap());
        }
        waiter.join().unwrap();
        self.opened.load(Ordering::SeqCst)
    }
}
