//! Object-store locations: one URL (or local path) → a store, a key prefix, and the URL
//! DataFusion uses to read it.
//!
//! `file://` and bare paths map to the local file system (absolute paths, so DataFusion's
//! built-in `file://` store sees the same keys); `s3://`, `gs://` and `az://` build the cloud
//! stores from their standard environment variables plus `[storage.options]`;
//! `memory://NAME` is an in-process store shared by every use of the same name (for tests
//! and trying things out). Every store is wrapped in [`retry::Retrying`] (and, in
//! reliability tests only, [`faults::Faulty`] beneath it). [`open_location`] opens one with
//! the options and retry policy of `[storage]`.

pub mod faults;
pub mod retry;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path;
use url::Url;

use crate::config::{Config, config_err};
use crate::error::{Error, Result};

/// A place in an object store: the store, the prefix inside it, and its URL.
#[derive(Clone)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    /// Key prefix inside the store (no leading or trailing slash; may be empty).
    pub prefix: Path,
    /// `scheme://authority/` — the URL DataFusion registers the store under.
    pub store_url: Url,
    /// What the user wrote, for messages.
    pub display: String,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Location({})", self.display)
    }
}

/// Opens a location (the source, the warehouse, or any URL) with `config`'s object-store
/// options and retry policy.
pub fn open_location(config: &Config, spec: &str) -> Result<Location> {
    if config.storage.retry_attempts == 0 {
        return Err(config_err(
            "storage.retry_attempts",
            "must be at least 1".into(),
        ));
    }
    Location::open_with(
        spec,
        &config.storage_options()?,
        retry::RetryPolicy {
            attempts: config.storage.retry_attempts,
            base: std::time::Duration::from_millis(config.storage.retry_base_ms),
        },
    )
}

