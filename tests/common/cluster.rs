//! The distributed layout as real `goflix` processes: one control-api (or
//! `goflix serve`) and any number of transcoders on RabbitMQ
//! (`GOFLIX_TEST_AMQP_URL`, queue names under a prefix of their own) and
//! PostgreSQL (`GOFLIX_TEST_POSTGRES_URL`, a database of their own),
//! sharing a folder as object storage, or a private s3s-fs server
//! ([`S3Server`]) that a test may stop and restart. Each process logs to
//! its own file; dropping the cluster kills the processes, then deletes
//! the queues and drops the database (`goflix-testkit` guards).

use super::{ffprobe, login, wait_healthy, Api, ADMIN_EMAIL, ADMIN_PASSWORD};
use goflix_testkit::free_port;
use goflix_testkit::postgres::TestDatabase;
use goflix_testkit::rabbitmq::TestBroker;
use goflix_testkit::s3::S3sFs;
use sea_orm::ConnectionTrait;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `goflix` binary with no `GOFLIX_*` setting inherited from the test
/// environment (an unknown one, such as the e2e folder, is a config error),
/// nor any `OTEL_*` one (traces go only where a test sends them).
pub fn goflix() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_goflix"));
    let inherited = |k: &str| k.starts_with("GOFLIX_") || k.starts_with("OTEL_");
    for (name, _) in std::env::vars().filter(|(k, _)| inherited(k)) {
        command.env_remove(name);
    }
    command
}

/// One `goflix` process of the cluster.
pub struct Process {
    pub child: Child,
    pub log: PathBuf,
}

impl Process {
    /// SIGKILL, no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The name it gives its RabbitMQ connection.
    pub fn connection_name(&self, role: &str) -> String {
        format!("goflix-{role}-{}", self.child.id())
    }

    /// What it logged so far; panics when the log cannot be read, so a
    /// test asserting that something was not logged cannot pass vacuously.
    pub fn log_text(&self) -> String {
        read_log(&self.log)
    }
}

/// The text of the log file at `path`; panics when it cannot be read.
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading the log {path:?}: {e}"))
}

/// A private s3s-fs S3 server on a port and folder of its own, so a test
/// can stop and restart it without touching the shared test server.
pub struct S3Server {
    server: S3sFs,
}

impl S3Server {
    pub const BUCKET: &'static str = "outage";
    pub const ACCESS_KEY: &'static str = "goflix-outage-access";
    pub const SECRET_KEY: &'static str = "goflix-outage-secret";

    /// Starts s3s-fs under `dir` with the bucket [`S3Server::BUCKET`].
    pub fn start(dir: &Path) -> Self {
        let root = dir.join("s3");
        std::fs::create_dir_all(root.join(Self::BUCKET)).unwrap();
        let log = dir.join("s3s-fs.log");
        Self {
            server: S3sFs::start(&root, Self::ACCESS_KEY, Self::SECRET_KEY, Some(&log)),
        }
    }

    /// The `GOFLIX_STORAGE` URL of the bucket.
    pub fn storage_url(&self) -> String {
        format!(
            "s3://{}?endpoint={}&region=us-east-1&path_style=true",
            Self::BUCKET,
            self.server.endpoint()
        )
    }

    /// Where the bucket's objects are, as files.
    pub fn objects(&self) -> PathBuf {
        self.server.root.join(Self::BUCKET)
    }

    /// Kills the server (SIGKILL: an outage, not a shutdown).
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Starts the server again on the same port and folder; returns once it accepts connections.
    pub fn restart(&mut self) {
        self.server.restart();
    }
}

