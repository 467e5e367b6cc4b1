//! The relationship marts (nps, touchpoint_132, subscription_retention,
//! cancellation_reasons, fan_matrix_movement and the care lists) on generated data:
//! `conveyor generate` writes all five datasets and reports its ground truth (the method's
//! numbers as realised in the written rows, and the parameters it drew from); the marts
//! built over the ingested warehouse must recover it within their stated intervals, and
//! agree with DuckDB computing the same definitions from the same rows.
//!
//! One warehouse is generated, ingested and built once for the whole binary ([`shop`]);
//! each module checks one family of marts. Hand-computed expectations live in the `.slt`
//! files under `sql/tests/`.

mod common;

#[path = "relationship_marts/fixture.rs"]
mod fixture;

#[path = "relationship_marts/forecast_link.rs"]
mod forecast_link;
#[path = "relationship_marts/movement.rs"]
mod movement;
#[path = "relationship_marts/nps.rs"]
mod nps;
#[path = "relationship_marts/subscriptions.rs"]
mod subscriptions;
#[path = "relationship_marts/touchpoints.rs"]
mod touchpoints;
