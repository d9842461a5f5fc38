//! The console against `goflix serve`, in headless Chromium
//! (`e2e/console.mjs`): sign-in, uploads through the file chooser and by a
//! drop with a moving bar, transcode progress arriving live over
//! `GET /api/v1/events`, videos reaching `ready` with a poster; an upload
//! interrupted by a reload resumes past its stored offset; an admin creates
//! a user, a service client and a webhook through the pages; search by
//! title; two tabs sharing one session refresh their tokens at the same
//! moments and neither is signed out; axe-core finds nothing serious on
//! any page, also at 360 px wide.

use crate::common::noisy_clip;
use crate::common::pages::ServedPages;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_from_the_console_move_live_and_resume_after_a_reload() {
    let served = ServedPages::start(&[]).await;
    let media = tempfile::tempdir().unwrap();
    let big = noisy_clip(media.path(), "big.mp4", 20, 12);
    let size = std::fs::metadata(&big).unwrap().len();
    assert!(
        size > 12 << 20,
        "the clip must span more than one 8 MiB chunk: {size} bytes"
    );
    let small = crate::common::clip(media.path(), "small.mp4", "320x180", 3, true);

    let report = served.run(
        "console.mjs",
        &["upload", big.to_str().unwrap(), small.to_str().unwrap()],
    );
    assert_eq!(report["ok"], true, "{report}");
    eprintln!("upload: {report}");

    let report = served.run("console.mjs", &["resume", big.to_str().unwrap()]);
    assert_eq!(report["ok"], true, "{report}");
    eprintln!("resume: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_people_clients_and_webhooks_and_tabs_share_a_session() {
    let served = ServedPages::start(&[("GOFLIX_WEBHOOK_ALLOW_PRIVATE", "true")]).await;
    let media = tempfile::tempdir().unwrap();
    let clip = crate::common::clip(media.path(), "tiny.mp4", "320x180", 2, false);
    let wanted = served.upload("Alpha sunrise", &clip, "public").await;
    let other = served.upload("Beta sunset", &clip, "public").await;
    for id in [&wanted, &other] {
        served
            .api()
            .wait_settled(id, Duration::from_secs(120), String::new)
            .await;
    }
    let report = served.run("console.mjs", &["admin", "SUNR"]);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(
        report["titles"],
        serde_json::json!(["Alpha sunrise"]),
        "{report}"
    );

    let report = served.run("console.mjs", &["tabs"]);
    assert_eq!(report["ok"], true, "{report}");
}
