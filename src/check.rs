//! Running KV systems from scripts and cases, and (later) checking their
//! properties. Owns the translation from a user's configuration (stage,
//! schedule, seed, limits) to a simulation, and what a run reports.

pub mod linearizability;
mod runner;

pub use runner::{RunConfig, RunReport, Schedule, run_script};
