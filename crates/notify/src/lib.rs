//! Notices to abuse desks: rendering (text, HTML, XARF v4 JSON), e-mail assembly and SMTP.
//!
//! A hotline's real output is removal, and removal starts with a notice that a hosting
//! provider's abuse desk can act on at once: readable by a person, parseable by a ticket system,
//! and carrying everything needed to find the files — but never the material itself.
//!
//! # Overview
//!
//! * [`Notice`] (in [`model`]) is the input: tenant, stable reference, ladder step, recipient,
//!   and the items (URL, first seen, digests, PDQ, legal category, IP, hosting organisation),
//!   plus the acknowledge/dispute link. Plain data, checked once by [`Notice::validate`].
//! * [`Renderer`] (in [`render`]) turns a notice into subject, plain text and HTML, in Dutch or
//!   English, from [`TemplateSet`] strings: the built-in defaults or a tenant's own.
//! * [`xarf::reports`] maps every item to one XARF v4 `content`/`csam` report.
//! * [`build_mails`] (in [`mail`]) assembles the e-mail(s) with lettre: stable Message-ID,
//!   bounce address as envelope sender, `Auto-Submitted: auto-generated`, XARF attached as the
//!   XARF e-mail transport prescribes ([`MailLayout`]).
//! * [`SmtpSender`] (in [`smtp`]) makes one delivery attempt and returns a [`DeliveryResult`]
//!   for the caller to record; retries belong to the job queue.
//!
//! ```
//! # use schoon_notify::*;
//! # fn demo(notice: &Notice) -> Result<(), Error> {
//! let renderer = Renderer::builtin()?;
//! let mails = build_mails(&renderer, notice, MailLayout::Grouped)?;
//! assert!(mails[0].subject.contains(&notice.reference));
//! # Ok(()) }
//! ```
//!
//! # What a notice never contains
//!
//! No media bytes, thumbnails or screenshots (XARF's `evidence` array stays empty: XARF itself
//! says to send only hashes and reference ids for CSAM), no `<img>` or any other element that
//! loads something, and no link to the material: URLs are text. The only link in the HTML is the
//! recipient's own response link. This is enforced on the rendered HTML
//! ([`render::check_html`]), so it holds for tenant-edited templates too.
//!
//! # Why MiniJinja and not askama
//!
//! The admin UI edits notice templates per tenant and previews them ([`render::preview`]).
//! Templates therefore have to be data, compiled at run time; askama compiles templates into
//! the binary. MiniJinja gives Jinja syntax, HTML auto-escaping chosen per template name (the
//! `.html` body is escaped, subject and text are not), strict undefined variables (typos fail
//! the preview instead of leaving blanks) and a fuel limit against runaway templates.
//!
//! # Invariants
//!
//! * Building is deterministic: the same notice and step give the same Message-ID, XARF
//!   `report_id`s and bytes, so a job that crashed between "send" and "record" re-sends an
//!   identical message the receiver can de-duplicate (the outbox in the takedown workflow
//!   prevents the resend in the first place).
//! * This crate does no retries, keeps no state and talks to nothing but the configured SMTP
//!   server.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod mail;
pub mod model;
pub mod render;
pub mod smtp;
pub mod xarf;

pub use error::Error;
pub use mail::{MailLayout, OutgoingMail, build_mails};
pub use model::{
    CsamGrade, Detection, Digests, Language, LegalCategory, MAX_ITEMS, MediaKind, Notice,
    NoticeItem, Recipient, Step, StepKind, Tenant,
};
pub use render::{NoticeTemplates, RenderedNotice, Renderer, TemplateSet, preview};
pub use smtp::{DeliveryResult, SmtpConfig, SmtpCredentials, SmtpSender, TlsMode};
pub use xarf::{XARF_VERSION, XarfReport};
