//! The runner's built-in retry policies: `none`, `fixed` and `backoff`.
//!
//! The runner loads this crate as a plugin library through
//! [`BuiltinPolicies`], which builds a policy from the `retry_policy` mapping
//! of `dlt.yml`:
//!
//! | `type` | keys (defaults) | behaviour |
//! |---|---|---|
//! | `none` | none | one attempt |
//! | `fixed` | `max_attempts` (3), `delay` (0 s) | the same wait after every failure |
//! | `backoff` | `max_attempts` (5), `multiplier` (2), `min` (4 s), `max` (10 s), `jitter` (0 s) | wait `clamp(multiplier * 2^(n-1), min, max)` seconds after failed attempt `n`, plus a random `[0, jitter]` |
//!
//! Every policy stops after `max_attempts` attempts and at once on a
//! `Config` or `Terminal` error.
//!
//! Two choices differ from dlt+. There `fixed` never waits, and a key that the
//! chosen type does not use (such as `min` on `fixed`) is ignored. Here `fixed`
//! takes an optional `delay`, and an unused key is a configuration error,
//! because an ignored `min` on `fixed` looks like a delay that never happens.
//!
//! Rust services that link this crate directly can build [`NoRetry`],
//! [`Fixed`] and [`Backoff`] as plain values.

mod backoff;
mod factory;
mod fixed;
mod no_retry;
mod parameters;

pub use backoff::Backoff;
pub use factory::{BuiltinPolicies, POLICY_TYPES};
pub use fixed::Fixed;
pub use no_retry::NoRetry;

// The macro expands inside a child module, so the path starts at the crate root.
