//! TLS for the gRPC and metrics listeners (rustls, ring provider). The certificate, key and
//! optional client CA are read from PEM files into a server config held behind an `ArcSwap`:
//! every handshake takes the current one, so a reload (SIGHUP) changes what new connections
//! get and leaves the open ones alone. Handshakes run in their own tasks with a time limit, so
//! a slow or silent client never holds up the accept loop.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PEM files of the server's TLS.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// With it, clients must present a certificate signed by this CA (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// Why the TLS files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {what}: {message}", path.display())]
    File {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
    #[error("TLS: {0}")]
    Config(#[from] rustls::Error),
    #[error("TLS client CA: {0}")]
    ClientCa(#[from] rustls::server::VerifierBuilderError),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |message: String| TlsError::File {
        path: path.to_owned(),
        what: "certificates",
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no CERTIFICATE block in the file".into()));
    }
    Ok(certs)
}

/// A server config for `alpn` (`h2` for gRPC, `http/1.1` for metrics) from the files.
pub fn server_config(files: &TlsFiles, alpn: &[u8]) -> Result<rustls::ServerConfig, TlsError> {
    let certs = certificates(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::File {
        path: files.key.clone(),
        what: "private key",
        message: e.to_string(),
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in certificates(ca)? {
                roots.add(c)?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key)?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// The TLS configs in force for gRPC and metrics, reloadable.
pub struct Tls {
    files: TlsFiles,
    pub grpc: Arc<ArcSwap<rustls::ServerConfig>>,
    pub metrics: Arc<ArcSwap<rustls::ServerConfig>>,
}

impl Tls {
    pub fn load(files: &TlsFiles) -> Result<Tls, TlsError> {
        Ok(Tls {
            files: files.clone(),
            grpc: Arc::new(ArcSwap::from_pointee(server_config(files, b"h2")?)),
            metrics: Arc::new(ArcSwap::from_pointee(server_config(files, b"http/1.1")?)),
        })
    }

    /// Reads the files again; on any error the configs in force stay.
    pub fn reload(&self) -> Result<(), TlsError> {
        let grpc = server_config(&self.files, b"h2")?;
        let metrics = server_config(&self.files, b"http/1.1")?;
        self.grpc.store(Arc::new(grpc));
        self.metrics.store(Arc::new(metrics));
        Ok(())
    }
}

/// `stream` after a TLS handshake with the config in force when it came; `None` when the
/// handshake fails or takes longer than [`HANDSHAKE_TIMEOUT`] (the port's first-request
/// timeout usually ends a silent one sooner).
pub async fn handshake(
    config: &ArcSwap<rustls::ServerConfig>,
    stream: TcpStream,
) -> Option<TlsStream<TcpStream>> {
    let peer = stream.peer_addr().ok();
    let acceptor = TlsAcceptor::from(config.load_full());
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(?peer, "TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            tracing::debug!(?peer, "TLS handshake timed out");
            None
        }
    }
}
