//! The distributed layout as real `goflix` processes: one control-api and
//! any number of transcoders on RabbitMQ (`GOFLIX_TEST_AMQP_URL`, queue
//! names under a prefix of their own) and PostgreSQL
//! (`GOFLIX_TEST_POSTGRES_URL`, a database of their own), sharing a folder
//! as object storage. Each process logs to its own file; dropping the
//! cluster kills the processes, deletes the queues and drops the database.

use super::{login, ADMIN_EMAIL, ADMIN_PASSWORD};
use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use sea_orm::ConnectionTrait;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `NAME` from the environment, or a clear failure (these tests never skip).
pub fn required_env(name: &str, example: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} must be set for the distributed tests (e.g. {example}); scripts/test.sh sets it")
    })
}

/// The `goflix` binary with no `GOFLIX_*` setting inherited from the test
/// environment (an unknown one, such as the e2e folder, is a config error).
pub fn goflix() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_goflix"));
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("GOFLIX_")) {
        command.env_remove(name);
    }
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub amqp_url: String,
    pub prefix: String,
    broker_url: String,
    postgres_server: String,
    pub database: String,
    pub base: String,
    port: u16,
    pub control: Option<Process>,
    pub workers: Vec<Process>,
    pub client: reqwest::Client,
    token: Option<String>,
    spawned: usize,
}

impl Cluster {
    /// A database and queue prefix of its own; no process started yet.
    pub async fn new() -> Self {
        let broker_url = required_env(
            "GOFLIX_TEST_AMQP_URL",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
        );
        let postgres_server = required_env(
            "GOFLIX_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432",
        )
        .trim_end_matches('/')
        .to_owned();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("t{}", &id[..12]);
        let database = format!("goflix_test_{id}");
        let admin = sea_orm::Database::connect(format!("{postgres_server}/postgres"))
            .await
            .expect("connecting to GOFLIX_TEST_POSTGRES_URL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {database}"))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let separator = if broker_url.contains('?') { '&' } else { '?' };
        let port = free_port();
        Self {
            dir: tempfile::tempdir().unwrap(),
            amqp_url: format!("{broker_url}{separator}prefix={prefix}"),
            prefix,
            broker_url,
            postgres_server,
            database,
            base: format!("http://127.0.0.1:{port}"),
            port,
            control: None,
            workers: Vec::new(),
            client: reqwest::Client::new(),
            token: None,
            spawned: 0,
        }
    }

    pub fn objects(&self) -> PathBuf {
        self.dir.path().join("objects")
    }

    fn spawn(&mut self, args: &[&str], env: &[(&str, String)], name: &str) -> Process {
        self.spawned += 1;
        let log = self.dir.path().join(format!("{name}-{}.log", self.spawned));
        let child = goflix()
            .args(args)
            .env("GOFLIX_STORAGE", format!("file://{}", self.objects().display()))
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
        let env = [
            ("GOFLIX_QUEUE", queue_url.to_owned()),
            (
                "GOFLIX_DATABASE_URL",
                format!("{}/{}", self.postgres_server, self.database),
            ),
            ("GOFLIX_LISTEN", format!("127.0.0.1:{}", self.port)),
            ("GOFLIX_ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
            ("GOFLIX_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        ];
        let process = self.spawn(&["control-api"], &env, "control-api");
        self.control = Some(process);
        let started = Instant::now();
        while self
            .client
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "control-api did not start: {}",
                self.control.as_ref().unwrap().log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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

    fn token(&self) -> &str {
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

    pub async fn video(&self, id: &str) -> Value {
        self.client
            .get(format!("{}/api/v1/videos/{id}", self.base))
            .bearer_auth(self.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls until the video is `ready` or `failed`.
    pub async fn wait_settled(&self, id: &str, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let video = self.video(id).await;
            if matches!(video["state"].as_str(), Some("ready" | "failed")) {
                return video;
            }
            assert!(
                started.elapsed() < limit,
                "video {id} not settled after {limit:?}: {video}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every process's log, for failure messages.
    pub fn logs(&self) -> String {
        self.control
            .iter()
            .chain(&self.workers)
            .map(|p| format!("--- {}\n{}", p.log.display(), p.log_text()))
            .collect()
    }

    /// Version folders under `media/{id}/`.
    pub fn versions(&self, id: &str) -> Vec<String> {
        std::fs::read_dir(self.objects().join("media").join(id))
            .map(|dir| {
                dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|name| name != "playback.json")
                    .collect()
            })
            .unwrap_or_default()
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
        let connection = lapin::Connection::connect(
            &self.broker_url,
            lapin::ConnectionProperties::default()
                .with_executor(tokio_executor_trait::Tokio::current())
                .with_reactor(tokio_reactor_trait::Tokio),
        )
        .await
        .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let queue = channel
            .queue_declare(
                &format!("{}.goflix.transcode.dead", self.prefix),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let _ = connection.close(200, "done").await;
        queue.message_count()
    }

    /// Force-closes the RabbitMQ connections of the given processes.
    pub fn close_connections(&self, names: &[String]) -> usize {
        let listed = Command::new("rabbitmqctl")
            .args(["-q", "list_connections", "pid", "client_properties"])
            .output()
            .expect("rabbitmqctl");
        let listed = String::from_utf8_lossy(&listed.stdout);
        let mut closed = 0;
        for line in listed.lines() {
            let matched = names.iter().any(|n| line.contains(&format!("\"{n}\"")));
            if let (true, Some(pid)) = (matched, line.split_whitespace().next()) {
                let status = Command::new("rabbitmqctl")
                    .args(["-q", "close_connection", pid, "goflix fault test"])
                    .status()
                    .expect("rabbitmqctl");
                assert!(status.success(), "rabbitmqctl close_connection {pid}");
                closed += 1;
            }
        }
        closed
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for process in self.control.iter_mut().chain(self.workers.iter_mut()) {
            process.kill();
        }
        let (broker, prefix) = (self.broker_url.clone(), self.prefix.clone());
        let (admin, database) = (
            format!("{}/postgres", self.postgres_server),
            self.database.clone(),
        );
        let cleaned = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let connection = lapin::Connection::connect(
                        &broker,
                        lapin::ConnectionProperties::default()
                            .with_executor(tokio_executor_trait::Tokio::current())
                            .with_reactor(tokio_reactor_trait::Tokio),
                    )
                    .await?;
                    let channel = connection.create_channel().await?;
                    for queue in [
                        "goflix.transcode",
                        "goflix.transcode.dead",
                        "goflix.events.control-api",
                    ] {
                        channel
                            .queue_delete(
                                &format!("{prefix}.{queue}"),
                                QueueDeleteOptions::default(),
                            )
                            .await?;
                    }
                    channel
                        .exchange_delete(
                            &format!("{prefix}.goflix.events"),
                            ExchangeDeleteOptions::default(),
                        )
                        .await?;
                    let _ = connection.close(200, "done").await;
                    let admin = sea_orm::Database::connect(admin)
                        .await
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
                        ))
                        .await
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                })
        })
        .join();
        if !matches!(cleaned, Ok(Ok(()))) {
            eprintln!("could not clean up cluster {}: {cleaned:?}", self.prefix);
        }
    }
}
