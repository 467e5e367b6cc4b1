//! Wiring pgwire's handler slots: our password start-up, and datafusion-postgres's
//! `DfSessionService` for queries, wrapped so every statement runs under [`Limits`].
//!
//! The statement-level policies (refresh, read-only, compatibility answers) are
//! datafusion-postgres `QueryHook`s placed in front of its built-in ones, so they see every
//! statement of both the simple and the extended protocol before DataFusion plans it.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::prelude::SessionContext;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::{DfSessionService, QueryHook};
use futures::Sink;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use pgwire::api::portal::Portal;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::Response;
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionManager, ErrorHandler, PgWireServerHandlers,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use tokio::time::Instant;

use super::auth::{PasswordStartup, Users};
use super::compat::CompatHook;
use super::limits::{Limits, limit_response, timeout_error};
use super::params::{DfStatement, TypedParamsParser};
use super::readonly::ReadOnlyHook;
use super::refresh::{RefreshHook, Refresher};

/// The query side: datafusion-postgres's service under per-statement limits.
pub struct Service {
    inner: Arc<DfSessionService>,
    parser: Arc<TypedParamsParser>,
    limits: Limits,
}

impl Service {
    pub fn new(ctx: Arc<SessionContext>, refresher: Arc<Refresher>, limits: Limits) -> Self {
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(RefreshHook { refresher }),
            Arc::new(ReadOnlyHook),
            Arc::new(CompatHook),
            Arc::new(CursorStatementHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        let inner = Arc::new(DfSessionService::new_with_hooks(ctx, hooks));
        let parser = Arc::new(TypedParamsParser {
            inner: inner.query_parser(),
        });
        Service {
            inner,
            parser,
            limits,
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for Service {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let started = Instant::now();
        let limits = self.limits;
        let query = super::reflection::rewrite_sql(query);
        let responses = tokio::time::timeout(
            limits.timeout,
            SimpleQueryHandler::do_query(&*self.inner, client, &query),
        )
        .await
        .map_err(|_| timeout_error(limits.timeout))??;
        Ok(responses
            .into_iter()
            .map(|r| limit_response(r, limits, started))
            .collect())
    }
}

#[async_trait]
impl ExtendedQueryHandler for Service {
    type Statement = DfStatement;
    type QueryParser = TypedParamsParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let started = Instant::now();
        let limits = self.limits;
        let response = tokio::time::timeout(
            limits.timeout,
            ExtendedQueryHandler::do_query(&*self.inner, client, portal, max_rows),
        )
        .await
        .map_err(|_| timeout_error(limits.timeout))??;
        Ok(limit_response(response, limits, started))
    }
}

/// Logs errors sent to clients at debug level (refusals are logged where they happen).
struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        tracing::debug!(peer = %client.socket_addr(), %error, "statement failed");
    }
}

/// Everything pgwire asks for, per server.
pub struct Handlers {
    service: Arc<Service>,
    startup: Arc<PasswordStartup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl Handlers {
    pub fn new(service: Service, users: Users) -> Self {
        let connections = Arc::new(ConnectionManager::new());
        Handlers {
            service: Arc::new(service),
            startup: Arc::new(PasswordStartup::new(users, connections.clone())),
            cancel: Arc::new(DefaultCancelHandler::new(connections)),
        }
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.service.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.service.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancel.clone()
    }
}
