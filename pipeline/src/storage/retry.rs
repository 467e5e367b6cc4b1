//! Retries with exponential backoff and full jitter around any object store.
//!
//! Cloud stores retry their own HTTP requests, but a flaky network, a throttling
//! S3-compatible server or a busy NFS mount still surface errors that succeed a second
//! later. Every store Conveyor opens is wrapped in [`Retrying`]: a call that fails with a
//! transient error (anything but not-found, already-exists, precondition, permission or
//! invalid-path errors) is tried again up to `attempts` times, waiting a random time up to
//! `base · 2^attempt` (capped at 10 s) in between. A persistent failure still fails, after
//! the last attempt, with the store's own error.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(100),
        }
    }
}

/// Exponential backoff, the one used for every retry (object-store calls here, failed
/// scheduled runs in `schedule`): the wait before retry `attempt` (0 for the first) is
/// `base · 2^attempt`, at most `cap`; with `jitter`, a random time up to that ("full
/// jitter", so many clients retrying at once spread out).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    pub jitter: bool,
}

impl Backoff {
    pub fn delay(&self, attempt: u32) -> Duration {
        let full = self.base.saturating_mul(1 << attempt.min(16)).min(self.cap);
        if self.jitter {
            full.mul_f64(rand::random::<f64>())
        } else {
            full
        }
    }
}

/// Whether an error may go away if the call is repeated.
pub fn is_transient(e: &object_store::Error) -> bool {
    !matches!(
        e,
        object_store::Error::NotFound { .. }
            | object_store::Error::AlreadyExists { .. }
            | object_store::Error::Precondition { .. }
            | object_store::Error::NotModified { .. }
            | object_store::Error::NotSupported { .. }
            | object_store::Error::NotImplemented { .. }
            | object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }
            | object_store::Error::InvalidPath { .. }
    )
}

#[derive(Debug)]
pub struct Retrying {
    inner: Arc<dyn ObjectStore>,
    policy: RetryPolicy,
}

impl Retrying {
    pub fn new(inner: Arc<dyn ObjectStore>, policy: RetryPolicy) -> Self {
        Retrying { inner, policy }
    }

    async fn run<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Ok(v) => return Ok(v),
                Err(e) if attempt + 1 < self.policy.attempts && is_transient(&e) => {
                    let wait = Backoff {
                        base: self.policy.base,
                        cap: Duration::from_secs(10),
                        jitter: true,
                    }
                    .delay(attempt);
                    tracing::warn!(%what, attempt = attempt + 1, error = %e, ?wait, "transient object-store error; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl fmt::Display for Retrying {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Retrying({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Retrying {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.run("put", || {
            self.inner.put_opts(location, payload.clone(), opts.clone())
        })
        .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.run("put_multipart", || {
            self.inner.put_multipart_opts(location, opts.clone())
        })
        .await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.run("get", || self.inner.get_opts(location, options.clone()))
            .await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let inner = self.inner.clone();
        let policy = self.policy;
        locations
            .then(move |loc| {
                let me = Retrying {
                    inner: inner.clone(),
                    policy,
                };
                async move {
                    let loc = loc?;
                    me.run("delete", || {
                        let one =
                            futures::stream::once(futures::future::ready(Ok(loc.clone()))).boxed();
                        let mut s = me.inner.delete_stream(one);
                        let done = loc.clone();
                        async move { s.next().await.unwrap_or(Ok(done)) }
                    })
                    .await
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        // A listing is collected whole and retried whole: a stream cannot resume reliably.
        let me = Retrying {
            inner: self.inner.clone(),
            policy: self.policy,
        };
        let prefix = prefix.cloned();
        futures::stream::once(async move {
            me.run("list", || {
                let s = me.inner.list(prefix.as_ref());
                async move {
                    use futures::TryStreamExt;
                    s.try_collect::<Vec<_>>().await
                }
            })
            .await
        })
        .flat_map(|r: Result<Vec<ObjectMeta>>| match r {
            Ok(v) => futures::stream::iter(v.into_iter().map(Ok)).boxed(),
            Err(e) => futures::stream::once(futures::future::ready(Err(e))).boxed(),
        })
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.run("list", || self.inner.list_with_delimiter(prefix))
            .await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.run("copy", || self.inner.copy_opts(from, to, options.clone()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Backoff {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(200),
            jitter: false,
        };
        let waits: Vec<u64> = (0..5).map(|a| b.delay(a).as_secs()).collect();
        assert_eq!(waits, vec![30, 60, 120, 200, 200]);
        let j = Backoff { jitter: true, ..b };
        for a in 0..5 {
            assert!(j.delay(a) <= b.delay(a));
        }
    }
}
