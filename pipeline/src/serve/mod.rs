//! `conveyor serve`: the warehouse over the PostgreSQL wire protocol, so BI tools
//! (Metabase, Superset, Tableau, Power BI, Grafana) and `psql` read `orders`, every mart,
//! `run_history` and the latest forecast as if from PostgreSQL.
//!
//! This module owns the server: which address it listens on, who may connect, what they
//! may run, and how long and how much. The heavy lifting is datafusion-postgres (protocol,
//! type encoding, `pg_catalog`, `information_schema`) over pgwire; what Conveyor adds
//! lives in one small file per concern:
//!
//! - [`auth`]: users from `[[serve.users]]`, passwords from environment variables,
//!   compared in constant time;
//! - [`readonly`]: writes and DDL refused with SQLSTATE 25006;
//! - [`limits`]: per-statement timeout (57014) and row cap (54000);
//! - [`refresh`]: tables reloaded when a pipeline run publishes new versions;
//! - [`compat`]: the few statements drivers send that need a canned answer;
//! - [`reflection`]: what SQLAlchemy's and pgjdbc's catalog reflection needs from `pg_catalog`;
//! - [`infoschema`]: `information_schema.columns` with PostgreSQL's type columns;
//! - [`params`]: bound parameters keep the type the client declared;
//! - [`tls`]: rustls from `tls_cert`/`tls_key`;
//! - [`typeinfo`]: what npgsql's type loader needs from `pg_type` at connect;
//! - [`handlers`]: the wiring of all of the above into pgwire.
//!
//! The session is built by [`crate::session::open_session`], the same function
//! `conveyor query` uses, so every table a reader sees is served, under the same names.

pub mod auth;
pub mod compat;
pub mod handlers;
pub mod infoschema;
pub mod limits;
pub mod params;
pub mod readonly;
pub mod reflection;
pub mod refresh;
pub mod tls;
pub mod typeinfo;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::{Error, Result};

use handlers::{Handlers, Service};
use limits::Limits;
use refresh::Refresher;

/// A server bound to its address and ready to accept connections.
pub struct Server {
    listener: TcpListener,
    handlers: Arc<Handlers>,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    local_addr: SocketAddr,
}

impl Server {
    /// Checks the configuration (passwords, TLS files), opens the warehouse and binds.
    /// Every problem that would make the server useless is an error here, before any
    /// client connects.
    pub async fn bind(config: &Config) -> Result<Server> {
        let serve = &config.serve;
        serve.validate()?;
        let users = auth::Users::load(&serve.users, |k| std::env::var(k).ok())?;
        let tls = match (&serve.tls_cert, &serve.tls_key) {
            (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
            _ => None,
        };

        let (ctx, wh) = crate::session::open_session(config).await?;
        setup_pg_catalog(&ctx, refresh::CATALOG, EmptyContextProvider)
            .map_err(|e| Error::DataFusion(*e))?;
        compat::register_functions(&ctx);
        reflection::install(&ctx, refresh::CATALOG).await?;
        typeinfo::install(&ctx).await?;
        infoschema::install(&ctx);
        let ctx = Arc::new(ctx);
        let refresher = Arc::new(Refresher::new(config.clone(), wh).await?);
        let limits = Limits {
            timeout: Duration::from_secs(serve.query_timeout_secs),
            max_rows: serve.max_rows,
        };
        let handlers = Arc::new(Handlers::new(Service::new(ctx, refresher, limits), users));

        let addr = format!("{}:{}", serve.bind, serve.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|e| Error::io(format!("serve: cannot listen on {addr}"), e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::io(format!("serve: {addr}"), e))?;
        if !local_addr.ip().is_loopback() {
            tracing::warn!(
                %local_addr,
                tls = tls.is_some(),
                "serving beyond loopback: anyone who can reach this address can try to log in{}",
                if tls.is_some() { "" } else { "; passwords cross the network unencrypted without serve.tls_cert/tls_key" }
            );
        }
        tracing::info!(%local_addr, tls = tls.is_some(), "listening");
        Ok(Server {
            listener,
            handlers,
            tls,
            local_addr,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Accepts connections until SIGINT/SIGTERM; each connection runs in its own task.
    pub async fn run(self) -> Result<()> {
        let shutdown = crate::shutdown::shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => {
                    tracing::info!("shutting down");
                    return Ok(());
                }
                accepted = self.listener.accept() => {
                    let (socket, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            continue;
                        }
                    };
                    tracing::debug!(%peer, "connection opened");
                    let handlers = self.handlers.clone();
                    let tls = self.tls.clone();
                    tokio::spawn(async move {
                        if let Err(e) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                        tracing::debug!(%peer, "connection closed");
                    });
                }
            }
        }
    }
}
