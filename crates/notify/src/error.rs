//! The crate's error type: everything that stops a notice from being rendered or built.
//!
//! Delivery outcomes are *not* errors: a refused recipient is a normal, recorded result
//! ([`crate::DeliveryResult`]).

/// Why a notice could not be rendered, built or handed to SMTP.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field of the notice input is malformed.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which field (dotted path).
        field: &'static str,
        /// What is wrong, naming the value.
        reason: String,
    },
    /// A national-only item has no grade. XARF's CSAM `classification` knows only `baseline`
    /// and the grades A1–B2, and schoon never labels national material as baseline.
    #[error(
        "item {url} is illegal under national law only and has no grade (A1, A2, B1, B2); \
         XARF v4 has no classification for it"
    )]
    NationalWithoutGrade {
        /// The item's URL.
        url: String,
    },
    /// A template does not compile or fails while rendering (syntax error, unknown variable,
    /// too much work).
    #[error("template {name}: {source}")]
    Template {
        /// Template name, e.g. `nl/body.html`.
        name: String,
        /// The engine's error, with line information.
        #[source]
        source: minijinja::Error,
    },
    /// A rendered HTML body would load or link something it must not (images, scripts, style
    /// sheets, frames, or links other than the response link).
    #[error("template {name} produced unsafe HTML: {reason}")]
    UnsafeHtml {
        /// Template name.
        name: String,
        /// What was found.
        reason: String,
    },
    /// The e-mail could not be assembled.
    #[error("building the e-mail: {0}")]
    Mail(String),
    /// The SMTP transport could not be configured (bad host, TLS parameters, root certificate).
    #[error("smtp configuration: {0}")]
    SmtpConfig(String),
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