static MEMORY_STORES: LazyLock<Mutex<HashMap<String, Arc<InMemory>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl Location {
    /// Opens `spec`: an object-store URL or a local path (created if missing, so that a
    /// first run on a new warehouse folder just works).
    pub fn open(spec: &str, options: &[(String, String)]) -> Result<Location> {
        Location::open_with(spec, options, retry::RetryPolicy::default())
    }

    /// [`Location::open`] with an explicit retry policy.
    pub fn open_with(
        spec: &str,
        options: &[(String, String)],
        policy: retry::RetryPolicy,
    ) -> Result<Location> {
        let mut loc = Location::open_raw(spec, options)?;
        let mut store = loc.store.clone();
        if let Some(plan) = faults::current() {
            store = Arc::new(faults::Faulty::new(store, plan));
        }
        loc.store = Arc::new(retry::Retrying::new(store, policy));
        Ok(loc)
    }

    fn open_raw(spec: &str, options: &[(String, String)]) -> Result<Location> {
        let url_err = |message: String| Error::StorageUrl {
            url: spec.to_string(),
            message,
        };
        if !spec.contains("://") {
            return Location::local(spec);
        }
        let url = Url::parse(spec).map_err(|e| url_err(format!("not a URL ({e})")))?;
        let authority = url.host_str().unwrap_or("").to_string();
        let prefix = Path::from_url_path(url.path()).map_err(|e| url_err(e.to_string()))?;
        let store_url = Url::parse(&format!("{}://{}/", url.scheme(), authority))
            .map_err(|e| url_err(e.to_string()))?;
        let store: Arc<dyn ObjectStore> = match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|_| url_err("not a local file URL".into()))?;
                return Location::local(&path.to_string_lossy());
            }
            "memory" => {
                let mut stores = MEMORY_STORES.lock().expect("memory store registry");
                stores
                    .entry(authority.clone())
                    .or_insert_with(|| Arc::new(InMemory::new()))
                    .clone()
            }
            "s3" | "s3a" => {
                let mut b = object_store::aws::AmazonS3Builder::from_env().with_url(spec);
                for (k, v) in options {
                    let key = k
                        .parse()
                        .map_err(|e| url_err(format!("storage.options.{k}: {e}")))?;
                    b = b.with_config(key, v);
                }
                Arc::new(b.build().map_err(|e| url_err(e.to_string()))?)
            }
            "gs" => {
                let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(spec);
                for (k, v) in options {
                    let key = k
                        .parse()
                        .map_err(|e| url_err(format!("storage.options.{k}: {e}")))?;
                    b = b.with_config(key, v);
                }
                Arc::new(b.build().map_err(|e| url_err(e.to_string()))?)
            }
            "az" | "abfs" | "abfss" | "azure" => {
                let mut b = object_store::azure::MicrosoftAzureBuilder::from_env().with_url(spec);
                for (k, v) in options {
                    let key = k
                        .parse()
                        .map_err(|e| url_err(format!("storage.options.{k}: {e}")))?;
                    b = b.with_config(key, v);
                }
                Arc::new(b.build().map_err(|e| url_err(e.to_string()))?)
            }
            other => {
                return Err(url_err(format!(
                    "unsupported scheme {other}://; expected file://, s3://, gs://, az:// or memory://"
                )));
            }
        };
        Ok(Location {
            store,
            prefix,
            store_url,
            display: spec.to_string(),
        })
    }

    fn local(path: &str) -> Result<Location> {
        std::fs::create_dir_all(path).map_err(|e| Error::io(format!("creating {path}"), e))?;
        let abs =
            std::fs::canonicalize(path).map_err(|e| Error::io(format!("resolving {path}"), e))?;
        let prefix = Path::from_absolute_path(&abs).map_err(|e| Error::StorageUrl {
            url: path.to_string(),
            message: e.to_string(),
        })?;
        Ok(Location {
            store: Arc::new(object_store::local::LocalFileSystem::new()),
            prefix,
            store_url: Url::parse("file:///").expect("static URL"),
            display: path.to_string(),
        })
    }

    /// The key of `relative` under this location's prefix.
    pub fn key(&self, relative: &str) -> Path {
        let mut parts: Vec<String> = self
            .prefix
            .parts()
            .map(|p| p.as_ref().to_string())
            .collect();
        parts.extend(
            relative
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        Path::from_iter(parts)
    }

    /// Every object under `relative` (recursively), listed in full; an error names the
    /// folder.
    pub async fn list_all(&self, relative: &str) -> Result<Vec<object_store::ObjectMeta>> {
        use futures::TryStreamExt;
        self.store
            .list(Some(&self.key(relative)))
            .try_collect()
            .await
            .map_err(|e| Error::store(format!("{}/{relative}", self.display), e))
    }

    /// `relative` as seen from the prefix (`orders/x.csv`), for messages and manifests.
    pub fn relative(&self, key: &Path) -> String {
        let full = key.as_ref();
        let prefix = self.prefix.as_ref();
        if prefix.is_empty() {
            return full.to_string();
        }
        full.strip_prefix(prefix)
            .map(|s| s.trim_start_matches('/').to_string())
            .unwrap_or_else(|| full.to_string())
    }

    /// A URL DataFusion can read `relative` (a file or a folder ending in `/`) from.
    pub fn url_of(&self, relative: &str) -> String {
        let key = self.key(relative);
        let trailing = if relative.ends_with('/') { "/" } else { "" };
        format!("{}{}{}", self.store_url, key.as_ref(), trailing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_become_absolute_file_urls() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("wh");
        let loc = Location::open(sub.to_str().unwrap(), &[]).unwrap();
        assert!(sub.exists(), "a local warehouse folder is created");
        let url = loc.url_of("orders/");
        assert!(url.starts_with("file:///"), "{url}");
        assert!(url.ends_with("/wh/orders/"), "{url}");
        assert_eq!(loc.relative(&loc.key("orders/a.csv")), "orders/a.csv");
    }

    #[tokio::test]
    async fn memory_stores_are_shared_by_name() {
        use object_store::ObjectStoreExt;
        let a = Location::open("memory://shared-test/x", &[]).unwrap();
        let b = Location::open("memory://shared-test/x", &[]).unwrap();
        a.store.put(&a.key("k"), "v".into()).await.unwrap();
        let got = b
            .store
            .get(&b.key("k"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&got[..], b"v");
        assert_eq!(a.key("y/z").as_ref(), "x/y/z");
        assert_eq!(a.url_of("y/"), "memory://shared-test/x/y/");
    }

    #[test]
    fn unsupported_scheme_is_named() {
        let err = Location::open("ftp://host/x", &[]).unwrap_err().to_string();
        assert!(err.contains("ftp://") && err.contains("s3://"), "{err}");
    }

    #[test]
    fn s3_urls_split_bucket_and_prefix() {
        let loc = Location::open(
            "s3://bucket/exports/2024",
            &[
                ("aws_region".into(), "us-east-1".into()),
                ("aws_access_key_id".into(), "k".into()),
                ("aws_secret_access_key".into(), "s".into()),
            ],
        )
        .unwrap();
        assert_eq!(loc.prefix.as_ref(), "exports/2024");
        assert_eq!(loc.store_url.as_str(), "s3://bucket/");
    }
}
