//! Assembling notice e-mails (MIME structure, headers, envelope) with lettre's builder.
//!
//! Two layouts, chosen per recipient by the caller ([`MailLayout`]):
//!
//! * [`MailLayout::XarfPerUrl`] follows the XARF e-mail transport: one message per URL, a
//!   `multipart/report; report-type=feedback-report` (RFC 6522 / RFC 5965) whose parts are the
//!   human-readable notice (`multipart/alternative`: text and HTML, which RFC 6522 allows for
//!   the first part), a `message/feedback-report` part with `Feedback-Type: xarf`, and the XARF
//!   JSON as `application/json; name="xarf.json"`, base64, `attachment; filename="xarf.json"`.
//!   A report container holds exactly one JSON report, hence one message per URL.
//! * [`MailLayout::Grouped`] is one message for the whole notice, as abuse desks that read mail
//!   by hand prefer: `multipart/mixed` with the `multipart/alternative` notice and one XARF
//!   JSON attachment per URL (`xarf-1.json`, `xarf-2.json`, … with the same content type,
//!   encoding and disposition as above).
//!
//! Headers: `Message-ID` derived from the reference, step and sequence (and the URL's number in
//! the per-URL layout), so a retried job produces the same id and the receiving side can
//! de-duplicate; reminders carry `In-Reply-To`/`References` to the first message of the step so
//! they thread; `Auto-Submitted: auto-generated` (RFC 3834) so auto-responders stay quiet;
//! `Date` is the notice's creation time. The envelope sender (`MAIL FROM`) is the tenant's
//! bounce address; receiving servers turn it into `Return-Path` (senders must not write that
//! header themselves, RFC 5321 section 4.4). MIME boundaries are derived from the Message-ID,
//! so building the same notice twice yields the same bytes.

use std::time::SystemTime;

use lettre::message::header::{
    ContentDisposition, ContentTransferEncoding, ContentType, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::model::Notice;
use crate::render::{Part, RenderedNotice, Renderer};
use crate::xarf::{self, XarfReport};

/// How a notice is split into e-mails; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailLayout {
    /// One message per URL, in XARF's `multipart/report` e-mail transport.
    XarfPerUrl,
    /// One message for the notice with one XARF attachment per URL.
    Grouped,
}

/// One e-mail ready for SMTP: the exact bytes and the envelope.
///
/// The caller should store `raw` with the delivery result: it is the evidence of what was sent.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// Message-ID without angle brackets, e.g. `NL-2026-000123.hoster.0@hotline.example`.
    pub message_id: String,
    /// Envelope sender (the tenant's bounce address).
    pub envelope_from: String,
    /// Envelope recipients.
    pub envelope_to: Vec<String>,
    /// The subject as rendered.
    pub subject: String,
    /// URLs this message reports, in order.
    pub urls: Vec<String>,
    /// The XARF reports attached, in order.
    pub xarf: Vec<XarfReport>,
    /// The complete message (RFC 5322, CRLF line endings).
    pub raw: Vec<u8>,
}

/// The `User-Agent` of notices and of the XARF feedback part.
pub const USER_AGENT: &str = concat!("schoon-notify/", env!("CARGO_PKG_VERSION"));

/// Renders the notice and builds its e-mails in the given layout.
pub fn build_mails(
    renderer: &Renderer,
    notice: &Notice,
    layout: MailLayout,
) -> Result<Vec<OutgoingMail>, Error> {
    notice.validate()?;
    let reports = xarf::reports(notice)?;
    match layout {
        MailLayout::Grouped => {
            let rendered =
                renderer.render_part(notice, None, &|index| format!("xarf-{index}.json"))?;
            let id = message_id(notice, None, notice.step.sequence);
            let mut mixed = MultiPart::mixed()
                .boundary(boundary(&id, "mixed"))
                .multipart(alternative(&rendered, &id));
            for (index, report) in reports.iter().enumerate() {
                mixed = mixed.singlepart(xarf_attachment(
                    report,
                    &format!("xarf-{}.json", index + 1),
                )?);
            }
            let raw = finish(notice, &rendered, &id, None, mixed)?;
            Ok(vec![OutgoingMail {
                message_id: id,
                envelope_from: notice.tenant.bounce_address.clone(),
                envelope_to: vec![notice.recipient.email.clone()],
                subject: rendered.subject,
                urls: notice.items.iter().map(|item| item.url.clone()).collect(),
                xarf: reports,
                raw,
            }])
        }
        MailLayout::XarfPerUrl => {
            let total = notice.items.len();
            let mut mails = Vec::with_capacity(total);
            for (idx, (item, report)) in notice.items.iter().zip(reports).enumerate() {
                let index = idx + 1;
                let single = Notice {
                    items: vec![item.clone()],
                    ..notice.clone()
                };
                let part = (total > 1).then_some(Part { index, total });
                let rendered = renderer.render_part(&single, part, &|_| "xarf.json".to_owned())?;
                let id = message_id(notice, Some(index), notice.step.sequence);
                let feedback = SinglePart::builder()
                    .header(content_type("message/feedback-report")?)
                    .header(ContentDisposition::inline())
                    .body(
                        Body::new_with_encoding(
                            format!(
                                "Feedback-Type: xarf\r\nUser-Agent: {USER_AGENT}\r\nVersion: 1\r\n"
                            ),
                            ContentTransferEncoding::SevenBit,
                        )
                        .map_err(|e| Error::Mail(format!("feedback part: {e:?}")))?,
                    );
                let report_type = format!(
                    "multipart/report; report-type=feedback-report; boundary=\"{}\"",
                    boundary(&id, "report")
                );
                let container = MultiPart::builder()
                    .header(content_type(&report_type)?)
                    .multipart(alternative(&rendered, &id))
                    .singlepart(feedback)
                    .singlepart(xarf_attachment(&report, "xarf.json")?);
                let raw = finish(notice, &rendered, &id, Some(index), container)?;
                mails.push(OutgoingMail {
                    message_id: id,
                    envelope_from: notice.tenant.bounce_address.clone(),
                    envelope_to: vec![notice.recipient.email.clone()],
                    subject: rendered.subject,
                    urls: vec![item.url.clone()],
                    xarf: vec![report],
                    raw,
                });
            }
            Ok(mails)
        }
    }
}

