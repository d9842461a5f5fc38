//! What each subcommand does, over the configuration read from the environment.

use anyhow::{bail, Context};
use goflix_shared::config::Config;
use goflix_shared::shutdown;
use goflix_shared::telemetry::Telemetry;
use goflix_shared::token::Role;
use std::io::Read;

/// The configuration, and telemetry for `role` installed; hold the
/// [`Telemetry`] until the command is done (dropping it exports the last spans).
fn config(role: &str) -> anyhow::Result<(Config, Telemetry)> {
    let config = Config::from_env().context("reading configuration")?;
    let telemetry = goflix_shared::telemetry::init(config.log_json, role);
    Ok((config, telemetry))
}

/// `goflix serve`: every role in this process until SIGINT/SIGTERM.
pub async fn serve() -> anyhow::Result<()> {
    let (config, _telemetry) = config("serve")?;
    let shutdown = shutdown::on_signals();
    let grpc_scheme = if config.grpc_tls.is_some() {
        "https"
    } else {
        "http"
    };
    let running = crate::serve::start(config, shutdown).await?;
    println!("Goflix is serving at http://{}/", running.addr);
    if let Some(grpc) = running.grpc_addr {
        println!("  Runners: goflix runner --server {grpc_scheme}://{grpc} (registration tokens: POST /api/v1/runners/registration-tokens)");
    }
    println!("  API:    http://{}/api/v1/openapi.json", running.addr);
    println!("  Upload: curl -H \"Authorization: Bearer $TOKEN\" -F title=... -F file=@video.mp4 http://{}/api/v1/videos", running.addr);
    running.wait().await
}

/// Runs a started role until SIGINT/SIGTERM, then lets it finish what it holds.
async fn run_role<F>(name: &str, start: F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<crate::running::Running>>,
{
    let running = start.await?;
    println!("goflix {name} listening on http://{}/", running.addr);
    running.wait().await
}

/// `goflix control-api`: the API, the event follower and the outbox relay.
pub async fn control_api() -> anyhow::Result<()> {
    let (config, _telemetry) = config("control-api")?;
    let shutdown = shutdown::on_signals();
    run_role("control-api", crate::roles::control_api(config, shutdown)).await
}

/// `goflix origin`: manifests and media from object storage.
pub async fn origin() -> anyhow::Result<()> {
    let (config, _telemetry) = config("origin")?;
    let shutdown = shutdown::on_signals();
    run_role("origin", crate::roles::origin(config, shutdown)).await
}

/// `goflix transcoder`: `concurrency` jobs at a time from RabbitMQ.
pub async fn transcoder(concurrency: usize) -> anyhow::Result<()> {
    let (config, _telemetry) = config("transcoder")?;
    let shutdown = shutdown::on_signals();
    run_role(
        "transcoder",
        crate::roles::transcoder(config, concurrency, shutdown),
    )
    .await
}

/// `goflix runner`: a remote transcoding runner of the control API at `server`.
pub async fn runner(
    server: String,
    name: Option<String>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let (config, _telemetry) = config("runner")?;
    let shutdown = shutdown::on_signals();
    let args = crate::roles::RunnerArgs {
        server,
        name,
        concurrency,
    };
    run_role("runner", crate::roles::runner(config, args, shutdown)).await
}

/// `goflix transcode-child` (hidden): one job's media work in a limited
/// process, JSON request on standard input, reports on standard output
/// (see [`goflix_transcoder::runtime::child`]).
pub fn transcode_child(video: &str) -> anyhow::Result<()> {
    goflix_transcoder::runtime::child::run(std::io::stdin().lock(), std::io::stdout().lock())
        .with_context(|| format!("transcoding video {video}"))
}

/// `goflix migrate`: bring the database schema up to date.
pub async fn migrate() -> anyhow::Result<()> {
    let (config, _telemetry) = config("migrate")?;
    crate::parts::open_database(&config).await?;
    println!("database schema is up to date");
    Ok(())
}

/// `goflix user create`: a new user with the password from standard input.
pub async fn create_user(email: &str, role: &str) -> anyhow::Result<()> {
    let (config, _telemetry) = config("user")?;
    let role: Role = role.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("no password on standard input");
    }
    let db = crate::parts::open_database(&config).await?;
    let id = goflix_control_api::create_user(&db, email, role, password).await?;
    println!("created {} user {email} ({id})", role.as_str());
    Ok(())
}
