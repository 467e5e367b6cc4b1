//! # Conveyor's Monte Carlo engine
//!
//! A pure computation library (plain Rust structs in and out, no I/O) that projects the
//! monthly sales of a repeat-purchase (通販 / D2C) business and answers: *if F2 retention is
//! 87 %, do annual sales reach ¥1,000,000,000 within four years, and if not, what would it
//! take?*
//!
//! ## The model ([`model`])
//!
//! Monthly steps over a horizon (default 48). New customers arrive each month (a base level
//! with monthly growth, or an explicit list; Poisson or gamma-Poisson noise) and place their
//! first order. A customer with `k` orders sits at stage `k` of a purchase ladder; on
//! reaching it they are "alive" with probability `r_k` (`r_1` is the F2 rate), and an alive
//! customer orders each month with probability `q_k` (geometric delay, mean `1/q_k` months),
//! moving to stage `k+1`. Stages from `K` up are pooled. Order values are lognormal around a
//! first-order and a repeat-order mean. Existing customers at forecast start enter with
//! their posterior probability of still being alive. Parameters can carry uncertainty (Beta
//! rates, lognormal values, normal growth), drawn once per path.
//!
//! ## What to call
//!
//! * [`calibrate::calibrate`] turns mart aggregates ([`calibrate::CalibrationInput`]) into
//!   [`model::ModelParams`]; [`calibrate::Scenario::apply`] overrides them.
//! * [`engine::simulate`] runs the cohort-level Monte Carlo; [`summary::summarize`] gives
//!   percentiles, P(reach) and the first-year distribution.
//! * [`expectation`] computes the exact expected sales; [`sweep`] the F2 sweep, goal seek
//!   and sensitivities; [`backtest`] scores a forecast against actual sales.
//! * [`sbg::fit_sbg`] fits the shifted-beta-geometric retention model to subscription
//!   survival (the `subscription_sbg` mart calls it through a SQL aggregate).

pub mod backtest;
pub mod bgnbd;
pub mod calibrate;
mod classes;
pub mod engine;
pub mod error;
mod exact;
pub mod expectation;
pub mod gamma_gamma;
mod lockstep;
pub mod model;
mod normal;
mod rng;
pub mod sbg;
mod simd;
pub mod summary;
pub mod sweep;
mod vmath;

pub use error::{Result, SimError};
