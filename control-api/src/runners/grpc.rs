//! The gRPC port of control-api (`GOFLIX_GRPC_LISTEN`): the runner service
//! `goflix.runner.v1.RunnerService`, the standard health service
//! (`grpc.health.v1`) and server reflection (`v1` and `v1alpha`), over
//! TLS when a certificate is configured. Every call but `Register`
//! carries a runner credential; an unknown, expired or revoked secret gets
//! `UNAUTHENTICATED`, an object outside the runner's grants
//! `PERMISSION_DENIED`.

use super::credentials::{self, Refused};
use super::session;
use super::RunnerHub;
use crate::auth::session::digest;
use crate::db::runner;
use futures_util::{Stream, StreamExt};
use goflix_runner_proto::runner_service_server::{RunnerService, RunnerServiceServer};
use goflix_runner_proto::{
    write_object_message, DeletePrefixRequest, DeletePrefixResponse, ObjectChunk,
    ReadObjectRequest, RegisterRequest, RegisterResponse, RunnerMessage, ServerMessage,
    WriteObjectMessage, WriteObjectResponse,
};
use goflix_shared::config::TlsFiles;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ObjectKey, ObjectStore, StoreError};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc;
use tonic::metadata::MetadataMap;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

/// Pings idle connections this often, so a dead runner's jobs are
/// released within a minute even when no packet says it died.
const KEEPALIVE: Duration = Duration::from_secs(15);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest message accepted (object chunks are 1 MiB).
const MAX_MESSAGE: usize = 8 << 20;
/// Outputs up to this size are gathered in memory, larger ones in a temporary file.
const IN_MEMORY: u64 = 4 << 20;
/// Messages queued to one runner before the session waits.
const SESSION_BUFFER: usize = 64;

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The runner service.
pub struct Service {
    hub: RunnerHub,
}

/// The secret of `authorization: Bearer <secret>`.
fn bearer(metadata: &MetadataMap) -> Result<&str, Status> {
    metadata
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| Status::unauthenticated("missing `authorization: Bearer <secret>`"))
}

fn refused(refused: Refused) -> Status {
    match refused {
        Refused::Database(e) => {
            tracing::warn!(error = %e, "runner authentication: database unavailable");
            Status::unavailable("the control API's database is unavailable")
        }
        other => Status::unauthenticated(other.to_string()),
    }
}

fn store_status(error: StoreError) -> Status {
    match error {
        StoreError::NotFound(key) => Status::not_found(format!("no object {key}")),
        StoreError::Unavailable(reason) => Status::unavailable(reason),
        other => Status::internal(other.to_string()),
    }
}

fn key(text: &str) -> Result<ObjectKey, Status> {
    ObjectKey::new(text).map_err(|e| Status::invalid_argument(e.to_string()))
}

impl Service {
    async fn runner(&self, metadata: &MetadataMap) -> Result<runner::Model, Status> {
        credentials::authenticate(&self.hub.inner.db, bearer(metadata)?)
            .await
            .map_err(refused)
    }

    /// The runner of an object call: one with a session here is known by
    /// its credential's digest (a revoked runner's session is gone at
    /// once); any other is checked in the database, and holds no grant.
    async fn caller_id(&self, metadata: &MetadataMap) -> Result<Uuid, Status> {
        let secret = bearer(metadata)?;
        match self.hub.connected_runner(&digest(secret)) {
            Some(runner_id) => Ok(runner_id),
            None => Ok(self.runner(metadata).await?.id),
        }
    }
}

