//! kvsim: a deterministic simulation harness for Erlang/OTP-style actor
//! systems, built around the KV registry and buckets of the Elixir
//! "Mix and OTP" guide.
//!
//! Layers, each using only the ones below it:
//!
//! - [`sim`]: the deterministic core (processes, signals, scheduler, clock, trace);
//! - [`otp`]: GenServer and Agent behaviours on top of the core;
//! - [`kv`]: buckets, the registry protocol and the chapter's registry stages;
//! - [`check`]: running whole KV systems from scripts and cases;
//! - [`cli`]: the `kvsim` command line.

pub mod check;
pub mod cli;
pub mod kv;
pub mod otp;
pub mod sim;
