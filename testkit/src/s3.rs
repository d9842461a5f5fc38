//! S3 for tests: the test server (`GOFLIX_TEST_S3_*`) under a prefix of
//! the test's own, and [`S3sFs`], a private s3s-fs server on a port and
//! folder of its own that a test may stop and restart.

use goflix_shared::store::{S3Options, S3Store};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Options for the test S3 server's bucket, under a prefix of this test's own.
pub fn s3_options() -> S3Options {
    s3_options_at(
        crate::var("GOFLIX_TEST_S3_ENDPOINT"),
        crate::var("GOFLIX_TEST_S3_BUCKET"),
    )
}

/// Options for `bucket` at `endpoint` with the test server's credentials,
/// under a prefix `test-<uuid>/` of this test's own.
pub fn s3_options_at(endpoint: String, bucket: String) -> S3Options {
    S3Options {
        bucket,
        prefix: format!("test-{}/", uuid::Uuid::new_v4().simple()),
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        path_style: true,
        credentials: None,
    }
    .with_credentials(
        &crate::var("GOFLIX_TEST_S3_ACCESS_KEY"),
        &crate::var("GOFLIX_TEST_S3_SECRET_KEY"),
    )
}

/// A store on the test S3 server, under a prefix of this test's own.
pub async fn s3_store() -> S3Store {
    S3Store::open(s3_options())
        .await
        .expect("opening the test S3 bucket")
}

/// A private s3s-fs server on a free port, serving the folders of `root`
/// as buckets; killed when dropped.
pub struct S3sFs {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its root folder: one subfolder per bucket, objects as files.
    pub root: PathBuf,
    access_key: String,
    secret_key: String,
    log: Option<PathBuf>,
    child: Option<Child>,
}

impl S3sFs {
    /// Starts s3s-fs on `root` with these credentials, appending its
    /// output to `log` (or discarding it); returns once it accepts
    /// connections.
    pub fn start(root: &Path, access_key: &str, secret_key: &str, log: Option<&Path>) -> Self {
        let mut server = Self {
            port: crate::free_port(),
            root: root.to_owned(),
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            log: log.map(Path::to_owned),
            child: None,
        };
        server.restart();
        server
    }

    /// Its endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: an outage, not a shutdown).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and folder; returns once
    /// it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        let output = match &self.log {
            Some(log) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap_or_else(|e| panic!("opening {log:?}: {e}"))
                .into(),
            None => Stdio::null(),
        };
        let child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", &self.access_key])
            .args(["--secret-key", &self.secret_key])
            .arg(&self.root)
            .stdout(Stdio::null())
            .stderr(output)
            .spawn()
            .expect("s3s-fs on PATH (scripts/test-services.sh installs it)");
        self.child = Some(child);
        crate::net::wait_for_port(self.port, Duration::from_secs(30), "s3s-fs", || {
            self.log
                .as_ref()
                .map(|log| std::fs::read_to_string(log).unwrap_or_else(|e| format!("{log:?}: {e}")))
                .unwrap_or_default()
        });
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        self.stop();
    }
}
