//! Real SMTP against the loopback sink.

use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use schoon_notify::{
    DeliveryResult, MailLayout, OutgoingMail, Renderer, SmtpConfig, SmtpSender, TlsMode,
    XarfReport, build_mails,
};
use smtp_sink::{Rejection, SmtpSink};

use crate::helpers::notice;

fn config(port: u16, timeout: Duration) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port,
        tls: TlsMode::Plain,
        credentials: None,
        timeout,
        hello_name: Some("notify-test.meldpunt.example".to_owned()),
        extra_root_certificates_pem: None,
    }
}

fn grouped_mail() -> OutgoingMail {
    let renderer = Renderer::builtin().expect("renderer");
    build_mails(&renderer, &notice(), MailLayout::Grouped)
        .expect("build")
        .remove(0)
}

#[tokio::test]
async fn notice_arrives_at_the_sink_as_built() {
    let sink = SmtpSink::start().await.expect("sink");
    let sender = SmtpSender::new(&config(sink.port(), Duration::from_secs(10))).expect("sender");
    let mail = grouped_mail();

    let result = sender.send(&mail).await;
    let DeliveryResult::Accepted { code, message } = &result else {
        panic!("not accepted: {result:?}");
    };
    assert_eq!(*code, 250);
    assert!(message.contains("queued as SINK000001"), "{message}");

    let received = sink.messages();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.mail_from, "bounces@meldpunt.example");
    assert_eq!(got.rcpt_to, vec!["abuse@hoster.test".to_owned()]);
    assert_eq!(got.helo, "notify-test.meldpunt.example");
    // What the caller stores as "sent" is what the server received, byte for byte, except
    // for the empty last line lettre's end-of-data sequence (CRLF . CRLF) adds after a message
    // that already ends in CRLF.
    assert_eq!(got.data, [mail.raw.as_slice(), b"\r\n"].concat());

    let parsed = MessageParser::default().parse(&got.data).expect("parse");
    assert_eq!(
        parsed.subject(),
        Some(
            "[NL-2026-000123] Kindermisbruikmateriaal op img.hoster.test, files.hoster.test, \
             203.0.113.7: verzoek tot verwijdering"
        )
    );
    let text = parsed.body_text(0).expect("text");
    assert!(text.contains("Geacht abuse-team van Hoster Test B.V.,"));
    assert!(text.contains("https://img.hoster.test/u/abc123.jpg"));
    let html = parsed.body_html(0).expect("html");
    assert!(html.contains("Juridische categorie"));
    assert!(!html.contains("<img"));
    assert_eq!(parsed.attachment_count(), 3);
    for attachment in parsed.attachments() {
        let ct = attachment.content_type().expect("content type");
        assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("json")));
        let report: XarfReport = serde_json::from_slice(attachment.contents()).expect("xarf");
        assert_eq!(report.kind, "csam");
        assert_eq!(report.category, "content");
    }
}

#[tokio::test]
async fn per_url_notices_are_counted_at_the_sink() {
    let sink = SmtpSink::start().await.expect("sink");
    let sender = SmtpSender::new(&config(sink.port(), Duration::from_secs(10))).expect("sender");
    let renderer = Renderer::builtin().expect("renderer");
    let mails = build_mails(&renderer, &notice(), MailLayout::XarfPerUrl).expect("build");
    for mail in &mails {
        assert!(sender.send(mail).await.is_accepted());
    }
    assert_eq!(sink.message_count(), 3);
    let ids: Vec<String> = sink
        .messages()
        .iter()
        .filter_map(|m| {
            MessageParser::default()
                .parse(&m.data)
                .and_then(|p| p.message_id().map(str::to_owned))
        })
        .collect();
    assert_eq!(
        ids,
        mails
            .iter()
            .map(|m| m.message_id.clone())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn rejected_recipient_is_a_permanent_failure() {
    let sink = SmtpSink::start().await.expect("sink");
    sink.reject_recipient("abuse@hoster.test", Rejection::Permanent);
    let sender = SmtpSender::new(&config(sink.port(), Duration::from_secs(10))).expect("sender");
    let result = sender.send(&grouped_mail()).await;
    match result {
        DeliveryResult::Permanent { code, message } => {
            assert_eq!(code, Some(550));
            assert!(message.contains("mailbox unavailable"), "{message}");
        }
        other => panic!("expected permanent failure, got {other:?}"),
    }
    assert_eq!(sink.message_count(), 0);
}

#[tokio::test]
async fn greylisted_recipient_is_a_temporary_failure() {
    let sink = SmtpSink::start().await.expect("sink");
    sink.reject_recipient("abuse@hoster.test", Rejection::Temporary);
    let sender = SmtpSender::new(&config(sink.port(), Duration::from_secs(10))).expect("sender");
    let result = sender.send(&grouped_mail()).await;
    assert!(
        matches!(
            &result,
            DeliveryResult::Temporary {
                code: Some(451),
                ..
            }
        ),
        "{result:?}"
    );
    // Once the recipient accepts again, the same mail goes through (the queue's retry).
    sink.accept_recipient("abuse@hoster.test");
    assert!(sender.send(&grouped_mail()).await.is_accepted());
    assert_eq!(sink.message_count(), 1);
}

#[tokio::test]
async fn unreachable_server_is_a_temporary_failure_without_code() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let sender = SmtpSender::new(&config(port, Duration::from_secs(5))).expect("sender");
    let result = sender.send(&grouped_mail()).await;
    assert!(
        matches!(&result, DeliveryResult::Temporary { code: None, .. }),
        "{result:?}"
    );
}

#[tokio::test]
async fn silent_server_times_out_as_temporary_failure() {
    // Accepts the connection but never greets.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let accepted = listener.accept().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(accepted);
    });
    let sender = SmtpSender::new(&config(port, Duration::from_millis(300))).expect("sender");
    let started = std::time::Instant::now();
    let result = sender.send(&grouped_mail()).await;
    assert!(
        matches!(&result, DeliveryResult::Temporary { code: None, .. }),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    hold.abort();
}
