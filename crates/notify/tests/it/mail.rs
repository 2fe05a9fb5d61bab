//! XARF mapping and MIME structure of built e-mails (no network).

use mail_parser::{MessageParser, MimeHeaders, PartType};
use schoon_notify::{MailLayout, Renderer, StepKind, XarfReport, build_mails, xarf};
use serde_json::Value;

use crate::helpers::{notice, notice_en};

fn json_of(report: &XarfReport) -> Value {
    serde_json::to_value(report).expect("json")
}

#[test]
fn xarf_reports_map_every_item() {
    let notice = notice();
    let reports = xarf::reports(&notice).expect("reports");
    assert_eq!(reports.len(), 3);

    let full = json_of(&reports[0]);
    assert_eq!(full["xarf_version"], "4.2.0");
    assert_eq!(full["category"], "content");
    assert_eq!(full["type"], "csam");
    assert_eq!(full["timestamp"], "2026-03-01T14:05:09Z");
    assert_eq!(full["url"], "https://img.hoster.test/u/abc123.jpg");
    assert_eq!(full["domain"], "img.hoster.test");
    assert_eq!(full["source_identifier"], "192.0.2.10");
    assert_eq!(full["source_port"], 443);
    assert_eq!(full["classification"], "baseline");
    assert_eq!(full["detection_method"], "hash_match");
    assert_eq!(full["evidence_source"], "automated_scan");
    assert_eq!(full["media_type"], "image");
    assert_eq!(full["content_removed"], false);
    assert_eq!(full["verified_at"], "2026-03-02T08:00:00Z");
    assert_eq!(full["verification_method"], "automated_crawler");
    assert_eq!(full["hosting_provider"], "Example Hosting <b>B.V.</b> & Co");
    assert_eq!(full["asn"], 64500);
    assert_eq!(
        full["hash_values"]["md5"],
        "0123456789abcdef0123456789abcdef"
    );
    assert_eq!(
        full["hash_values"]["pdq"],
        "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    );
    assert_eq!(
        full["reporter"],
        serde_json::json!({
            "org": "Meldpunt Voorbeeld",
            "contact": "abuse-reports@meldpunt.example",
            "domain": "meldpunt.example"
        })
    );
    assert_eq!(full["sender"], full["reporter"]);
    assert_eq!(
        full["tags"],
        serde_json::json!([
            "notice:nl-2026-000123",
            "step:hoster",
            "legal:baseline",
            "grade:a1"
        ])
    );
    assert!(full.get("evidence").is_none(), "never any evidence payload");

    let national = json_of(&reports[1]);
    assert_eq!(national["classification"], "B2");
    assert_eq!(national["source_identifier"], "2001:db8::5");
    assert_eq!(national["source_port"], 8080);
    assert_eq!(national["detection_method"], "manual_review");
    assert_eq!(national["verification_method"], "manual");
    assert_eq!(national["verified_at"], "2026-02-28T23:59:59Z");
    assert!(national["hash_values"].get("md5").is_none());

    let ip_host = json_of(&reports[2]);
    assert_eq!(ip_host["source_identifier"], "203.0.113.7");
    assert!(ip_host.get("domain").is_none(), "an IP is not a domain");
    assert!(ip_host.get("media_type").is_none());
}

#[test]
fn report_ids_are_stable_uuids_distinct_per_url_and_step() {
    let first = xarf::reports(&notice()).expect("reports");
    let again = xarf::reports(&notice()).expect("reports");
    assert_eq!(first, again, "same notice, same reports");
    let ids: Vec<&str> = first.iter().map(|r| r.report_id.as_str()).collect();
    for id in &ids {
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "version 4 layout: {id}");
        assert!("89ab".contains(&id[19..20]), "RFC 4122 variant: {id}");
    }
    assert_ne!(ids[0], ids[1]);
    let mut reminder = notice();
    reminder.step.sequence = 1;
    assert_ne!(
        xarf::reports(&reminder).expect("reports")[0].report_id,
        ids[0]
    );
    let mut other_step = notice();
    other_step.step.kind = StepKind::SiteOwner;
    assert_ne!(
        xarf::reports(&other_step).expect("reports")[0].report_id,
        ids[0]
    );
}

