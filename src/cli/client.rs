//! How the CLI's clients (`route --server`, `exceptions`, `loadgen`) reach a server: plain or
//! TLS (a CA to trust, optionally a client certificate for mutual TLS) and a bearer token sent
//! with every call.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// Connection options shared by every client command.
#[derive(Args, Debug, Clone, Default)]
pub struct ClientArgs {
    /// The bearer token to send (`fulfil token new` makes one).
    #[arg(long, env = "FULFIL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM file of the CA that signed the server's certificate (the server is reached with TLS;
    /// use an https:// address).
    #[arg(long, env = "FULFIL_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// The name the server's certificate must carry [default: the host of the address].
    #[arg(long, requires = "tls_ca")]
    pub tls_domain: Option<String>,
    /// PEM certificate of this client, for a server that requires mutual TLS.
    #[arg(long, requires_all = ["tls_ca", "tls_client_key"])]
    pub tls_client_cert: Option<PathBuf>,
    /// PEM private key of --tls-client-cert.
    #[arg(long, requires = "tls_client_cert")]
    pub tls_client_key: Option<PathBuf>,
}

/// Adds `authorization: Bearer TOKEN` to every call (nothing without a token).
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A connection with the token on every call.
pub type Conn = InterceptedService<Channel, Bearer>;

impl ClientArgs {
    /// The endpoint of `server` with these TLS options.
    pub fn endpoint(&self, server: &str) -> anyhow::Result<Endpoint> {
        let mut endpoint = Channel::from_shared(server.to_owned())
            .with_context(|| format!("bad server address `{server}`"))?;
        if let Some(ca) = &self.tls_ca {
            let read = |p: &PathBuf| {
                std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
            };
            let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
            if let Some(domain) = &self.tls_domain {
                tls = tls.domain_name(domain.clone());
            }
            if let (Some(cert), Some(key)) = (&self.tls_client_cert, &self.tls_client_key) {
                tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            endpoint = endpoint.tls_config(tls).context("TLS settings")?;
        }
        Ok(endpoint)
    }

    pub fn bearer(&self) -> anyhow::Result<Bearer> {
        self.token
            .as_ref()
            .map(|t| {
                format!("Bearer {t}")
                    .parse()
                    .context("--token holds characters that cannot be sent")
            })
            .transpose()
            .map(Bearer)
    }

    /// Connects to `server`.
    pub async fn connect(&self, server: &str) -> anyhow::Result<Conn> {
        let channel = self
            .endpoint(server)?
            .connect()
            .await
            .with_context(|| format!("cannot connect to {server}"))?;
        Ok(InterceptedService::new(channel, self.bearer()?))
    }
}
