//! The simulator's single error type.
//!
//! Every public function that takes user-provided parameters validates them and returns
//! [`SimError`] instead of panicking, so a bad scenario file becomes a readable message
//! naming the offending parameter (e.g. `r_3 = 1.2 is not a probability in [0, 1]`).

use thiserror::Error;

/// Why a simulation, calibration or summary could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SimError {
    /// A named parameter has a value outside its allowed range.
    #[error("parameter {name} = {value} is invalid: {reason}")]
    InvalidParameter {
        /// Parameter name as it appears in the assumptions table (e.g. `r_1`, `first_aov`).
        name: String,
        /// The offending value.
        value: f64,
        /// What the allowed range is.
        reason: String,
    },
    /// A structural problem with the inputs (empty lists, mismatched lengths, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Calibration data is too thin to estimate a parameter.
    #[error("insufficient data to calibrate {what}: {reason}")]
    InsufficientData {
        /// Which parameter could not be estimated.
        what: String,
        /// Why (e.g. `stage 1 has no customers with at least one month of exposure`).
        reason: String,
    },
}

impl SimError {
    pub(crate) fn param(name: impl Into<String>, value: f64, reason: impl Into<String>) -> Self {
        SimError::InvalidParameter {
            name: name.into(),
            value,
            reason: reason.into(),
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, SimError>;