fn content_type(value: &str) -> Result<ContentType, Error> {
    ContentType::parse(value).map_err(|e| Error::Mail(format!("content type {value:?}: {e}")))
}

fn alternative(rendered: &RenderedNotice, id: &str) -> MultiPart {
    MultiPart::alternative()
        .boundary(boundary(id, "alt"))
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(rendered.text.clone()),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(rendered.html.clone()),
        )
}

fn xarf_attachment(report: &XarfReport, filename: &str) -> Result<SinglePart, Error> {
    let json = report.to_json()?;
    let body = Body::new_with_encoding(json.into_bytes(), ContentTransferEncoding::Base64)
        .map_err(|e| Error::Mail(format!("xarf body: {e:?}")))?;
    Ok(SinglePart::builder()
        .header(content_type(&format!(
            "application/json; name=\"{filename}\""
        ))?)
        .header(ContentDisposition::attachment(filename))
        .body(body))
}

/// `REF.step.seq[.n]@tenant-domain`.
fn message_id(notice: &Notice, url_index: Option<usize>, sequence: u32) -> String {
    let step = notice.step.kind.code().replace('_', "-");
    match url_index {
        Some(index) => format!(
            "{}.{step}.{sequence}.{index}@{}",
            notice.reference, notice.tenant.domain
        ),
        None => format!(
            "{}.{step}.{sequence}@{}",
            notice.reference, notice.tenant.domain
        ),
    }
}

/// A boundary that cannot occur in base64 or quoted-printable text and is stable per message.
fn boundary(message_id: &str, role: &str) -> String {
    let digest = Sha256::digest(format!("{message_id}/{role}").as_bytes());
    format!("=_schoon_{role}_{}", hex::encode(&digest[..12]))
}

fn parse_address(field: &'static str, value: &str) -> Result<Address, Error> {
    value
        .parse::<Address>()
        .map_err(|e| Error::invalid(field, format!("{value:?}: {e}")))
}

fn finish(
    notice: &Notice,
    rendered: &RenderedNotice,
    id: &str,
    url_index: Option<usize>,
    body: MultiPart,
) -> Result<Vec<u8>, Error> {
    let from = Mailbox::new(
        Some(notice.tenant.name.clone()),
        parse_address("tenant.from_address", &notice.tenant.from_address)?,
    );
    let to_name = notice
        .recipient
        .name
        .clone()
        .or_else(|| notice.recipient.organisation.clone());
    let to = Mailbox::new(
        to_name,
        parse_address("recipient.email", &notice.recipient.email)?,
    );
    let envelope = lettre::address::Envelope::new(
        Some(parse_address(
            "tenant.bounce_address",
            &notice.tenant.bounce_address,
        )?),
        vec![parse_address("recipient.email", &notice.recipient.email)?],
    )
    .map_err(|e| Error::Mail(format!("envelope: {e}")))?;

    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(rendered.subject.clone())
        .date(SystemTime::from(notice.created_at))
        .message_id(Some(format!("<{id}>")))
        .user_agent(USER_AGENT.to_owned())
        .envelope(envelope)
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Content-Language"),
            rendered.language.code().to_owned(),
        ));
    if let Some(reply_to) = &notice.tenant.reply_to {
        builder = builder.reply_to(Mailbox::new(
            Some(notice.tenant.name.clone()),
            parse_address("tenant.reply_to", reply_to)?,
        ));
    }
    if notice.step.sequence > 0 {
        let first = format!("<{}>", message_id(notice, url_index, 0));
        builder = builder.in_reply_to(first.clone()).references(first);
    }
    let message: Message = builder
        .multipart(body)
        .map_err(|e| Error::Mail(e.to_string()))?;
    Ok(message.formatted())
}
