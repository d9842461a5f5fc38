//! Notifications end to end on `goflix serve`: a real SMTP server
//! (Python aiosmtpd writing a maildir) receives the `video.ready` e-mail
//! rendered from an overridden template, after an SMTP outage at the first
//! attempt; SMS (Twilio-style form POST) and signed webhook deliveries
//! reach an HTTP receiver in the test; preferences turn channels on and
//! off; bad templates, webhooks and preferences are refused.

use crate::common::{clip, spawn_app_with, TestApp};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use goflix_testkit::free_port;
use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use sha2::Sha256;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long any delivery may take to show up before the test fails.
const PATIENCE: Duration = Duration::from_secs(120);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP server standing in for the SMS provider and a webhook receiver.
async fn receiver() -> (u16, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let tx = tx.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Received {
                    path: req.path().to_owned(),
                    headers: req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                        .collect(),
                    body: body.to_vec(),
                });
                HttpResponse::Ok().json(json!({ "sid": "SM0001" }))
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (
        port,
        Inbox {
            rx,
            backlog: Vec::new(),
        },
    )
}

/// What the receiver got, in arrival order, taken by path.
struct Inbox {
    rx: mpsc::UnboundedReceiver<Received>,
    backlog: Vec<Received>,
}

impl Inbox {
    /// The first request to `path` not taken yet (waiting for it).
    async fn next(&mut self, path: &str) -> Received {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(i) = self.backlog.iter().position(|r| r.path == path) {
                return self.backlog.remove(i);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let got = tokio::time::timeout(left, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("nothing arrived at {path}"))
                .expect("receiver stopped");
            self.backlog.push(got);
        }
    }
}

/// aiosmtpd on `port`, storing messages in the maildir `dir`.
struct SmtpServer {
    child: Child,
}

