//! One run at a time: a lock object `_conveyor/lock.json` created with a conditional put
//! (`PutMode::Create`: an atomic create-if-absent on local disks, S3, GCS and Azure), so two
//! `conveyor run`s — on one machine or on two — can never both proceed.
//!
//! A lock left by a run that died is stale when its process is gone (same host) or when
//! it is older than `schedule.lock_stale_minutes`; a stale lock is replaced and the
//! replacement is logged. Anything else is refused with a message naming the holder.

use bytes::Bytes;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::warehouse::{META_DIR, Warehouse};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub run_id: String,
    pub pid: u32,
    pub host: String,
    pub since: String,
}

/// A held lock; release it with [`RunLock::release`] (a dropped lock stays until it is
/// found stale, which is what a crash does too).
pub struct RunLock {
    wh: Warehouse,
    pub info: LockInfo,
}

fn key(wh: &Warehouse) -> object_store::path::Path {
    wh.loc.key(&format!("{META_DIR}/lock.json"))
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl RunLock {
    pub async fn acquire(wh: &Warehouse, run_id: &str, stale_minutes: u64) -> Result<RunLock> {
        let info = LockInfo {
            run_id: run_id.to_string(),
            pid: std::process::id(),
            host: host_name(),
            since: chrono::Utc::now().to_rfc3339(),
        };
        let body = Bytes::from(serde_json::to_vec(&info).map_err(|e| Error::json("run lock", e))?);
        for _ in 0..2 {
            let put = wh
                .loc
                .store
                .put_opts(
                    &key(wh),
                    PutPayload::from_bytes(body.clone()),
                    PutOptions {
                        mode: PutMode::Create,
                        ..Default::default()
                    },
                )
                .await;
            match put {
                Ok(_) => {
                    return Ok(RunLock {
                        wh: wh.clone(),
                        info,
                    });
                }
                Err(object_store::Error::AlreadyExists { .. }) => {
                    let holder = Self::holder(wh).await?;
                    let Some(holder) = holder else { continue };
                    let age_minutes = chrono::DateTime::parse_from_rfc3339(&holder.since)
                        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_minutes())
                        .unwrap_or(i64::MAX);
                    let dead = holder.host == info.host && !process_alive(holder.pid);
                    if dead || age_minutes >= stale_minutes as i64 {
                        tracing::warn!(?holder, dead, age_minutes, "replacing a stale run lock");
                        wh.loc
                            .store
                            .delete(&key(wh))
                            .await
                            .map_err(|e| Error::store(wh.loc.display.clone(), e))?;
                        continue;
                    }
                    return Err(Error::Locked {
                        path: format!("{}/{META_DIR}/lock.json", wh.loc.display),
                        since: holder.since,
                        pid: holder.pid,
                        host: holder.host,
                    });
                }
                Err(e) => return Err(Error::store(wh.loc.display.clone(), e)),
            }
        }
        Err(Error::Warehouse {
            table: format!("{}/{META_DIR}/lock.json", wh.loc.display),
            message: "could not take the run lock after removing a stale one (another run took it first?)".into(),
        })
    }

    /// The current holder, if any.
    pub async fn holder(wh: &Warehouse) -> Result<Option<LockInfo>> {
        match wh.loc.store.get(&key(wh)).await {
            Ok(got) => {
                let bytes = got
                    .bytes()
                    .await
                    .map_err(|e| Error::store(wh.loc.display.clone(), e))?;
                Ok(serde_json::from_slice(&bytes).ok())
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::store(wh.loc.display.clone(), e)),
        }
    }

    pub async fn release(self) -> Result<()> {
        // Only remove our own lock.
        if Self::holder(&self.wh).await?.as_ref() == Some(&self.info) {
            self.wh
                .loc
                .store
                .delete(&key(&self.wh))
                .await
                .map_err(|e| Error::store(self.wh.loc.display.clone(), e))?;
        }
        Ok(())
    }
}
