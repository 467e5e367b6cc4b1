//! Fault injection for reliability tests: an object store that fails a share of calls.
//!
//! Enabled only by the environment variable `CONVEYOR_FAULTS` (`rate=0.3,seed=7`, or
//! `rate=1` for a store that never answers) or by [`set`] from a test; it sits under the
//! retry layer, so a transient share must be absorbed by retries and a persistent one must
//! fail the run cleanly.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    /// Share of calls that fail (0–1).
    pub rate: f64,
    pub seed: u64,
}

static PLAN: Mutex<Option<FaultPlan>> = Mutex::new(None);

/// Sets (or clears) the plan for stores opened from now on.
pub fn set(plan: Option<FaultPlan>) {
    *PLAN.lock().expect("fault plan lock") = plan;
}

/// The plan in force: [`set`]'s, else `CONVEYOR_FAULTS`.
pub fn current() -> Option<FaultPlan> {
    if let Some(p) = *PLAN.lock().expect("fault plan lock") {
        return Some(p);
    }
    let spec = std::env::var("CONVEYOR_FAULTS").ok()?;
    let mut plan = FaultPlan { rate: 0.0, seed: 1 };
    for part in spec.split(',') {
        match part.split_once('=') {
            Some(("rate", v)) => plan.rate = v.parse().ok()?,
            Some(("seed", v)) => plan.seed = v.parse().ok()?,
            _ => return None,
        }
    }
    Some(plan)
}

#[derive(Debug)]
pub struct Faulty {
    inner: Arc<dyn ObjectStore>,
    plan: FaultPlan,
    calls: AtomicU64,
}

impl Faulty {
    pub fn new(inner: Arc<dyn ObjectStore>, plan: FaultPlan) -> Self {
        Faulty {
            inner,
            plan,
            calls: AtomicU64::new(0),
        }
    }

    fn check(&self, op: &str) -> Result<()> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(&n.to_le_bytes(), self.plan.seed);
        if (h as f64 / u64::MAX as f64) < self.plan.rate {
            return Err(object_store::Error::Generic {
                store: "fault-injection",
                source: format!("injected transient failure of {op} (call {n})").into(),
            });
        }
        Ok(())
    }
}

impl fmt::Display for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.check("put")?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.check("put_multipart")?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.check("get")?;
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        match self.check("delete") {
            Ok(()) => self.inner.delete_stream(locations),
            Err(e) => futures::stream::once(futures::future::ready(Err(e))).boxed(),
        }
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        match self.check("list") {
            Ok(()) => self.inner.list(prefix),
            Err(e) => futures::stream::once(futures::future::ready(Err(e))).boxed(),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.check("list")?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.check("copy")?;
        self.inner.copy_opts(from, to, options).await
    }
}
