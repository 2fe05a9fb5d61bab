//! Rendering with the built-in and with tenant templates.

use schoon_notify::{
    Error, Language, LegalCategory, NoticeTemplates, Renderer, StepKind, TemplateSet, preview,
};

use crate::helpers::{html_escaped, notice, notice_en};

#[test]
fn dutch_notice_lists_every_url_digest_date_and_category() {
    let notice = notice();
    let rendered = Renderer::builtin()
        .and_then(|r| r.render(&notice))
        .expect("render");
    assert_eq!(rendered.language, Language::Nl);
    assert_eq!(
        rendered.subject,
        "[NL-2026-000123] Kindermisbruikmateriaal op img.hoster.test, files.hoster.test, \
         203.0.113.7: verzoek tot verwijdering"
    );
    let text = &rendered.text;
    assert!(
        text.starts_with("Geacht abuse-team van Hoster Test B.V.,\n"),
        "{text}"
    );
    for item in &notice.items {
        assert!(text.contains(&item.url), "{}", item.url);
        assert!(
            rendered.html.contains(&html_escaped(&item.url)),
            "{}",
            item.url
        );
    }
    for expected in [
        "Eerst gezien:    2026-03-01 14:05:09 UTC",
        "Laatst online:   2026-03-02 08:00:00 UTC",
        "baseline (internationaal illegaal) (klasse A1)",
        "illegaal naar nationaal recht (klasse B2)",
        // Digests are printed lowercase whatever case they came in.
        "MD5:             0123456789abcdef0123456789abcdef",
        "PDQ:             f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
        "IP-adres:        192.0.2.10 (AS64500)",
        "IP-adres:        2001:db8::5\n",
        "XARF-rapport:    xarf-3.json",
        "hostingprovider van de server",
        "https://meldpunt.example/r/NL-2026-000123?sig=abc&exp=1",
        "analisten@meldpunt.example",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("\n\n\n"), "no runs of blank lines:\n{text}");
}

#[test]
fn english_notice_and_html_alternative() {
    let rendered = Renderer::builtin()
        .and_then(|r| r.render(&notice_en()))
        .expect("render");
    assert_eq!(rendered.language, Language::En);
    assert!(
        rendered
            .subject
            .starts_with("[NL-2026-000123] Child sexual abuse material on ")
    );
    assert!(rendered.text.starts_with("Dear Abuse Desk,\n"));
    assert!(
        rendered
            .text
            .contains("First seen:      2026-02-28 23:59:59 UTC")
    );
    assert!(
        rendered
            .text
            .contains("illegal under national law (grade B2)")
    );
    let html = &rendered.html;
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("<td>2026-03-01 14:05:09 UTC</td>"));
    // Data is escaped, never markup.
    assert!(
        html.contains("Example Hosting &lt;b&gt;B.V.&lt;&#x2f;b&gt; &amp; Co"),
        "{html}"
    );
    assert!(!html.contains("<b>B.V.</b>"));
    // The response link is the one and only link; nothing is loaded.
    let link = html_escaped("https://meldpunt.example/r/NL-2026-000123?sig=abc&exp=1");
    assert!(html.contains(&format!("<a href=\"{link}\">")), "{html}");
    assert_eq!(html.matches("<a ").count(), 1);
    for forbidden in ["<img", "src=\"", "url(", "<script", "<link", "<style"] {
        assert!(
            !html.to_ascii_lowercase().contains(forbidden),
            "{forbidden}"
        );
    }
}

#[test]
fn reminders_and_other_steps_change_the_wording() {
    let mut notice = notice();
    notice.step.sequence = 2;
    notice.step.kind = StepKind::Registrar;
    notice.items.truncate(1);
    let rendered = Renderer::builtin()
        .and_then(|r| r.render(&notice))
        .expect("render");
    assert!(
        rendered.subject.starts_with(
            "[NL-2026-000123] Herinnering 2: Kindermisbruikmateriaal op img.hoster.test"
        ),
        "{}",
        rendered.subject
    );
    assert!(
        rendered
            .text
            .contains("Dit is herinnering 2 bij melding NL-2026-000123")
    );
    assert!(rendered.text.contains("als registrar van het domein"));
}

