//! The schoon HTTP service: the hash-check API, Arachnid Shield compatible endpoints, the admin
//! API, health, metrics and OpenAPI.
//!
//! Handlers depend only on `Arc<dyn store::Store>`; matching runs against in-memory per-tenant
//! matchers ([`matcher`]) that follow list changes without blocking checks.

pub mod admin;
pub mod app;
pub mod auth;
pub mod check;
pub mod classify;
pub mod client_ip;
pub mod config;
pub mod followup;
pub mod listfile;
pub mod matcher;
pub mod metrics;
pub mod monitor;
pub mod openapi;
pub mod ops;
pub mod problem;
pub mod regulator;
pub mod report_worker;
pub mod reports;
pub mod shield;
pub mod takedown;
pub mod ui;
pub mod worker;

pub use app::{AppState, Bootstrap, bootstrap, init_logging, router, run};
pub use config::Config;