#[tonic::async_trait]
impl RunnerService for Service {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        let token = bearer(request.metadata())?.to_owned();
        let body = request.into_inner();
        let name = credentials::checked_text(&body.name, "runner name")
            .map_err(Status::invalid_argument)?;
        let version = credentials::checked_text(&body.version, "version")
            .map_err(Status::invalid_argument)?;
        let (runner, credential) =
            credentials::register(&self.hub.inner.db, &token, &name, &version)
                .await
                .map_err(refused)?;
        tracing::info!(runner_id = %runner.id, name = %runner.name, "runner registered");
        Ok(Response::new(RegisterResponse {
            runner_id: runner.id.to_string(),
            credential,
        }))
    }

    type SessionStream = Boxed<ServerMessage>;

    async fn session(
        &self,
        request: Request<Streaming<RunnerMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let runner = self.runner(request.metadata()).await?;
        let inbound = request.into_inner();
        let (out, outgoing) = mpsc::channel(SESSION_BUFFER);
        tokio::spawn(session::run(self.hub.clone(), runner, inbound, out));
        let stream = futures_util::stream::unfold(outgoing, |mut rx| async move {
            rx.recv().await.map(|message| (message, rx))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    type ReadObjectStream = Boxed<ObjectChunk>;

    async fn read_object(
        &self,
        request: Request<ReadObjectRequest>,
    ) -> Result<Response<Self::ReadObjectStream>, Status> {
        let runner_id = self.caller_id(request.metadata()).await?;
        let key = key(&request.get_ref().key)?;
        if self.hub.grant_where(runner_id, |g| g.reads(&key)).is_none() {
            return Err(Status::permission_denied(
                "not the master or playback record of a job this runner holds",
            ));
        }
        let (_, body) = self
            .hub
            .inner
            .store
            .get_range(&key, None)
            .await
            .map_err(store_status)?;
        let chunks = body.map(|chunk| match chunk {
            Ok(data) => Ok(ObjectChunk {
                data: data.to_vec(),
            }),
            Err(e) => Err(Status::unavailable(format!("reading the object: {e}"))),
        });
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn write_object(
        &self,
        request: Request<Streaming<WriteObjectMessage>>,
    ) -> Result<Response<WriteObjectResponse>, Status> {
        let runner_id = self.caller_id(request.metadata()).await?;
        let mut messages = request.into_inner();
        let header = match messages.message().await? {
            Some(WriteObjectMessage {
                message: Some(write_object_message::Message::Header(header)),
            }) => header,
            _ => return Err(Status::invalid_argument("a write starts with its header")),
        };
        let key = key(&header.key)?;
        let allowed = |hub: &RunnerHub| hub.grant_where(runner_id, |g| g.writes(&key)).is_some();
        if !allowed(&self.hub) {
            return Err(Status::permission_denied(
                "outside the version folders of the jobs this runner holds",
            ));
        }
        let mut body = Body::new(header.size)?;
        let digest = loop {
            match messages.message().await? {
                Some(WriteObjectMessage {
                    message: Some(write_object_message::Message::Data(data)),
                }) => body.append(&data)?,
                Some(WriteObjectMessage {
                    message: Some(write_object_message::Message::Sha256(digest)),
                }) => break digest,
                Some(_) => return Err(Status::invalid_argument("one header per write")),
                None => {
                    return Err(Status::invalid_argument(
                        "the write ended before its digest: nothing stored",
                    ))
                }
            }
        };
        body.verify(header.size, &digest)?;
        // The job may have ended meanwhile: its attempt writes nothing more.
        if !allowed(&self.hub) {
            return Err(Status::permission_denied("the job is no longer held"));
        }
        let store = &self.hub.inner.store;
        match body.spool {
            Spool::Memory(bytes) => store.put_bytes(&key, bytes.into()).await,
            Spool::File(file) => store.put_file(&key, file.path()).await,
        }
        .map_err(store_status)?;
        Ok(Response::new(WriteObjectResponse {}))
    }

    async fn delete_prefix(
        &self,
        request: Request<DeletePrefixRequest>,
    ) -> Result<Response<DeletePrefixResponse>, Status> {
        let runner_id = self.caller_id(request.metadata()).await?;
        let prefix = &request.get_ref().prefix;
        if self
            .hub
            .grant_where(runner_id, |g| g.deletes(prefix))
            .is_none()
        {
            return Err(Status::permission_denied(
                "not a version folder of a job this runner holds",
            ));
        }
        self.hub
            .inner
            .store
            .delete_prefix(prefix)
            .await
            .map_err(store_status)?;
        Ok(Response::new(DeletePrefixResponse {}))
    }
}

/// Where an incoming object's bytes gather until they are checked.
enum Spool {
    Memory(Vec<u8>),
    File(tempfile::NamedTempFile),
}

/// An object being received: its bytes, how many and their digest so far.
struct Body {
    spool: Spool,
    received: u64,
    digest: Sha256,
}

impl Body {
    fn new(size: u64) -> Result<Self, Status> {
        let spool = if size <= IN_MEMORY {
            Spool::Memory(Vec::with_capacity(size as usize))
        } else {
            Spool::File(tempfile::NamedTempFile::new().map_err(|e| {
                Status::unavailable(format!("no scratch space for the object: {e}"))
            })?)
        };
        Ok(Self {
            spool,
            received: 0,
            digest: Sha256::new(),
        })
    }

    fn append(&mut self, data: &[u8]) -> Result<(), Status> {
        self.received += data.len() as u64;
        self.digest.update(data);
        match &mut self.spool {
            Spool::Memory(bytes) => bytes.extend_from_slice(data),
            Spool::File(file) => file
                .write_all(data)
                .map_err(|e| Status::unavailable(format!("spooling the object: {e}")))?,
        }
        Ok(())
    }

    /// Whether the object is complete and intact.
    fn verify(&mut self, size: u64, sha256: &str) -> Result<(), Status> {
        if self.received != size {
            return Err(Status::invalid_argument(format!(
                "{} bytes arrived, the header said {size}: nothing stored",
                self.received
            )));
        }
        let actual = hex::encode(std::mem::take(&mut self.digest).finalize());
        if !actual.eq_ignore_ascii_case(sha256.trim()) {
            return Err(Status::data_loss(
                "the SHA-256 of the bytes does not match: nothing stored",
            ));
        }
        if let Spool::File(file) = &mut self.spool {
            file.flush()
                .map_err(|e| Status::unavailable(format!("spooling the object: {e}")))?;
        }
        Ok(())
    }
}

/// The bound gRPC port, serving until `shutdown`.
pub struct GrpcPort {
    /// The address it listens on.
    pub addr: SocketAddr,
    incoming: TcpIncoming,
    tls: Option<ServerTlsConfig>,
    hub: RunnerHub,
}

impl GrpcPort {
    /// Binds `addr`; reads the certificate and key when `tls` is given.
    pub fn bind(addr: SocketAddr, tls: Option<&TlsFiles>, hub: RunnerHub) -> std::io::Result<Self> {
        let tls = tls
            .map(|files| -> std::io::Result<_> {
                let cert = std::fs::read(&files.cert)?;
                let key = std::fs::read(&files.key)?;
                Ok(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
            })
            .transpose()?;
        let incoming = TcpIncoming::bind(addr)?.with_nodelay(Some(true));
        let addr = incoming.local_addr()?;
        Ok(Self {
            addr,
            incoming,
            tls,
            hub,
        })
    }

    /// Serves until `shutdown`, then reports NOT_SERVING and closes.
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), tonic::transport::Error> {
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<RunnerServiceServer<Service>>().await;
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(goflix_runner_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        // Each lists the other too, so either version shows both.
        let reflection_v1 = reflection()
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
            .build_v1()
            .expect("the compiled descriptor sets are valid");
        let reflection_v1alpha = reflection()
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .expect("the compiled descriptor sets are valid");
        let runners = RunnerServiceServer::new(Service { hub: self.hub })
            .max_decoding_message_size(MAX_MESSAGE);
        let mut server = Server::builder()
            .http2_keepalive_interval(Some(KEEPALIVE))
            .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(16 << 20);
        if let Some(tls) = self.tls {
            server = server.tls_config(tls)?;
        }
        let stopping = async move {
            shutdown.cancelled().await;
            health
                .set_not_serving::<RunnerServiceServer<Service>>()
                .await;
        };
        server
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(runners)
            .serve_with_incoming_shutdown(self.incoming, stopping)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_stored_only_when_complete_and_intact() {
        let data = b"segment bytes";
        let sha = hex::encode(Sha256::digest(data));
        let mut whole = Body::new(data.len() as u64).unwrap();
        whole.append(data).unwrap();
        assert!(whole.verify(data.len() as u64, &sha).is_ok());
        let mut short = Body::new(data.len() as u64).unwrap();
        short.append(&data[..4]).unwrap();
        assert_eq!(
            short.verify(data.len() as u64, &sha).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        let mut altered = Body::new(IN_MEMORY + 1).unwrap();
        altered.append(b"segment bytez").unwrap();
        assert_eq!(
            altered.verify(data.len() as u64, &sha).unwrap_err().code(),
            tonic::Code::DataLoss
        );
    }

    #[test]
    fn only_a_bearer_secret_authenticates() {
        let mut metadata = MetadataMap::new();
        assert!(bearer(&metadata).is_err());
        metadata.insert("authorization", "Basic abc".parse().unwrap());
        assert!(bearer(&metadata).is_err());
        metadata.insert("authorization", "Bearer gfr_x".parse().unwrap());
        assert_eq!(bearer(&metadata).unwrap(), "gfr_x");
    }
}
