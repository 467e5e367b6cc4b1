//! TLS with rustls: a PEM certificate chain and a PEM private key from the config.
//!
//! Unlike datafusion-postgres's own `serve`, which logs a warning and carries on
//! unencrypted when the files are bad, a configured but unusable certificate stops the
//! server: falling back to cleartext passwords silently is worse than not starting.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{ServerConfig, crypto::ring};

use crate::error::{Error, Result};

fn tls_err(key: &str, message: String) -> Error {
    Error::Config {
        file: "conveyor.toml".into(),
        key: key.into(),
        message,
    }
}

/// A TLS acceptor from `cert_path` (PEM chain) and `key_path` (PEM key: PKCS#8, PKCS#1 or SEC1).
pub fn acceptor(cert_path: &str, key_path: &str) -> Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| tls_err("serve.tls_cert", format!("{cert_path}: {e}")))?;
    if certs.is_empty() {
        return Err(tls_err(
            "serve.tls_cert",
            format!("{cert_path}: no PEM certificate in it"),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| tls_err("serve.tls_key", format!("{key_path}: {e}")))?;
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| {
            tls_err(
                "serve.tls_cert",
                format!("{cert_path} with {key_path}: {e}"),
            )
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
