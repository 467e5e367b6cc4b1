//! `[serve]`: how `conveyor serve` exposes the warehouse over the PostgreSQL wire protocol.
//!
//! Users are listed here by name; their passwords are never in the file but in the
//! environment variable each user names (`password_env`), so the file can be committed.

use serde::Deserialize;

use super::config_err;
use crate::error::Result;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on. Anything but a loopback address is an explicit choice to
    /// expose the warehouse to the network (logged as a warning).
    pub bind: String,
    pub port: u16,
    /// Who may connect; each user's password is read from the environment variable
    /// `password_env` when the server starts.
    pub users: Vec<ServeUser>,
    /// PEM certificate chain and PKCS#8 private key; when both are set clients can (and
    /// should) connect with TLS.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// A statement running longer than this is cancelled (SQLSTATE 57014).
    pub query_timeout_secs: u64,
    /// A result with more rows than this is refused (SQLSTATE 54000).
    pub max_rows: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServeUser {
    pub name: String,
    /// Name of the environment variable holding this user's password.
    pub password_env: String,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            bind: "127.0.0.1".into(),
            port: 5433,
            users: vec![ServeUser {
                name: "conveyor".into(),
                password_env: "CONVEYOR_SERVE_PASSWORD".into(),
            }],
            tls_cert: None,
            tls_key: None,
            query_timeout_secs: 300,
            max_rows: 1_000_000,
        }
    }
}

impl ServeConfig {
    /// Checks that need no environment: the server's own start-up checks passwords.
    pub fn validate(&self) -> Result<()> {
        if self.bind.parse::<std::net::IpAddr>().is_err() && self.bind != "localhost" {
            return Err(config_err(
                "serve.bind",
                format!(
                    "{:?} is not an IP address (e.g. \"127.0.0.1\", or \"0.0.0.0\" for every interface)",
                    self.bind
                ),
            ));
        }
        if self.query_timeout_secs == 0 {
            return Err(config_err(
                "serve.query_timeout_secs",
                "must be at least 1".into(),
            ));
        }
        if self.max_rows == 0 {
            return Err(config_err("serve.max_rows", "must be at least 1".into()));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(config_err(
                if self.tls_cert.is_some() {
                    "serve.tls_key"
                } else {
                    "serve.tls_cert"
                },
                "tls_cert and tls_key must be set together".into(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, u) in self.users.iter().enumerate() {
            if u.name.is_empty() {
                return Err(config_err(
                    &format!("serve.users[{i}].name"),
                    "must not be empty".into(),
                ));
            }
            if u.password_env.is_empty() {
                return Err(config_err(
                    &format!("serve.users[{i}].password_env"),
                    "must name an environment variable".into(),
                ));
            }
            if !seen.insert(u.name.as_str()) {
                return Err(config_err(
                    &format!("serve.users[{i}].name"),
                    format!("user {:?} is listed twice", u.name),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    #[test]
    fn users_and_limits_parse() {
        let c = Config::from_toml(
            "[serve]\nport = 6000\nmax_rows = 10\n[[serve.users]]\nname = \"bi\"\npassword_env = \"CONVEYOR_BI_PASSWORD\"\n",
            "c",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.serve.port, 6000);
        assert_eq!(c.serve.max_rows, 10);
        assert_eq!(c.serve.users.len(), 1);
        assert_eq!(c.serve.users[0].password_env, "CONVEYOR_BI_PASSWORD");
        assert_eq!(c.serve.query_timeout_secs, 300);
    }

    #[test]
    fn bad_serve_settings_name_the_key() {
        let c = Config::from_toml("[serve]\nbind = \"everywhere\"\n", "c").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("serve.bind"));
        let c = Config::from_toml("[serve]\ntls_cert = \"a.pem\"\n", "c").unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("serve.tls_key")
        );
        let c = Config::from_toml("[serve]\nmax_rows = 0\n", "c").unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("serve.max_rows")
        );
        let err = Config::from_toml("[[serve.users]]\nname = \"bi\"\npasword_env = \"X\"\n", "c")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("serve.users") || err.contains("pasword_env"),
            "{err}"
        );
    }
}
