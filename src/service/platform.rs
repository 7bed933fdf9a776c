//! The platform's task API (`c1.connectorapi.baton.v1.BatonService`) as this worker calls it:
//! TLS, the access token on every call, this worker's host id in every request, and the
//! asset upload in 512 KiB chunks followed by the file's SHA-256.

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};

use super::error::ServiceError;
use super::tls::PlatformTls;
use super::token::TokenSource;
use crate::pb::baton::baton_service_client::BatonServiceClient;
use crate::pb::baton::baton_service_upload_asset_request::{
    Msg, UploadData, UploadEof, UploadMetadata,
};
use crate::pb::baton::*;

/// The chunk size of an asset upload, as the Baton SDK sends it.
pub const UPLOAD_CHUNK_BYTES: usize = 512 * 1024;
/// How long to wait for a connection to the platform.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Every call but the upload must be answered within this.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Upload chunks read ahead of the network.
const UPLOAD_QUEUE: usize = 4;

pub struct PlatformClient {
    grpc: BatonServiceClient<Channel>,
    tokens: TokenSource,
    host_id: String,
}

impl PlatformClient {
    /// A client for `authority` (`host[:port]`, port 443 by default). The connection is made
    /// lazily, and made again after it breaks.
    pub fn new(
        authority: &str,
        tls: &PlatformTls,
        tokens: TokenSource,
        host_id: String,
        user_agent: String,
    ) -> Result<Self, ServiceError> {
        let bad_host = || ServiceError::ApiHost(authority.to_string());
        let endpoint = Endpoint::from_shared(format!("https://{authority}"))
            .map_err(|_| bad_host())?
            .tls_config(tls.tonic_config())
            .map_err(|_| bad_host())?
            .user_agent(user_agent)
            .map_err(|_| bad_host())?
            .connect_timeout(CONNECT_TIMEOUT)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20));
        let grpc = BatonServiceClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(64 * 1024 * 1024);
        Ok(Self {
            grpc,
            tokens,
            host_id,
        })
    }

    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// A request carrying the access token, with a deadline unless it streams.
    async fn request<T>(
        &self,
        message: T,
        timeout: Option<Duration>,
    ) -> Result<tonic::Request<T>, ServiceError> {
        let authorization = self.tokens.authorization().await?;
        let mut value = AsciiMetadataValue::try_from(authorization.expose()).map_err(|_| {
            ServiceError::TokenResponse {
                url: "the token endpoint".to_string(),
                reason: "the token is not valid header text".to_string(),
            }
        })?;
        value.set_sensitive(true);
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("authorization", value);
        if let Some(timeout) = timeout {
            request.set_timeout(timeout);
        }
        Ok(request)
    }

    pub async fn hello(&self, mut hello: BatonServiceHelloRequest) -> Result<(), ServiceError> {
        hello.host_id = self.host_id.clone();
        let request = self.request(hello, Some(CALL_TIMEOUT)).await?;
        self.grpc
            .clone()
            .hello(request)
            .await
            .map_err(|s| ServiceError::rpc("Hello", s))?;
        Ok(())
    }

    pub async fn get_task(&self) -> Result<BatonServiceGetTaskResponse, ServiceError> {
        let request = self
            .request(
                BatonServiceGetTaskRequest {
                    host_id: self.host_id.clone(),
                },
                Some(CALL_TIMEOUT),
            )
            .await?;
        let response = self
            .grpc
            .clone()
            .get_task(request)
            .await
            .map_err(|s| ServiceError::rpc("GetTask", s))?;
        Ok(response.into_inner())
    }

    pub async fn heartbeat(
        &self,
        task_id: &str,
    ) -> Result<BatonServiceHeartbeatResponse, ServiceError> {
        let request = self
            .request(
                BatonServiceHeartbeatRequest {
                    host_id: self.host_id.clone(),
                    task_id: task_id.to_string(),
                    annotations: Vec::new(),
                    task_ids: Vec::new(),
                },
                Some(CALL_TIMEOUT),
            )
            .await?;
        let response = self
            .grpc
            .clone()
            .heartbeat(request)
            .await
            .map_err(|s| ServiceError::rpc("Heartbeat", s))?;
        Ok(response.into_inner())
    }

    pub async fn finish_task(
        &self,
        mut finish: BatonServiceFinishTaskRequest,
    ) -> Result<(), ServiceError> {
        finish.host_id = self.host_id.clone();
        let request = self.request(finish, Some(CALL_TIMEOUT)).await?;
        self.grpc
            .clone()
            .finish_task(request)
            .await
            .map_err(|s| ServiceError::rpc("FinishTask", s))?;
        Ok(())
    }

    /// Uploads the file at `path` as the task's asset: metadata, the bytes in 512 KiB chunks,
    /// then the SHA-256 of the whole file (computed first, so the platform can check what it
    /// received).
    pub async fn upload(&self, task_id: &str, path: &Path) -> Result<u64, ServiceError> {
        let io = |e: std::io::Error| ServiceError::Upload {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let checksum = sha256_of(path).await.map_err(io)?;
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let size = file.metadata().await.map_err(io)?.len();
        let (sender, receiver) = tokio::sync::mpsc::channel(UPLOAD_QUEUE);
        let metadata = Msg::Metadata(UploadMetadata {
            host_id: self.host_id.clone(),
            task_id: task_id.to_string(),
            annotations: Vec::new(),
        });
        // The reader feeds the stream; a read error ends the stream early, so the upload fails
        // on the platform side without an end-of-file, and is reported here.
        let reader = tokio::spawn(async move {
            let send = |msg| sender.send(BatonServiceUploadAssetRequest { msg: Some(msg) });
            if send(metadata).await.is_err() {
                return Ok(());
            }
            loop {
                let mut chunk = Vec::with_capacity(UPLOAD_CHUNK_BYTES);
                let read = (&mut file)
                    .take(UPLOAD_CHUNK_BYTES as u64)
                    .read_to_end(&mut chunk)
                    .await?;
                if read == 0 {
                    break;
                }
                if send(Msg::Data(UploadData { data: chunk })).await.is_err() {
                    return Ok(());
                }
            }
            let _ = send(Msg::Eof(UploadEof {
                sha256_checksum: checksum.to_vec(),
                annotations: Vec::new(),
            }))
            .await;
            Ok::<_, std::io::Error>(())
        });
        let request = self
            .request(tokio_stream::wrappers::ReceiverStream::new(receiver), None)
            .await?;
        let outcome = self.grpc.clone().upload_asset(request).await;
        match reader.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(io(e)),
            Err(e) => return Err(io(std::io::Error::other(e))),
        }
        outcome.map_err(|s| ServiceError::rpc("UploadAsset", s))?;
        Ok(size)
    }
}

async fn sha256_of(path: &Path) -> std::io::Result<[u8; 32]> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut hasher = Sha256::new();
        std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
        Ok(hasher.finalize().into())
    })
    .await
    .map_err(std::io::Error::other)?
}