#[test]
fn tenant_templates_are_used_and_the_reference_is_forced_into_the_subject() {
    let mut templates = TemplateSet::builtin();
    templates.nl = NoticeTemplates {
        subject: "Melding over {{ items|length }} URL's".to_owned(),
        text: "{% for item in items %}{{ item.url_defanged }}\n{% endfor %}".to_owned(),
        html: "<p>{{ tenant.name }}: {{ items[0].url }}</p>".to_owned(),
    };
    let rendered = preview(&templates, &notice()).expect("render");
    assert_eq!(rendered.subject, "[NL-2026-000123] Melding over 3 URL's");
    assert_eq!(
        rendered.text,
        "hxxps://img[.]hoster[.]test/u/abc123.jpg\n\
         hxxp://files[.]hoster[.]test:8080/view.php?id=42&src=x.mp4\n\
         hxxps://203[.]0[.]113[.]7/a/b.png\n"
    );
    assert_eq!(
        rendered.html,
        "<p>Meldpunt Voorbeeld: https:&#x2f;&#x2f;img.hoster.test&#x2f;u&#x2f;abc123.jpg</p>"
    );
    // English is still the default set.
    let english = preview(&templates, &notice_en()).expect("render");
    assert!(english.subject.contains("Child sexual abuse material"));
}

#[test]
fn tenant_templates_cannot_hot_link_the_material() {
    for html in [
        "<img src=\"{{ items[0].url }}\">",
        "<a href=\"{{ items[0].url }}\">open</a>",
        "<div style=\"background-image: url('{{ items[0].url }}')\"></div>",
        "<iframe></iframe>",
    ] {
        let mut templates = TemplateSet::builtin();
        templates.nl.html = html.to_owned();
        match preview(&templates, &notice()) {
            Err(Error::UnsafeHtml { name, .. }) => assert_eq!(name, "nl/body.html"),
            other => panic!("{html}: expected UnsafeHtml, got {other:?}"),
        }
    }
}

#[test]
fn template_mistakes_are_reported_with_the_template_name() {
    let mut syntax = TemplateSet::builtin();
    syntax.en.text = "{% for item in items %}no end".to_owned();
    match Renderer::new(&syntax) {
        Err(Error::Template { name, .. }) => assert_eq!(name, "en/body.txt"),
        Err(other) => panic!("unexpected {other}"),
        Ok(_) => panic!("syntax error accepted"),
    }
    let mut typo = TemplateSet::builtin();
    typo.nl.subject = "{{ referense }}".to_owned();
    match preview(&typo, &notice()) {
        Err(Error::Template { name, .. }) => assert_eq!(name, "nl/subject"),
        other => panic!("undefined variable accepted: {other:?}"),
    }
    let mut runaway = TemplateSet::builtin();
    runaway.nl.text =
        "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}"
            .to_owned();
    assert!(matches!(
        preview(&runaway, &notice()),
        Err(Error::Template { .. })
    ));
}

#[test]
fn invalid_input_is_refused_before_rendering() {
    let renderer = Renderer::builtin().expect("renderer");
    type Mutation = fn(&mut schoon_notify::Notice);
    let cases: Vec<(&str, Mutation)> = vec![
        ("empty items", |n| n.items.clear()),
        ("bad reference", |n| n.reference = "NL 1/2".to_owned()),
        ("bad recipient", |n| {
            n.recipient.email = "not an address".to_owned()
        }),
        ("ftp url", |n| {
            n.items[0].url = "ftp://hoster.test/a.jpg".to_owned()
        }),
        ("short md5", |n| {
            n.items[0].digests.md5 = Some("abc".to_owned())
        }),
        ("non-hex pdq", |n| n.items[0].pdq = Some("z".repeat(64))),
        ("bad tenant domain", |n| {
            n.tenant.domain = "Meldpunt".to_owned()
        }),
        ("newline in name", |n| {
            n.recipient.name = Some("a\r\nBcc: x@y.test".to_owned())
        }),
        ("javascript link", |n| {
            n.response_link = Some("javascript:alert(1)".to_owned())
        }),
    ];
    for (what, mutate) in cases {
        let mut bad = notice();
        mutate(&mut bad);
        assert!(
            matches!(renderer.render(&bad), Err(Error::Invalid { .. })),
            "{what} accepted"
        );
    }
    let mut national = notice();
    national.items[1].grade = None;
    assert_eq!(national.items[1].legal_category, LegalCategory::National);
    assert!(matches!(
        renderer.render(&national),
        Err(Error::NationalWithoutGrade { url }) if url == national.items[1].url
    ));
}
