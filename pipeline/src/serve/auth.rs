//! Password authentication: the users of `[[serve.users]]`, their passwords read from the
//! environment once at start-up, and a pgwire start-up handler that asks for the password
//! and compares it in constant time.
//!
//! Why cleartext password messages and not SCRAM: pgwire's SCRAM and cleartext handlers
//! compare secrets with `==`, which leaks timing. This handler hashes both sides with
//! SHA-256 and compares the digests with `subtle`, so the time taken says nothing about how
//! much of a guess was right. The password crosses the wire as the client typed it, so
//! beyond loopback configure `tls_cert`/`tls_key` (clients then use `sslmode=require`).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{
    ClientInfo, ConnectionManager, PgWireConnectionState, PidSecretKeyGenerator,
    RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ServeUser;
use crate::error::{Error, Result};

/// A configured user: its password digest, or which variable was missing.
#[derive(Clone)]
enum Secret {
    Digest([u8; 32]),
    Missing { env: String },
}

/// The users allowed to connect.
#[derive(Clone)]
pub struct Users {
    users: BTreeMap<String, Secret>,
}

impl Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("names", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl Users {
    /// Reads each user's password with `lookup` (the environment, in the server). Fails,
    /// naming the variables to set, when no user has a password.
    pub fn load(users: &[ServeUser], lookup: impl Fn(&str) -> Option<String>) -> Result<Users> {
        let mut out = BTreeMap::new();
        for u in users {
            let secret = match lookup(&u.password_env) {
                Some(p) if !p.is_empty() => Secret::Digest(digest(p.as_bytes())),
                _ => {
                    tracing::warn!(
                        user = %u.name,
                        env = %u.password_env,
                        "user has no password: {} is not set, so this user cannot log in",
                        u.password_env
                    );
                    Secret::Missing {
                        env: u.password_env.clone(),
                    }
                }
            };
            out.insert(u.name.clone(), secret);
        }
        if !out.values().any(|s| matches!(s, Secret::Digest(_))) {
            let wanted: Vec<String> = users
                .iter()
                .map(|u| format!("{} (for user {:?})", u.password_env, u.name))
                .collect();
            return Err(Error::Config {
                file: "conveyor.toml".into(),
                key: "serve.users".into(),
                message: if wanted.is_empty() {
                    "no users: add a [[serve.users]] entry with name and password_env".into()
                } else {
                    format!(
                        "no user has a password, so nobody could connect; set the environment variable {}",
                        wanted.join(" or ")
                    )
                },
            });
        }
        Ok(Users { users: out })
    }

    /// Checks a login. The comparison takes the same time whatever the guess.
    pub fn check(&self, user: &str, password: &str) -> std::result::Result<(), LoginRefused> {
        match self.users.get(user) {
            Some(Secret::Digest(want)) => {
                let got = digest(password.as_bytes());
                if bool::from(got.ct_eq(want)) {
                    Ok(())
                } else {
                    Err(LoginRefused::WrongPassword)
                }
            }
            Some(Secret::Missing { env }) => Err(LoginRefused::NoPassword { env: env.clone() }),
            None => {
                // Same work as a known user, so timing does not reveal which names exist.
                let _ = digest(password.as_bytes()).ct_eq(&[0u8; 32]);
                Err(LoginRefused::WrongPassword)
            }
        }
    }
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefused {
    /// Unknown user or wrong password (not told apart, as PostgreSQL does not).
    WrongPassword,
    /// The user is configured but the server's environment has no password for it.
    NoPassword { env: String },
}

/// The pgwire start-up handler: cleartext password request, constant-time check.
pub struct PasswordStartup {
    users: Users,
    parameters: DefaultServerParameterProvider,
    pids: RandomPidSecretKeyGenerator,
    connections: Arc<ConnectionManager>,
}

impl PasswordStartup {
    pub fn new(users: Users, connections: Arc<ConnectionManager>) -> Self {
        let mut parameters = DefaultServerParameterProvider::default();
        // BI tools parse the major version; the pgwire suffix stays for the curious.
        parameters.server_version = "16.6-conveyor".into();
        parameters.is_superuser = false;
        parameters.default_transaction_read_only = true;
        PasswordStartup {
            users,
            parameters,
            pids: RandomPidSecretKeyGenerator::default(),
            connections,
        }
    }
}

fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        code.into(),
        message,
    )))
}

#[async_trait]
impl StartupHandler for PasswordStartup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                // What `RESET` goes back to.
                let settings = super::compat::StartupSettings::of(client.metadata());
                client.session_extensions().insert(settings);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::CleartextPassword,
                    ))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let pwd = pwd.into_password()?;
                let user = client
                    .metadata()
                    .get(pgwire::api::METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                let peer = client.socket_addr();
                match self.users.check(&user, &pwd.password) {
                    Ok(()) => {
                        let (pid, key) = self.pids.generate(client);
                        client.set_pid_and_secret_key(pid, key);
                        let (pid, key) = client.pid_and_secret_key();
                        // Registered so that a client's cancel request reaches this session.
                        let (handle, guard) = self.connections.register(pid, key);
                        client.session_extensions().insert(handle);
                        client.session_extensions().insert(guard);
                        tracing::info!(%user, %peer, tls = client.is_secure(), "connection authenticated");
                        finish_authentication(client, &self.parameters).await?;
                    }
                    Err(LoginRefused::WrongPassword) => {
                        tracing::warn!(%user, %peer, "login refused: wrong user or password");
                        return Err(fatal(
                            "28P01",
                            format!("password authentication failed for user \"{user}\""),
                        ));
                    }
                    Err(LoginRefused::NoPassword { env }) => {
                        tracing::warn!(%user, %peer, %env, "login refused: user has no password");
                        return Err(fatal(
                            "28000",
                            format!(
                                "user \"{user}\" has no password configured: the server's environment variable {env} is not set"
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<ServeUser> {
        vec![
            ServeUser {
                name: "bi".into(),
                password_env: "BI_PW".into(),
            },
            ServeUser {
                name: "ops".into(),
                password_env: "OPS_PW".into(),
            },
        ]
    }

    #[test]
    fn checks_passwords_and_names_missing_variables() {
        let u = Users::load(&users(), |k| (k == "BI_PW").then(|| "s3cret".to_string())).unwrap();
        assert_eq!(u.check("bi", "s3cret"), Ok(()));
        assert_eq!(u.check("bi", "s3cre"), Err(LoginRefused::WrongPassword));
        assert_eq!(
            u.check("nobody", "s3cret"),
            Err(LoginRefused::WrongPassword)
        );
        assert_eq!(
            u.check("ops", ""),
            Err(LoginRefused::NoPassword {
                env: "OPS_PW".into()
            })
        );
    }

    #[test]
    fn refuses_to_start_without_any_password() {
        let err = Users::load(&users(), |_| None).unwrap_err().to_string();
        assert!(
            err.contains("serve.users") && err.contains("BI_PW") && err.contains("OPS_PW"),
            "{err}"
        );
        let empty = Users::load(&users(), |_| Some(String::new())).unwrap_err();
        assert!(empty.to_string().contains("BI_PW"));
        let none = Users::load(&[], |_| None).unwrap_err().to_string();
        assert!(none.contains("[[serve.users]]"), "{none}");
    }
}