#[test]
fn grouped_mail_is_mixed_with_alternative_and_one_xarf_attachment_per_url() {
    let notice = notice();
    let renderer = Renderer::builtin().expect("renderer");
    let mails = build_mails(&renderer, &notice, MailLayout::Grouped).expect("build");
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.message_id, "NL-2026-000123.hoster.0@meldpunt.example");
    assert_eq!(mail.envelope_from, "bounces@meldpunt.example");
    assert_eq!(mail.envelope_to, vec!["abuse@hoster.test".to_owned()]);
    assert_eq!(mail.urls.len(), 3);

    // Deterministic: a retried job builds the very same bytes.
    let again = build_mails(&renderer, &notice, MailLayout::Grouped).expect("build");
    assert_eq!(again[0].raw, mail.raw);

    let raw = String::from_utf8_lossy(&mail.raw);
    let header_block = raw.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        header_block.contains("Auto-Submitted: auto-generated"),
        "{header_block}"
    );
    assert!(header_block.contains("Content-Language: nl"));
    assert!(
        header_block.contains("Date: Mon, 02 Mar 2026 09:30:00 +0000"),
        "{header_block}"
    );
    assert!(!header_block.to_ascii_lowercase().contains("return-path"));
    assert!(!header_block.contains("In-Reply-To"));

    let parsed = MessageParser::default().parse(&mail.raw).expect("parse");
    assert_eq!(parsed.subject(), Some(mail.subject.as_str()));
    assert_eq!(parsed.message_id(), Some(mail.message_id.as_str()));
    let content_type = parsed.content_type().expect("content type");
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("multipart", Some("mixed"))
    );
    assert_eq!(
        parsed
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("notices@meldpunt.example")
    );
    assert_eq!(
        parsed
            .reply_to()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("analisten@meldpunt.example")
    );
    let text = parsed.body_text(0).expect("text body");
    assert!(text.contains("https://203.0.113.7/a/b.png"));
    let html = parsed.body_html(0).expect("html body");
    assert!(html.contains("<table role=\"presentation\""));

    assert_eq!(parsed.attachment_count(), 3);
    for (idx, attachment) in parsed.attachments().enumerate() {
        let ct = attachment.content_type().expect("attachment content type");
        assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("json")));
        assert_eq!(
            attachment.attachment_name(),
            Some(format!("xarf-{}.json", idx + 1).as_str())
        );
        assert_eq!(
            attachment.content_transfer_encoding(),
            Some("base64"),
            "XARF travels base64"
        );
        let report: XarfReport =
            serde_json::from_slice(attachment.contents()).expect("attachment is XARF JSON");
        assert_eq!(report, mail.xarf[idx]);
        assert_eq!(report.url, notice.items[idx].url);
    }
}

#[test]
fn per_url_mails_follow_the_xarf_email_transport() {
    let notice = notice_en();
    let renderer = Renderer::builtin().expect("renderer");
    let mails = build_mails(&renderer, &notice, MailLayout::XarfPerUrl).expect("build");
    assert_eq!(mails.len(), 3);
    for (idx, mail) in mails.iter().enumerate() {
        assert_eq!(
            mail.message_id,
            format!("NL-2026-000123.hoster.0.{}@meldpunt.example", idx + 1)
        );
        assert_eq!(mail.urls, vec![notice.items[idx].url.clone()]);
        assert!(
            mail.subject.ends_with(&format!("({}/3)", idx + 1)),
            "{}",
            mail.subject
        );
        let parsed = MessageParser::default().parse(&mail.raw).expect("parse");
        let ct = parsed.content_type().expect("content type");
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
        assert_eq!(ct.attribute("report-type"), Some("feedback-report"));

        // Part order of RFC 6522: human-readable, machine-readable, then the report.
        let root = parsed.root_part();
        let PartType::Multipart(children) = &root.body else {
            panic!("root is not multipart");
        };
        assert_eq!(children.len(), 3);
        let kinds: Vec<String> = children
            .iter()
            .map(|&child| {
                let part = &parsed.parts[child as usize];
                let ct = part.content_type().expect("part content type");
                format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "multipart/alternative",
                "message/feedback-report",
                "application/json"
            ]
        );
        let feedback = &parsed.parts[children[1] as usize];
        let feedback_text = String::from_utf8_lossy(feedback.contents());
        assert!(
            feedback_text.contains("Feedback-Type: xarf"),
            "{feedback_text}"
        );
        assert!(feedback_text.contains("Version: 1"));
        assert!(feedback_text.contains("User-Agent: schoon-notify/"));

        let json_part = &parsed.parts[children[2] as usize];
        assert_eq!(json_part.attachment_name(), Some("xarf.json"));
        let report: XarfReport = serde_json::from_slice(json_part.contents()).expect("json");
        assert_eq!(report.url, notice.items[idx].url);
        let text = parsed.body_text(0).expect("text");
        assert!(text.contains(&notice.items[idx].url));
        for (other_idx, other) in notice.items.iter().enumerate() {
            if other_idx != idx {
                assert!(!text.contains(&other.url), "only its own URL");
            }
        }
    }
    // The same URL has the same XARF report id in both layouts.
    let grouped = build_mails(&renderer, &notice, MailLayout::Grouped).expect("build");
    assert_eq!(grouped[0].xarf[1].report_id, mails[1].xarf[0].report_id);
}

#[test]
fn reminders_thread_to_the_first_message_of_the_step() {
    let mut notice = notice();
    notice.step.sequence = 3;
    let renderer = Renderer::builtin().expect("renderer");
    let mail = build_mails(&renderer, &notice, MailLayout::Grouped)
        .expect("build")
        .remove(0);
    assert_eq!(mail.message_id, "NL-2026-000123.hoster.3@meldpunt.example");
    let parsed = MessageParser::default().parse(&mail.raw).expect("parse");
    assert_eq!(
        parsed.in_reply_to().as_text(),
        Some("NL-2026-000123.hoster.0@meldpunt.example")
    );
    let per_url = build_mails(&renderer, &notice, MailLayout::XarfPerUrl).expect("build");
    let parsed = MessageParser::default()
        .parse(&per_url[1].raw)
        .expect("parse");
    assert_eq!(
        parsed.in_reply_to().as_text(),
        Some("NL-2026-000123.hoster.0.2@meldpunt.example")
    );
}