/// Final version folders of video `id` among the `objects` (those with a
/// poster; the live copy published while encoding has none).
pub fn published_versions(objects: &Path, id: &str) -> Vec<String> {
    std::fs::read_dir(objects.join("media").join(id))
        .map(|dir| {
            dir.map(|e| e.unwrap())
                .filter(|e| e.path().join("poster.jpg").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Exactly one published version of video `id` among the `objects`, whose
/// media files (video and audio at least) each open in ffprobe with one stream.
pub fn assert_published_once(objects: &Path, id: &str) {
    let versions = published_versions(objects, id);
    assert_eq!(
        versions.len(),
        1,
        "exactly one published version: {versions:?}"
    );
    let folder = objects.join("media").join(id).join(&versions[0]);
    let mut media = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "mp4") {
            let probed = ffprobe(&path, &["-show_streams"]);
            assert_eq!(probed["streams"].as_array().unwrap().len(), 1, "{path:?}");
            media += 1;
        }
    }
    assert!(media >= 2, "expected video and audio files in {folder:?}");
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub amqp_url: String,
    /// The queue and exchange names of this cluster's own (deleted when dropped).
    pub broker: TestBroker,
    /// The database of this cluster's own (dropped when the cluster is).
    pub database: TestDatabase,
    pub base: String,
    port: u16,
    /// The control plane's gRPC port of remote runners.
    grpc_port: u16,
    pub control: Option<Process>,
    pub workers: Vec<Process>,
    pub origins: Vec<Process>,
    pub client: reqwest::Client,
    token: Option<String>,
    spawned: usize,
    /// `GOFLIX_STORAGE` of every process, and where its objects are as files.
    storage: (String, PathBuf),
    /// Extra environment of every process (storage credentials).
    env: Vec<(&'static str, String)>,
}

impl Cluster {
    /// A database and queue prefix of its own; no process started yet.
    pub async fn new() -> Self {
        let broker = TestBroker::new("t");
        let database = TestDatabase::create().await;
        let port = free_port();
        let grpc_port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        Self {
            storage: (format!("file://{}", objects.display()), objects),
            env: Vec::new(),
            dir,
            amqp_url: broker.url(),
            broker,
            database,
            base: format!("http://127.0.0.1:{port}"),
            port,
            grpc_port,
            control: None,
            workers: Vec::new(),
            origins: Vec::new(),
            client: reqwest::Client::new(),
            token: None,
            spawned: 0,
        }
    }

    /// The `--server` of remote runners.
    pub fn grpc_server(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// Where the cluster's objects are, as files.
    pub fn objects(&self) -> PathBuf {
        self.storage.1.clone()
    }

    /// Sets `name` in the environment of every process started from now on.
    pub fn set_env(&mut self, name: &'static str, value: impl Into<String>) {
        self.env.push((name, value.into()));
    }

    /// Stores objects on `server` instead of a folder (before starting processes).
    pub fn use_s3(&mut self, server: &S3Server) {
        self.storage = (server.storage_url(), server.objects());
        self.env = vec![
            ("AWS_ACCESS_KEY_ID", S3Server::ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", S3Server::SECRET_KEY.to_owned()),
        ];
    }

    fn spawn(&mut self, args: &[&str], env: &[(&str, String)], name: &str) -> Process {
        self.spawned += 1;
        let log = self.dir.path().join(format!("{name}-{}.log", self.spawned));
        let child = goflix()
            .args(args)
            .env("GOFLIX_STORAGE", &self.storage.0)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("GOFLIX_DATA_DIR", self.dir.path().join(name))
            .env(
                "RUST_LOG",
                "warn,goflix=info,goflix_transcoder=info,goflix_control_api=info,goflix_shared=info",
            )
            .env("NO_COLOR", "1")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("goflix binary");
        Process { child, log }
    }

    /// Starts control-api on `queue_url` (the cluster's unless a test breaks it).
    pub async fn start_control(&mut self, queue_url: &str) {
        self.start_control_plane("control-api", queue_url).await;
    }

    /// Starts `goflix serve` (control plane, one worker and the origin in
    /// one process) on the cluster's RabbitMQ, database and storage, as the
    /// cluster's control plane: a test may kill it and start it again.
    pub async fn start_serve(&mut self) {
        self.start_control_plane("serve", &self.amqp_url.clone())
            .await;
    }

    /// Starts `command` as the control plane on `queue_url`, the cluster's
    /// database and port; returns once it answers and an admin is logged in.
    async fn start_control_plane(&mut self, command: &str, queue_url: &str) {
        let env = [
            ("GOFLIX_QUEUE", queue_url.to_owned()),
            ("GOFLIX_DATABASE_URL", self.database.url()),
            ("GOFLIX_LISTEN", format!("127.0.0.1:{}", self.port)),
            (
                "GOFLIX_GRPC_LISTEN",
                format!("127.0.0.1:{}", self.grpc_port),
            ),
            ("GOFLIX_ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
            ("GOFLIX_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        ];
        let process = self.spawn(&[command], &env, command);
        self.control = Some(process);
        let control = self.control.as_ref().unwrap();
        wait_healthy(&self.client, &self.base, Duration::from_secs(30), || {
            control.log_text()
        })
        .await;
        self.token = Some(login(&self.client, &self.base, ADMIN_EMAIL, ADMIN_PASSWORD).await);
    }

    /// Starts a transcoder and waits until it is ready (connected to RabbitMQ).
    pub async fn start_worker(&mut self) -> usize {
        let port = free_port();
        let env = [
            ("GOFLIX_QUEUE", self.amqp_url.clone()),
            ("GOFLIX_LISTEN", format!("127.0.0.1:{port}")),
        ];
        let process = self.spawn(&["transcoder", "--concurrency", "1"], &env, "transcoder");
        self.workers.push(process);
        let started = Instant::now();
        loop {
            let ready = self
                .client
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return self.workers.len() - 1;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "transcoder did not become ready: {}",
                self.workers.last().unwrap().log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts an origin reading the cluster's storage; returns its base URL.
    pub async fn start_origin(&mut self) -> String {
        let port = free_port();
        let env = [("GOFLIX_LISTEN", format!("127.0.0.1:{port}"))];
        let process = self.spawn(&["origin"], &env, "origin");
        self.origins.push(process);
        let base = format!("http://127.0.0.1:{port}");
        wait_healthy(&self.client, &base, Duration::from_secs(30), || self.logs()).await;
        base
    }

    /// The state of the video's newest row in the `jobs` table.
    pub async fn job_state(&self, video_id: &str) -> String {
        let db = sea_orm::Database::connect(self.database.url())
            .await
            .unwrap();
        let row = db
            .query_one(sea_orm::Statement::from_sql_and_values(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT state FROM jobs WHERE video_id = $1 ORDER BY created_at DESC LIMIT 1",
                [uuid::Uuid::parse_str(video_id).unwrap().into()],
            ))
            .await
            .unwrap()
            .expect("the video has a job");
        let _ = db.close().await;
        row.try_get("", "state").unwrap()
    }

    pub fn token(&self) -> &str {
        self.token.as_deref().expect("control-api started")
    }

    /// Uploads `file`; returns the new video's id.
    pub async fn upload(&self, title: &str, file: &Path) -> String {
        let form = reqwest::multipart::Form::new()
            .text("title", title.to_owned())
            .part(
                "file",
                reqwest::multipart::Part::bytes(std::fs::read(file).unwrap()).file_name("m.mp4"),
            );
        let response = self
            .client
            .post(format!("{}/api/v1/videos", self.base))
            .bearer_auth(self.token())
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// The API as the admin (once control-api started).
    pub fn api(&self) -> Api<'_> {
        Api {
            client: &self.client,
            base: &self.base,
            token: self.token(),
        }
    }

    pub async fn video(&self, id: &str) -> Value {
        self.api().video(id).await
    }

    /// Polls until the video is `ready` or `failed`.
    pub async fn wait_settled(&self, id: &str, limit: Duration) -> Value {
        self.api().wait_settled(id, limit, || self.logs()).await
    }

    /// Every process's log, for failure messages.
    pub fn logs(&self) -> String {
        self.control
            .iter()
            .chain(&self.workers)
            .chain(&self.origins)
            .map(|p| format!("--- {}\n{}", p.log.display(), p.log_text()))
            .collect()
    }

    /// Final version folders under `media/{id}/` ([`published_versions`]).
    pub fn versions(&self, id: &str) -> Vec<String> {
        published_versions(&self.objects(), id)
    }

    /// Exactly one published version, its media valid ([`assert_published_once`]).
    pub fn assert_outputs_valid(&self, id: &str) {
        assert_published_once(&self.objects(), id);
    }

    /// How many times any worker logged `job done` for the video.
    pub fn completions(&self, id: &str) -> usize {
        self.workers
            .iter()
            .flat_map(|w| {
                w.log_text()
                    .lines()
                    .filter(|l| l.contains(id) && l.contains("job done"))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .count()
    }

    /// Messages waiting in `goflix.transcode.dead` of this cluster.
    pub async fn dead_letters(&self) -> u32 {
        self.broker.message_count(&self.broker.names().dead).await
    }

    /// Force-closes the RabbitMQ connections of the given processes.
    pub fn close_connections(&self, names: &[String]) -> usize {
        let pids = self.connection_pids(names);
        self.close_connection_pids(&pids);
        pids.len()
    }

    /// The broker's ids of the connections named `names`. Listing is slow
    /// (an Erlang VM starts), so a test racing a job looks them up first.
    pub fn connection_pids(&self, names: &[String]) -> Vec<String> {
        let listed = Command::new("rabbitmqctl")
            .args(["-q", "list_connections", "pid", "client_properties"])
            .output()
            .expect("rabbitmqctl");
        assert!(
            listed.status.success(),
            "rabbitmqctl list_connections: {}\n{}",
            listed.status,
            String::from_utf8_lossy(&listed.stderr)
        );
        String::from_utf8_lossy(&listed.stdout)
            .lines()
            .filter(|line| names.iter().any(|n| line.contains(&format!("\"{n}\""))))
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .collect()
    }

    /// Closes connections by broker id, as RabbitMQ does to a consumer
    /// that holds a delivery past its timeout.
    pub fn close_connection_pids(&self, pids: &[String]) {
        for pid in pids {
            let closed = Command::new("rabbitmqctl")
                .args(["-q", "close_connection", pid, "goflix fault test"])
                .output()
                .expect("rabbitmqctl");
            assert!(
                closed.status.success(),
                "rabbitmqctl close_connection {pid}: {}\n{}",
                closed.status,
                String::from_utf8_lossy(&closed.stderr)
            );
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for process in self
            .control
            .iter_mut()
            .chain(self.workers.iter_mut())
            .chain(self.origins.iter_mut())
        {
            process.kill();
        }
        // The broker's and the database's guards go next, with the fields.
    }
}
