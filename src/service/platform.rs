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
use super::platform_tls::PlatformTls;
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
/// Every call but the upload must be answered within this, unless `--http-timeout-seconds`
/// says otherwise.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Upload chunks read ahead of the network.
const UPLOAD_QUEUE: usize = 4;

pub struct PlatformClient {
    grpc: BatonServiceClient<Channel>,
    tokens: TokenSource,
    host_id: String,
    call_timeout: Duration,
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
        call_timeout: Option<Duration>,
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
            call_timeout: call_timeout.unwrap_or(CALL_TIMEOUT),
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

    /// One unary call. A call refused as UNAUTHENTICATED is made once more with a new token,
    /// since the platform may revoke a token before it expires; a second refusal stands.
    async fn unary<T, R, F, Fut>(
        &self,
        rpc: &'static str,
        message: T,
        call: F,
    ) -> Result<R, ServiceError>
    where
        T: Clone,
        F: Fn(BatonServiceClient<Channel>, tonic::Request<T>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        let mut refused_once = false;
        loop {
            let request = self
                .request(message.clone(), Some(self.call_timeout))
                .await?;
            match call(self.grpc.clone(), request).await {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) if status.code() == tonic::Code::Unauthenticated && !refused_once => {
                    refused_once = true;
                    tracing::info!(
                        rpc,
                        "the platform refused the access token; getting a new one"
                    );
                    self.tokens.invalidate().await;
                }
                Err(status) => return Err(ServiceError::rpc(rpc, status)),
            }
        }
    }

    pub async fn hello(&self, mut hello: BatonServiceHelloRequest) -> Result<(), ServiceError> {
        hello.host_id = self.host_id.clone();
        self.unary("Hello", hello, |mut grpc, request| async move {
            grpc.hello(request).await
        })
        .await?;
        Ok(())
    }

    pub async fn get_task(&self) -> Result<BatonServiceGetTaskResponse, ServiceError> {
        let request = BatonServiceGetTaskRequest {
            host_id: self.host_id.clone(),
        };
        self.unary("GetTask", request, |mut grpc, request| async move {
            grpc.get_task(request).await
        })
        .await
    }

    pub async fn heartbeat(
        &self,
        task_id: &str,
    ) -> Result<BatonServiceHeartbeatResponse, ServiceError> {
        let request = BatonServiceHeartbeatRequest {
            host_id: self.host_id.clone(),
            task_id: task_id.to_string(),
            annotations: Vec::new(),
            task_ids: Vec::new(),
        };
        self.unary("Heartbeat", request, |mut grpc, request| async move {
            grpc.heartbeat(request).await
        })
        .await
    }

    pub async fn finish_task(
        &self,
        mut finish: BatonServiceFinishTaskRequest,
    ) -> Result<(), ServiceError> {
        finish.host_id = self.host_id.clone();
        self.unary("FinishTask", finish, |mut grpc, request| async move {
            grpc.finish_task(request).await
        })
        .await?;
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
        if let Err(status) = outcome {
            if status.code() == tonic::Code::Unauthenticated {
                self.tokens.invalidate().await;
            }
            return Err(ServiceError::rpc("UploadAsset", status));
        }
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
