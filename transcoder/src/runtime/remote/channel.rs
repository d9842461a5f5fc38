//! The runner's connection to the control API's gRPC port: one lazily
//! connected HTTP/2 channel (TLS for an `https://` server, trusting the
//! system's roots and an optional extra authority), kept alive by HTTP/2
//! pings, every call carrying a bearer secret in `authorization`.

use super::RunnerError;
use goflix_runner_proto::runner_service_client::RunnerServiceClient;
use std::path::Path;
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Status};

/// How often an idle connection is pinged, so a dead peer or a NAT that
/// dropped the flow is noticed (and the stream's jobs released) quickly.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// How long a ping may go unanswered before the connection counts as dead.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Flow-control windows large enough to stream media at disk speed.
const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;

/// A client of the runner service whose every call carries one secret.
pub type Client = RunnerServiceClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer <secret>` to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    /// The header value for `secret`.
    pub fn new(secret: &str) -> Result<Self, RunnerError> {
        format!("Bearer {secret}")
            .parse()
            .map(Self)
            .map_err(|_| RunnerError::Config("the runner secret is not printable ASCII".into()))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A channel to `server` (`http://host:port` or `https://host:port`),
/// connected on first use and reconnected as needed.
pub fn open(server: &str, ca_file: Option<&Path>) -> Result<Channel, RunnerError> {
    let bad = |e: &dyn std::fmt::Display| RunnerError::Config(format!("--server {server}: {e}"));
    let mut endpoint = Endpoint::from_shared(server.to_owned())
        .map_err(|e| bad(&e))?
        .connect_timeout(Duration::from_secs(10))
        .http2_keep_alive_interval(KEEPALIVE)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true)
        .tcp_nodelay(true)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
    match endpoint.uri().scheme_str() {
        Some("https") => {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(path) = ca_file {
                let pem = std::fs::read(path).map_err(|e| {
                    RunnerError::Config(format!("GOFLIX_RUNNER_CA_FILE {}: {e}", path.display()))
                })?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint = endpoint.tls_config(tls).map_err(|e| bad(&e))?;
        }
        Some("http") => {}
        _ => return Err(bad(&"must be an http:// or https:// URL")),
    }
    Ok(endpoint.connect_lazy())
}

/// A client over `channel` whose calls carry `secret`.
pub fn client(channel: Channel, secret: &str) -> Result<Client, RunnerError> {
    Ok(
        RunnerServiceClient::with_interceptor(channel, Bearer::new(secret)?)
            // Above tonic's 4 MiB default, for the object chunks.
            .max_decoding_message_size(16 << 20),
    )
}
