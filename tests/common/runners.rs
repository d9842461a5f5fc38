//! Remote runners in tests: registration tokens over the REST API,
//! `goflix runner` processes (their HTTP port bound to port 0 and read from
//! the line they print), a self-signed certificate for the TLS gRPC port,
//! and a client of the runner protocol for crafted requests.

use super::cluster::{goflix, read_log, Process};
use super::Api;
use goflix_runner_proto::runner_service_client::RunnerServiceClient;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// Creates a registration token (as an admin); returns its id and secret.
pub async fn registration_token(api: Api<'_>, expires_in_seconds: Option<u64>) -> (String, String) {
    let mut body = json!({"description": "test runners"});
    if let Some(seconds) = expires_in_seconds {
        body["expires_in_seconds"] = json!(seconds);
    }
    let response = api
        .client
        .post(format!("{}/api/v1/runners/registration-tokens", api.base))
        .bearer_auth(api.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    (
        created["id"].as_str().unwrap().to_owned(),
        created["token"].as_str().unwrap().to_owned(),
    )
}

/// `GET /api/v1/runners`.
pub async fn runners(api: Api<'_>) -> Vec<Value> {
    let response = api
        .client
        .get(format!("{}/api/v1/runners", api.base))
        .bearer_auth(api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let list: Value = response.json().await.unwrap();
    list["items"].as_array().unwrap().clone()
}

/// Waits until some runner runs a job of `video_id`; the runner's id.
pub async fn runner_holding(api: Api<'_>, video_id: &str, limit: Duration) -> String {
    let started = Instant::now();
    loop {
        let holder = runners(api).await.into_iter().find(|r| {
            r["current_jobs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["video_id"] == video_id)
        });
        if let Some(runner) = holder {
            return runner["id"].as_str().unwrap().to_owned();
        }
        assert!(
            started.elapsed() < limit,
            "no runner took a job of {video_id}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `DELETE /api/v1/runners/{id}`.
pub async fn revoke(api: Api<'_>, id: &str) {
    let response = api
        .client
        .delete(format!("{}/api/v1/runners/{id}", api.base))
        .bearer_auth(api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

/// A `goflix runner` process.
pub struct RunnerProcess {
    /// The name it registered with.
    pub name: String,
    pub process: Process,
    /// Its data dir, where the credential is kept.
    pub data_dir: PathBuf,
    /// Its `/healthz`, `/readyz` and `/metrics`.
    pub base: String,
}

impl RunnerProcess {
    /// Starts `goflix runner --server {server}` named `name` in `dir`,
    /// registering with `token`; returns once it is connected (ready).
    pub async fn start(
        dir: &Path,
        name: &str,
        server: &str,
        token: &str,
        env: &[(&str, String)],
    ) -> Self {
        let data_dir = dir.join(name);
        std::fs::create_dir_all(&data_dir).unwrap();
        let token_file = dir.join(format!("{name}.token"));
        std::fs::write(&token_file, format!("{token}\n")).unwrap();
        let log = dir.join(format!("{name}.log"));
        let mut child = goflix()
            .args([
                "runner",
                "--server",
                server,
                "--name",
                name,
                "--concurrency",
                "1",
            ])
            .env("GOFLIX_DATA_DIR", &data_dir)
            .env("GOFLIX_RUNNER_TOKEN_FILE", &token_file)
            .env("GOFLIX_LISTEN", "127.0.0.1:0")
            .env("GOFLIX_DRAIN_SECONDS", "5")
            .env(
                "RUST_LOG",
                "warn,goflix=info,goflix_transcoder=info,goflix_shared=info",
            )
            .env("NO_COLOR", "1")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("goflix binary");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("runner {name} did not start: {}", read_log(&log)));
        let base = line
            .split_once("listening on ")
            .map(|(_, url)| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let runner = Self {
            name: name.to_owned(),
            process: Process { child, log },
            data_dir,
            base,
        };
        runner.wait_ready().await;
        runner
    }

    async fn wait_ready(&self) {
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            let ready = client
                .get(format!("{}/readyz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "runner did not connect: {}",
                self.process.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many times it logged `job done` for the video.
    pub fn completions(&self, video_id: &str) -> usize {
        self.process
            .log_text()
            .lines()
            .filter(|l| l.contains(video_id) && l.contains("job done"))
            .count()
    }

    /// Waits for the process to exit by itself; its exit status.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.process.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "the runner did not exit: {}",
                self.process.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        self.process.kill();
    }
}

/// A certificate authority and a server certificate it signed for
/// `127.0.0.1` and `localhost`, in `dir` (openssl).
pub struct TestCertificates {
    /// The authority, for clients to trust.
    pub ca: PathBuf,
    /// The server's certificate and key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(args: &[&str], dir: &Path) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// Makes [`TestCertificates`] in `dir`.
pub fn test_certificates(dir: &Path) -> TestCertificates {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=goflix-test-ca"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    openssl(&ca, dir);
    let mut request = vec!["req", "-subj", "/CN=127.0.0.1"];
    request.extend(ec);
    request.extend(["-keyout", "grpc.key", "-out", "grpc.csr"]);
    openssl(&request, dir);
    std::fs::write(
        dir.join("grpc.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "grpc.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "grpc.ext",
            "-out",
            "grpc.crt",
        ],
        dir,
    );
    TestCertificates {
        ca: dir.join("ca.crt"),
        cert: dir.join("grpc.crt"),
        key: dir.join("grpc.key"),
    }
}

/// A client of the runner service whose calls carry `secret`.
pub type Client =
    RunnerServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer {secret}`.
#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A plain-text channel to the gRPC port at `addr`.
pub async fn channel(addr: &str) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A client over `channel` presenting `secret`.
pub fn client(channel: &Channel, secret: &str) -> Client {
    let bearer = Bearer(format!("Bearer {secret}").parse().unwrap());
    RunnerServiceClient::with_interceptor(channel.clone(), bearer)
}

/// Runs `tests/suite/grpc_probe.py` (grpcio) against `addr`; its report.
pub fn grpcio_probe(addr: &str, ca_file: Option<&Path>) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/grpc_probe.py");
    let mut command = Command::new("python3");
    command.arg(script).arg(addr);
    if let Some(ca) = ca_file {
        command.arg(ca);
    }
    let output = command.output().expect("python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "grpc_probe.py failed (pip install grpcio grpcio-health-checking grpcio-reflection; \
         scripts/install-deps.sh --test does): {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}
