//! Takedown work queues for analysts: needs contact, police, monitoring, changed hoster.

use axum::Router;

use super::NavEntry;
use crate::app::AppState;

/// Menu entries of these pages.
pub const NAV: &[NavEntry] = &[];

/// Messages of these pages: `(key, English, Dutch)`.
pub const MESSAGES: &[(&str, &str, &str)] = &[];

/// Routes of these pages.
pub fn routes() -> Router<AppState> {
    Router::new()
}
