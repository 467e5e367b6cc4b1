//! Orphans: rows of a relationship dataset (touchpoints, NPS responses, subscription
//! events) whose customer_id is in neither the customer master nor the orders. They are
//! loaded like any row (a contact may precede a first order, a master may lag), and
//! counted so that a shop sees when two systems disagree on who its customers are.
//!
//! Counted over each whole table after every dataset of the run is in, with an anti join
//! DataFusion runs on all cores.

use crate::config::Config;
use crate::error::Result;
use crate::storage::open_location;
use crate::warehouse::Warehouse;

use super::IngestSummary;

/// The datasets checked: every one with a customer_id besides the two that define who a
/// customer is.
fn checked(dataset: &str) -> bool {
    crate::dataset::by_name(dataset).is_some_and(|spec| {
        spec.field("customer_id").is_some() && !matches!(dataset, "orders" | "customers")
    })
}

/// Sets `orphans` on each checked summary.
pub async fn count(config: &Config, summaries: &mut [IngestSummary]) -> Result<()> {
    if !summaries.iter().any(|s| checked(&s.dataset)) {
        return Ok(());
    }
    let wh = Warehouse::new(open_location(config, &config.storage.warehouse)?);
    let (ctx, _) = crate::warehouse::new_session(config, &wh).await?;
    for s in summaries.iter_mut().filter(|s| checked(&s.dataset)) {
        let sql = format!(
            "SELECT count(*) FROM {t} x
             WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = x.customer_id)
               AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = x.customer_id)",
            t = s.dataset
        );
        let batches = ctx.sql(&sql).await?.collect().await?;
        let n = crate::cells::Rows::new(&batches)?.i64(0, 0).unwrap_or(0);
        s.orphans = Some(n as u64);
    }
    Ok(())
}
