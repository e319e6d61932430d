//! Discrete-time decays of burn-fptt's layers to NIR's continuous-time time constants and back.

use super::error::NirError;

/// How a simulator turns NIR's `τ v' = -v + r I` into one step of length `dt`; it fixes which
/// `τ` a layer's per-step decay `α` stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Discretisation {
    /// `v ← α v + (1 - α) r I` with `α = exp(-dt / τ)`: exact for an input held over the step.
    /// burn-fptt's layers step this way, so `τ = dt · τ_steps`.
    Exponential,
    /// `v ← v + dt/τ (-v + r I)`, so `α = 1 - dt / τ` and `τ = dt / (1 - α)`: the forward Euler
    /// step of snnTorch, Norse and most NIR clients.
    ForwardEuler,
}

/// The time base of an export or import: the length of one step and the discretisation that
/// the other side simulates with.
///
/// ```
/// use burn_fptt::nir::{Discretisation, TimeMapping};
///
/// let exact = TimeMapping::new(1e-3, Discretisation::Exponential).unwrap();
/// let decay = (-1.0f64 / 20.0).exp(); // 20 steps
/// assert!((exact.tau(decay) - 0.020).abs() < 1e-12);
/// let euler = TimeMapping::new(1e-3, Discretisation::ForwardEuler).unwrap();
/// assert!((euler.tau(0.95) - 0.020).abs() < 1e-12); // dt / (1 - 0.95)
/// assert!((euler.decay("lif", 0.020).unwrap() - 0.95).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeMapping {
    dt: f64,
    discretisation: Discretisation,
}

impl TimeMapping {
    /// A step of `dt` (in the unit NIR's `τ` is read in, usually seconds) simulated with
    /// `discretisation`.
    ///
    /// # Errors
    ///
    /// [`NirError::Config`] when `dt` is not finite and positive.
    pub fn new(dt: f64, discretisation: Discretisation) -> Result<Self, NirError> {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(NirError::Config {
                field: "dt",
                value: dt.to_string(),
                reason: "the step length must be finite and positive",
            });
        }
        Ok(Self { dt, discretisation })
    }

    /// The step length.
    pub fn dt(&self) -> f64 {
        self.dt
    }

    /// The discretisation.
    pub fn discretisation(&self) -> Discretisation {
        self.discretisation
    }

    /// NIR's `τ` for a per-step decay `α` in `(0, 1)`.
    pub fn tau(&self, decay: f64) -> f64 {
        match self.discretisation {
            Discretisation::Exponential => -self.dt / decay.ln(),
            Discretisation::ForwardEuler => self.dt / (1.0 - decay),
        }
    }

    /// The per-step decay `α` for NIR's `τ`.
    ///
    /// # Errors
    ///
    /// [`NirError::Parameter`] naming `node` when `τ` is not positive, or, for forward Euler,
    /// not longer than `dt` (the step would not decay).
    pub fn decay(&self, node: &str, tau: f64) -> Result<f64, NirError> {
        let bad = |reason: String| NirError::Parameter {
            node: node.to_string(),
            reason,
        };
        if !(tau.is_finite() && tau > 0.0) {
            return Err(bad(format!(
                "time constant {tau} is not finite and positive"
            )));
        }
        match self.discretisation {
            Discretisation::Exponential => Ok((-self.dt / tau).exp()),
            Discretisation::ForwardEuler if tau > self.dt => Ok(1.0 - self.dt / tau),
            Discretisation::ForwardEuler => Err(bad(format!(
                "time constant {tau} is not longer than the step dt = {}: forward Euler would not decay",
                self.dt
            ))),
        }
    }

    /// The time constant in steps that makes burn-fptt's layers decay by `α` per step:
    /// `-1 / ln α`.
    pub fn steps(decay: f64) -> f64 {
        -1.0 / decay.ln()
    }
}
