//! `spawn_app()` and one helper per endpoint.

use actix_web::{App, HttpServer};
use goflix_control_api::ControlPlane;
use goflix_shared::config::Config;
use goflix_shared::domain::VideoId;
use goflix_shared::events::{Event, EventKind, EventSink, MemoryBus};
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::Store;
use goflix_shared::token::Role;
use goflix_testkit::postgres::TestDatabase;
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use serde_json::Value;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

pub const ADMIN_EMAIL: &str = "root@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password-123";
pub const PASSWORD: &str = "user-password-123";

/// The database a test app runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// A SQLite file in the app's data dir.
    Sqlite,
    /// A fresh database `goflix_test_<uuid>` on `GOFLIX_TEST_POSTGRES_URL`, dropped afterwards.
    Postgres,
}

/// A control plane serving on a random port, with its own data dir.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub data: TempDir,
    pub db: DatabaseConnection,
    pub bus: Arc<MemoryBus>,
    shutdown: Shutdown,
    /// Dropped after the server stopped (fields drop in order).
    _postgres: Option<TestDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with_limit(64 << 20).await
}

pub async fn spawn_app_with_limit(max_upload_bytes: u64) -> TestApp {
    spawn_app_with(Backend::Sqlite, max_upload_bytes).await
}

/// A control plane on `backend`.
pub async fn spawn_app_on(backend: Backend) -> TestApp {
    spawn_app_with(backend, 64 << 20).await
}

async fn spawn_app_with(backend: Backend, max_upload_bytes: u64) -> TestApp {
    let data = tempfile::tempdir().unwrap();
    let postgres = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(TestDatabase::create().await),
    };
    let mut vars = vec![
        (
            "GOFLIX_DATA_DIR".to_string(),
            data.path().display().to_string(),
        ),
        ("GOFLIX_ADMIN_EMAIL".to_string(), ADMIN_EMAIL.to_string()),
        (
            "GOFLIX_ADMIN_PASSWORD".to_string(),
            ADMIN_PASSWORD.to_string(),
        ),
        (
            "GOFLIX_MAX_UPLOAD_BYTES".to_string(),
            max_upload_bytes.to_string(),
        ),
    ];
    if let Some(postgres) = &postgres {
        vars.push(("GOFLIX_DATABASE_URL".to_string(), postgres.url()));
    }
    let config = Config::from_vars(vars).unwrap();
    let db = goflix_control_api::connect(config.database.connection_url(), config.database_pool)
        .await
        .unwrap();
    goflix_control_api::migrate(&db).await.unwrap();
    let store = Store::open(&config.storage).await.unwrap();
    let bus = Arc::new(MemoryBus::default());
    let plane = ControlPlane::start(&config, db.clone(), store, bus.clone())
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let served = plane.clone();
    let server = HttpServer::new(move || {
        let plane = served.clone();
        App::new().configure(move |cfg| plane.configure(cfg))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    let shutdown = Shutdown::new();
    tokio::spawn(server);
    let stop = shutdown.clone();
    tokio::spawn(async move {
        stop.cancelled().await;
        handle.stop(false).await;
    });
    let follower = shutdown.clone();
    tokio::spawn(async move { plane.follow_events(follower).await.unwrap() });
    TestApp {
        address,
        client: reqwest::Client::new(),
        data,
        db,
        bus,
        shutdown,
        _postgres: postgres,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.address)
    }

    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url("/auth/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the token response.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let response = self
            .token_request(&[
                ("grant_type", "password"),
                ("username", email),
                ("password", password),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates a user with `role` and returns an access token for them.
    pub async fn user_token(&self, role: Role) -> String {
        let email = format!(
            "{}-{}@example.com",
            role.as_str(),
            uuid::Uuid::new_v4().simple()
        );
        goflix_control_api::create_user(&self.db, &email, role, PASSWORD)
            .await
            .unwrap();
        self.login(&email, PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A multipart form with the usual fields.
    pub fn form(title: Option<&str>, visibility: Option<&str>, file: Option<Vec<u8>>) -> Form {
        let mut form = Form::new();
        if let Some(title) = title {
            form = form.text("title", title.to_owned());
        }
        if let Some(visibility) = visibility {
            form = form.text("visibility", visibility.to_owned());
        }
        if let Some(file) = file {
            form = form.part("file", Part::bytes(file).file_name("master.mp4"));
        }
        form
    }

    pub async fn upload_form(&self, token: Option<&str>, form: Form) -> Response {
        let mut request = self.client.post(self.url("/videos")).multipart(form);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// Uploads `bytes` and returns the new video's id.
    pub async fn upload(
        &self,
        token: &str,
        title: &str,
        visibility: &str,
        bytes: Vec<u8>,
    ) -> VideoId {
        let response = self
            .upload_form(
                Some(token),
                Self::form(Some(title), Some(visibility), Some(bytes)),
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["state"], "queued");
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// A bodiless request with `token` (POST actions, DELETE).
    pub async fn call(&self, method: reqwest::Method, token: &str, path: &str) -> Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The playback record stored for `id`.
    pub fn playback_record(&self, id: VideoId) -> goflix_shared::domain::PlaybackRecord {
        let path = self
            .data
            .path()
            .join(format!("objects/media/{id}/playback.json"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    pub async fn video(&self, token: &str, id: VideoId) -> Value {
        let response = self.get(Some(token), &format!("/videos/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub fn master_path(&self, id: VideoId) -> PathBuf {
        self.data
            .path()
            .join("objects/masters")
            .join(id.to_string())
    }

    pub fn stored_masters(&self) -> usize {
        std::fs::read_dir(self.data.path().join("objects/masters"))
            .map(|dir| dir.count())
            .unwrap_or(0)
    }

    pub async fn video_rows(&self) -> u64 {
        goflix_control_api::db::video::Entity::find()
            .count(&self.db)
            .await
            .unwrap()
    }

    pub async fn job_rows(&self) -> u64 {
        goflix_shared::queue::database::job::Entity::find()
            .count(&self.db)
            .await
            .unwrap()
    }

    pub async fn publish(&self, id: VideoId, kind: EventKind) {
        self.bus.publish(Event::now(id, kind)).await.unwrap();
    }

    /// Polls the video until `done` holds (the follower applies events asynchronously).
    pub async fn wait_for(&self, token: &str, id: VideoId, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            let video = self.video(token, id).await;
            if done(&video) {
                return video;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "video {id} never reached the expected state: {}",
            self.video(token, id).await
        );
    }
}

/// The `code` of an error response, after checking its status.
pub async fn error_code(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].is_string(), "no message in {body}");
    body["code"].as_str().unwrap().to_owned()
}
