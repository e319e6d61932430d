//! Errors raised when a configuration or an input is rejected.

use std::fmt;

/// A configuration value that cannot be used, with the field that holds it.
///
/// Every `validate()` and `try_init()` in this crate returns this error, so a caller can show
/// the user exactly which setting to change.
///
/// ```
/// use burn_fptt::prelude::*;
///
/// let err = LtcConfig::new(0, 16).validate().unwrap_err();
/// assert_eq!(err.field(), "LtcConfig.d_input");
/// assert!(err.to_string().contains("d_input"));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid {field} = {value}: {reason}")]
pub struct ConfigError {
    field: String,
    value: String,
    reason: String,
}

impl ConfigError {
    /// A new error for `field` (written `Type.field`), its offending `value` and the rule it breaks.
    pub fn new(
        field: impl Into<String>,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// The rejected field, as `Type.field`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The rejected value, as it was given.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// A backend named at run time (`BURN_FPTT_BACKEND`, `--backend`) that this build cannot give.
///
/// ```
/// let err = burn_fptt::device_by_name("tpu").unwrap_err();
/// assert_eq!(err.name(), "tpu");
/// assert!(err.to_string().contains("not available"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "backend `{name}` is not available: this build has {enabled:?} (enable it with the cargo feature of that name)"
)]
pub struct BackendError {
    name: String,
    enabled: Vec<&'static str>,
}

impl BackendError {
    pub(crate) fn unavailable(name: &str, enabled: Vec<&'static str>) -> Self {
        Self {
            name: name.to_string(),
            enabled,
        }
    }

    /// The name that was asked for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The backends compiled into this build.
    pub fn enabled(&self) -> &[&'static str] {
        &self.enabled
    }
}

/// Small checks shared by the configs' `validate()` methods.
pub(crate) mod check {
    use super::ConfigError;

    /// `value` must be at least 1.
    pub fn positive_size(field: &str, value: usize) -> Result<(), ConfigError> {
        if value == 0 {
            return Err(ConfigError::new(field, value, "must be at least 1"));
        }
        Ok(())
    }

    /// `value` must be finite and strictly positive.
    pub fn positive(field: &str, value: f64) -> Result<(), ConfigError> {
        if !value.is_finite() || value <= 0.0 {
            return Err(ConfigError::new(field, value, "must be finite and > 0"));
        }
        Ok(())
    }

    /// `value` must be finite and not negative.
    pub fn non_negative(field: &str, value: f64) -> Result<(), ConfigError> {
        if !value.is_finite() || value < 0.0 {
            return Err(ConfigError::new(field, value, "must be finite and >= 0"));
        }
        Ok(())
    }
}
