//! Integration tests of schoon-notify, one binary with a module per topic.

mod helpers;
// Rendering: templates, languages, escaping, the no-hot-link rule.
mod render;
// XARF mapping and the e-mail structure, without a network.
mod mail;
// Real SMTP against the loopback sink: accepted, 550, 451, refused, timeout.
mod smtp;
// The XARF reports checked by the official validator (PyPI `xarf`).
mod xarf_validate;