impl SmtpServer {
    fn start(port: u16, dir: &Path) -> Self {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 -m aiosmtpd (scripts/install-deps.sh --test installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "aiosmtpd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The messages to `to` in maildir `dir`.
fn mail_to(dir: &Path, to: &str) -> Vec<Value> {
    mailbox(dir).into_iter().filter(|m| m["to"] == to).collect()
}

/// The messages in maildir `dir`, parsed by Python's `email` package into
/// `{subject, to, text, html}`.
fn mailbox(dir: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir.join("new")) else {
        return Vec::new();
    };
    let files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files
        .iter()
        .map(|file| {
            let script = r#"
import email, email.policy, json, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
print(json.dumps({
    "subject": m["subject"], "to": m["to"], "from": m["from"],
    "text": m.get_body(("plain",)).get_content(),
    "html": m.get_body(("html",)).get_content(),
}))
"#;
            let out = Command::new("python3")
                .args(["-c", script])
                .arg(file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect()
}

/// Waits for mail to `to` in maildir `dir`; returns every message to `to`.
async fn wait_for_mail(dir: &Path, to: &str) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let mails = mail_to(dir, to);
        if !mails.is_empty() {
            return mails;
        }
        assert!(started.elapsed() < PATIENCE, "no e-mail arrived");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Holds `port` like an SMTP server that is down for maintenance: every
/// connection gets `421` and is closed. Returns once the first connection
/// came, and frees the port when dropped.
struct SmtpOutage {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    first: std::sync::mpsc::Receiver<()>,
}

impl SmtpOutage {
    fn start(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, first) = std::sync::mpsc::channel();
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.write_all(b"421 4.3.2 down for maintenance\r\n");
                            let _ = tx.send(());
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        };
        Self {
            stop,
            thread: Some(thread),
            first,
        }
    }

    fn wait_for_an_attempt(&self) {
        self.first
            .recv_timeout(PATIENCE)
            .expect("the dispatcher never tried the SMTP server");
    }
}

impl Drop for SmtpOutage {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn verify_signature(secret: &str, delivery: &Received) {
    let timestamp = delivery
        .header("goflix-timestamp")
        .expect("timestamp header");
    let signature = delivery
        .header("goflix-signature")
        .expect("signature header");
    let hex = signature.strip_prefix("v1=").expect("v1= scheme");
    let given: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let mac = |body: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        mac
    };
    mac(&delivery.body)
        .verify_slice(&given)
        .expect("the webhook signature verifies");
    let tampered = [&delivery.body[..], b" "].concat();
    assert!(mac(&tampered).verify_slice(&given).is_err());
}

impl TestApp {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// The `notification_jobs` rows of the app's SQLite database for `video_id`.
async fn jobs_about(app: &TestApp, video_id: &str) -> Vec<(String, String)> {
    let db = Database::connect(format!(
        "sqlite://{}?mode=ro",
        app.data_dir.path().join("goflix.db").display()
    ))
    .await
    .unwrap();
    let rows = db
        .query_all(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT event, channel, payload FROM notification_jobs".to_owned(),
        ))
        .await
        .unwrap();
    rows.iter()
        .filter(|row| {
            let payload: Value = row.try_get("", "payload").unwrap();
            payload["video"]["id"] == video_id
        })
        .map(|row| {
            (
                row.try_get("", "event").unwrap(),
                row.try_get("", "channel").unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_ready_reaches_email_sms_and_a_signed_webhook_after_an_smtp_outage() {
    let (http_port, mut received) = receiver().await;
    let smtp_port = free_port();
    let mail = tempfile::tempdir().unwrap();
    let outage = SmtpOutage::start(smtp_port);
    let smtp_url = format!("smtp://127.0.0.1:{smtp_port}");
    let sms_url = format!("http://AC123:s3cr%40t@127.0.0.1:{http_port}/sms");
    let app = spawn_app_with(&[
        ("GOFLIX_SMTP_URL", &smtp_url),
        ("GOFLIX_SMTP_FROM", "Goflix <noreply@example.test>"),
        ("GOFLIX_SMS_URL", &sms_url),
        ("GOFLIX_SMS_FROM", "+15005550006"),
        ("GOFLIX_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("GOFLIX_NOTIFY_RETRY_MAX_SECONDS", "1"),
    ])
    .await;

    let (status, prefs) = app
        .call(
            reqwest::Method::PUT,
            "/users/me/notification-preferences",
            Some(json!({ "phone": "+14155550123", "events": { "video.ready": { "sms": true } } })),
        )
        .await;
    assert_eq!(status, 200, "{prefs}");
    assert_eq!(
        prefs["events"]["video.ready"],
        json!({ "email": true, "sms": true })
    );

    let (status, hook) = app
        .call(
            reqwest::Method::POST,
            "/webhooks",
            Some(json!({ "url": format!("http://127.0.0.1:{http_port}/hook"), "events": ["video.ready"] })),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let secret = hook["secret"]
        .as_str()
        .expect("a generated secret, shown once")
        .to_owned();
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let (_, listed) = app.call(reqwest::Method::GET, "/webhooks", None).await;
    assert!(listed["items"][0].get("secret").is_none(), "{listed}");

    let (status, template) = app
        .call(
            reqwest::Method::PUT,
            "/notification-templates/video.ready.email.html",
            Some(json!({ "source": "<h1>{{ video.title }}</h1><p>is ready for {{ user.email }}</p>" })),
        )
        .await;
    assert_eq!(status, 200, "{template}");
    assert_eq!(template["customized"], true);

    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "clip.mp4", "320x240", 2, true);
    let title = "<script>alert(1)</script> Clip & co\r\nBcc: victim@example.com";
    let (status, created) = app.upload(title, &source).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let video = app.wait_settled(&id, Duration::from_secs(300)).await;
    assert_eq!(video["state"], "ready", "{video}");

    // SMS: a form POST with basic auth from the URL.
    let sms = received.next("/sms").await;
    let form: Vec<(String, String)> = url_decode(&sms.body);
    assert!(
        form.contains(&("To".into(), "+14155550123".into())),
        "{form:?}"
    );
    assert!(
        form.contains(&("From".into(), "+15005550006".into())),
        "{form:?}"
    );
    let body = &form.iter().find(|(k, _)| k == "Body").unwrap().1;
    assert!(body.contains("Clip & co"), "{body}");
    assert_eq!(sms.header("authorization"), Some("Basic QUMxMjM6czNjckB0"));

    // Webhook: signed, with the event and the video.
    let delivery = received.next("/hook").await;
    verify_signature(&secret, &delivery);
    let event: Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(event["type"], "video.ready");
    assert_eq!(event["data"]["video"]["id"], id.as_str());
    assert_eq!(delivery.header("goflix-event"), Some("video.ready"));
    assert_eq!(delivery.header("goflix-delivery"), event["id"].as_str());

    // E-mail: the SMTP server was down at the first attempt; bring it back.
    outage.wait_for_an_attempt();
    drop(outage);
    let _smtp = SmtpServer::start(smtp_port, mail.path());
    let mails = wait_for_mail(mail.path(), crate::common::ADMIN_EMAIL).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail["to"], crate::common::ADMIN_EMAIL);
    let subject = mail["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("Your video \"<script>alert(1)</script> Clip & co"),
        "{subject}"
    );
    assert!(
        !subject.contains('\n') && !subject.contains('\r'),
        "{subject}"
    );
    let html = mail["html"].as_str().unwrap();
    assert!(html.contains("<h1>&lt;script&gt;alert(1)&lt;"), "{html}");
    assert!(html.contains("script&gt; Clip &amp; co"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains(&format!("is ready for {}", crate::common::ADMIN_EMAIL)),
        "{html}"
    );
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains(&id), "{text}");

    let (status, deliveries) = app
        .call(
            reqwest::Method::GET,
            &format!("/webhooks/{hook_id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let first = &deliveries["items"][0];
    assert_eq!(first["state"], "delivered", "{deliveries}");
    assert_eq!(first["attempts"][0]["status_code"], 200, "{deliveries}");
    assert!(
        first["attempts"][0]["finished_at"].is_string(),
        "{deliveries}"
    );

    let (status, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/webhooks/{hook_id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(
            reqwest::Method::GET,
            &format!("/webhooks/{hook_id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

/// The fields of an `application/x-www-form-urlencoded` body.
fn url_decode(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    };
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_turn_channels_off_and_bad_input_is_refused() {
    let (http_port, mut received) = receiver().await;
    let smtp_port = free_port();
    let mail = tempfile::tempdir().unwrap();
    let _smtp = SmtpServer::start(smtp_port, mail.path());
    let smtp_url = format!("smtp://127.0.0.1:{smtp_port}");
    let sms_url = format!("http://127.0.0.1:{http_port}/sms");
    let app = spawn_app_with(&[
        ("GOFLIX_SMTP_URL", &smtp_url),
        ("GOFLIX_SMTP_FROM", "noreply@example.test"),
        ("GOFLIX_SMS_URL", &sms_url),
        ("GOFLIX_SMS_FROM", "Goflix"),
    ])
    .await;
    use reqwest::Method;

    // The OpenAPI document describes the routes, and every reference resolves.
    let (status, document) = app.call(Method::GET, "/openapi.json", None).await;
    assert_eq!(status, 200);
    for path in [
        "/webhooks",
        "/webhooks/{id}",
        "/webhooks/{id}/deliveries",
        "/notification-templates",
        "/notification-templates/{name}",
        "/users/me/notification-preferences",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    let text = document.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            document["components"]["schemas"][name].is_object(),
            "schema {name} missing"
        );
    }

    // Templates: broken ones are refused at PUT with the reason.
    for (source, reason) in [
        ("{{ video.title ", "syntax"),
        ("{{ vidoe.title }}", "undefined"),
        (
            "{% for x in range(100000) %}{% for y in range(100000) %}.{% endfor %}{% endfor %}",
            "fuel",
        ),
    ] {
        let (status, error) = app
            .call(
                Method::PUT,
                "/notification-templates/video.ready.email.subject",
                Some(json!({ "source": source })),
            )
            .await;
        assert_eq!(status, 422, "{reason}: {error}");
        assert_eq!(error["code"], "invalid_template", "{error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("sample context"),
            "{error}"
        );
    }
    let (_, still) = app
        .call(
            Method::GET,
            "/notification-templates/video.ready.email.subject",
            None,
        )
        .await;
    assert_eq!(
        still["customized"], false,
        "a refused template is not saved: {still}"
    );
    for name in [
        "nope",
        "..%2F..%2Fetc%2Fpasswd",
        "video.ready.email",
        "account.verify_email.sms.text",
    ] {
        let (status, _) = app
            .call(
                Method::GET,
                &format!("/notification-templates/{name}"),
                None,
            )
            .await;
        assert_eq!(status, 404, "{name}");
    }
    let (status, list) = app.call(Method::GET, "/notification-templates", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 17);

    // Webhooks: only http(s), no internal addresses unless allowed, known events.
    for (body, code) in [
        (
            json!({ "url": "file:///etc/passwd", "events": ["video.ready"] }),
            "invalid_webhook_url",
        ),
        (
            json!({ "url": "http://127.0.0.1:9/x", "events": ["video.ready"] }),
            "invalid_webhook_url",
        ),
        (
            json!({ "url": "http://169.254.169.254/latest", "events": ["video.ready"] }),
            "invalid_webhook_url",
        ),
        (
            json!({ "url": "https://hooks.example.com/x", "events": ["account.password_reset"] }),
            "invalid_events",
        ),
        (
            json!({ "url": "https://hooks.example.com/x", "events": [] }),
            "invalid_events",
        ),
        (
            json!({ "url": "https://hooks.example.com/x", "events": ["video.ready"], "secret": "short" }),
            "invalid_secret",
        ),
    ] {
        let (status, error) = app
            .call(Method::POST, "/webhooks", Some(body.clone()))
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some(code)),
            "{body}: {error}"
        );
    }
    let (status, _) = app.call(Method::DELETE, "/webhooks/not-a-uuid", None).await;
    assert_eq!(status, 404);
    let (status, hook) = app
        .call(
            Method::POST,
            "/webhooks",
            Some(json!({
                "url": "https://hooks.example.com/goflix",
                "secret": "a-secret-of-the-receiver",
                "events": ["video.failed", "video.failed"]
            })),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["events"], json!(["video.failed"]));
    assert_eq!(hook["secret"], "a-secret-of-the-receiver");
    let hook_id = hook["id"].as_str().unwrap();
    let (status, deliveries) = app
        .call(
            Method::GET,
            &format!("/webhooks/{hook_id}/deliveries"),
            None,
        )
        .await;
    assert_eq!((status, deliveries), (200, json!({ "items": [] })));

    // Only admins manage webhooks and templates; anyone manages their preferences.
    let (status, viewer) = app
        .call(
            Method::POST,
            "/users",
            Some(json!({ "email": "viewer@example.test", "password": "a long viewer passphrase", "role": "viewer" })),
        )
        .await;
    assert_eq!(status, 201, "{viewer}");
    let viewer_token = crate::common::login(
        &app.client,
        &app.base,
        "viewer@example.test",
        "a long viewer passphrase",
    )
    .await;
    for (method, path) in [
        (Method::GET, "/webhooks".to_owned()),
        (Method::GET, format!("/webhooks/{hook_id}/deliveries")),
        (Method::DELETE, format!("/webhooks/{hook_id}")),
        (Method::GET, "/notification-templates".to_owned()),
        (
            Method::GET,
            "/notification-templates/video.ready.sms.text".to_owned(),
        ),
    ] {
        let response = app
            .client
            .request(method.clone(), format!("{}/api/v1{path}", app.base))
            .bearer_auth(&viewer_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
    }
    let response = app
        .client
        .get(format!(
            "{}/api/v1/users/me/notification-preferences",
            app.base
        ))
        .bearer_auth(&viewer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Preferences: bad bodies refused; anonymous callers get 401.
    for (body, code) in [
        (json!({ "phone": "12345", "events": {} }), "invalid_phone"),
        (
            json!({ "phone": null, "events": { "video.ready": { "sms": true } } }),
            "phone_required",
        ),
        (
            json!({ "phone": null, "events": { "account.verify_email": { "email": false } } }),
            "invalid_preferences",
        ),
    ] {
        let (status, error) = app
            .call(
                Method::PUT,
                "/users/me/notification-preferences",
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some(code)),
            "{body}: {error}"
        );
    }
    let anonymous = app
        .client
        .get(format!(
            "{}/api/v1/users/me/notification-preferences",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // E-mail off, SMS on: the video's notification goes by SMS only.
    let (status, prefs) = app
        .call(
            Method::PUT,
            "/users/me/notification-preferences",
            Some(json!({
                "phone": "+14155550123",
                "events": {
                    "video.ready": { "email": false, "sms": true },
                    "account.welcome": { "email": false }
                }
            })),
        )
        .await;
    assert_eq!(status, 200, "{prefs}");
    let (_, read_back) = app
        .call(Method::GET, "/users/me/notification-preferences", None)
        .await;
    assert_eq!(read_back, prefs);
    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "clip.mp4", "320x240", 2, true);
    let (status, created) = app.upload("Quiet clip", &source).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.wait_settled(&id, Duration::from_secs(300)).await["state"],
        "ready"
    );
    let sms = received.next("/sms").await;
    let form = url_decode(&sms.body);
    assert!(
        form.contains(&("Body".into(), "Goflix: \"Quiet clip\" is ready.".into())),
        "{form:?}"
    );
    // The jobs were written together, before the SMS went out: no e-mail among them.
    assert_eq!(
        jobs_about(&app, &id).await,
        [("video.ready".to_owned(), "sms".to_owned())]
    );
    assert!(mail_to(mail.path(), crate::common::ADMIN_EMAIL).is_empty());

    // Account e-mails carrying a token go out whatever the preferences say.
    let response = app
        .client
        .post(format!("{}/api/v1/auth/password-reset/request", app.base))
        .json(&json!({ "email": crate::common::ADMIN_EMAIL }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let mails = wait_for_mail(mail.path(), crate::common::ADMIN_EMAIL).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["subject"], "Reset your Goflix password");
    assert_eq!(mails[0]["to"], crate::common::ADMIN_EMAIL);
    let text = mails[0]["text"].as_str().unwrap();
    let code = text
        .split("reset your password with this code: ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("no code in {text:?}"));
    assert!(code.len() >= 16, "{code}");
}
