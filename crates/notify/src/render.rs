//! Rendering the human-readable parts of a notice: subject, plain text and HTML, in nl or en.
//!
//! Templates are [MiniJinja](https://docs.rs/minijinja) strings, compiled at run time, because
//! the admin UI lets each tenant edit its notice templates and preview them before saving; a
//! compile-time engine (askama) would need a rebuild for every wording change. The crate ships
//! default templates for both languages ([`TemplateSet::builtin`]).
//!
//! Safety rules that hold whatever a tenant writes:
//!
//! * HTML templates are auto-escaped, so URLs, names and digests can never inject markup.
//! * Undefined variables are errors (a typo shows up in the preview, not as a blank in a sent
//!   notice), and rendering has a fuel limit.
//! * The rendered HTML is checked ([`check_html`]): no images, scripts, frames, style sheets,
//!   forms, `src`/`background` attributes or CSS `url(…)`, no HTML comments, and the only links
//!   allowed are the notice's response link and `mailto:`. Item URLs appear as text only, so
//!   nothing in a notice loads or links to the material.
//! * The subject is one line and always contains the notice reference (it is prefixed as
//!   `[REF] ` when a template leaves it out).

use chrono::{DateTime, SecondsFormat, Utc};
use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::error::Error;
use crate::model::{Language, LegalCategory, Notice, NoticeItem, StepKind};

/// The three templates of one language.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct NoticeTemplates {
    /// Subject line (rendered without escaping, then folded to one line).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (auto-escaped).
    pub html: String,
}

impl NoticeTemplates {
    /// The default templates shipped with schoon for `language`.
    pub fn builtin(language: Language) -> NoticeTemplates {
        match language {
            Language::Nl => NoticeTemplates {
                subject: include_str!("../templates/nl/subject.txt").to_owned(),
                text: include_str!("../templates/nl/body.txt").to_owned(),
                html: include_str!("../templates/nl/body.html").to_owned(),
            },
            Language::En => NoticeTemplates {
                subject: include_str!("../templates/en/subject.txt").to_owned(),
                text: include_str!("../templates/en/body.txt").to_owned(),
                html: include_str!("../templates/en/body.html").to_owned(),
            },
        }
    }
}

/// A tenant's templates for every language.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct TemplateSet {
    /// Dutch.
    pub nl: NoticeTemplates,
    /// English.
    pub en: NoticeTemplates,
}

impl TemplateSet {
    /// The default templates for all languages.
    pub fn builtin() -> TemplateSet {
        TemplateSet {
            nl: NoticeTemplates::builtin(Language::Nl),
            en: NoticeTemplates::builtin(Language::En),
        }
    }

    /// The templates of one language.
    pub fn get(&self, language: Language) -> &NoticeTemplates {
        match language {
            Language::Nl => &self.nl,
            Language::En => &self.en,
        }
    }
}

/// The human-readable parts of a notice, ready to put into an e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedNotice {
    /// Language used.
    pub language: Language,
    /// One-line subject containing the notice reference.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (checked by [`check_html`]).
    pub html: String,
}

/// Which part of a split notice is rendered (when every URL gets its own e-mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Part {
    /// 1-based number of this part.
    pub index: usize,
    /// Number of parts.
    pub total: usize,
}

/// Compiled templates, reusable for many notices.
pub struct Renderer {
    env: Environment<'static>,
}

/// Upper bound of template work per render (MiniJinja "fuel"): far above what the default
/// templates need for [`crate::MAX_ITEMS`] items, low enough to stop a runaway loop.
const FUEL: u64 = 5_000_000;

impl Renderer {
    /// Compiles all templates of the set; the first syntax error is returned with the template
    /// name (`nl/subject`, `en/body.html`, …) and line.
    pub fn new(templates: &TemplateSet) -> Result<Renderer, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|source| Error::Template {
                name: "syntax".to_owned(),
                source,
            })?;
        env.set_syntax(syntax);
        for language in [Language::Nl, Language::En] {
            let set = templates.get(language);
            for (kind, source) in [
                ("subject", &set.subject),
                ("body.txt", &set.text),
                ("body.html", &set.html),
            ] {
                let name = format!("{}/{kind}", language.code());
                env.add_template_owned(name.clone(), source.clone())
                    .map_err(|source| Error::Template { name, source })?;
            }
        }
        Ok(Renderer { env })
    }

    /// A renderer with the built-in templates.
    pub fn builtin() -> Result<Renderer, Error> {
        Renderer::new(&TemplateSet::builtin())
    }

    /// Renders the notice in its language ([`Notice::language`]).
    pub fn render(&self, notice: &Notice) -> Result<RenderedNotice, Error> {
        self.render_part(notice, None, &|index| format!("xarf-{index}.json"))
    }

    /// Renders the notice; `part` tells templates that this e-mail is one of several, and
    /// `xarf_filename` names the XARF attachment of item `index` (1-based).
    pub(crate) fn render_part(
        &self,
        notice: &Notice,
        part: Option<Part>,
        xarf_filename: &dyn Fn(usize) -> String,
    ) -> Result<RenderedNotice, Error> {
        notice.validate()?;
        let language = notice.language();
        let context = Value::from(Serde(Context::new(notice, part, xarf_filename)));
        let render = |kind: &str| -> Result<String, Error> {
            let name = format!("{}/{kind}", language.code());
            let template = self
                .env
                .get_template(&name)
                .map_err(|source| Error::Template {
                    name: name.clone(),
                    source,
                })?;
            template
                .render(context.clone())
                .map_err(|source| Error::Template { name, source })
        };
        let subject = one_line_subject(&render("subject")?, &notice.reference);
        let text = render("body.txt")?;
        let html = render("body.html")?;
        check_html(
            &format!("{}/body.html", language.code()),
            &html,
            notice.response_link.as_deref(),
        )?;
        Ok(RenderedNotice {
            language,
            subject,
            text,
            html,
        })
    }
}

/// Renders a notice with the given templates in one go (the admin UI's preview).
pub fn preview(templates: &TemplateSet, notice: &Notice) -> Result<RenderedNotice, Error> {
    Renderer::new(templates)?.render(notice)
}

fn one_line_subject(rendered: &str, reference: &str) -> String {
    let folded = rendered.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.contains(reference) {
        folded
    } else if folded.is_empty() {
        format!("[{reference}]")
    } else {
        format!("[{reference}] {folded}")
    }
}

/// What templates see. Times are preformatted in UTC so every template prints them alike.
#[derive(Serialize)]
struct Context<'a> {
    reference: &'a str,
    language: &'static str,
    tenant: TenantContext<'a>,
    recipient: RecipientContext<'a>,
    step: StepContext,
    items: Vec<ItemContext<'a>>,
    hosts: String,
    response_link: Option<&'a str>,
    created_at: String,
    part: Option<Part>,
}

#[derive(Serialize)]
struct TenantContext<'a> {
    name: &'a str,
    email: &'a str,
    website: Option<&'a str>,
}

#[derive(Serialize)]
struct RecipientContext<'a> {
    email: &'a str,
    name: Option<&'a str>,
    organisation: Option<&'a str>,
}

#[derive(Serialize)]
struct StepContext {
    kind: &'static str,
    sequence: u32,
    is_reminder: bool,
    label: &'static str,
}

#[derive(Serialize)]
struct ItemContext<'a> {
    index: usize,
    url: &'a str,
    url_defanged: String,
    host: String,
    first_seen: String,
    last_seen_online: Option<String>,
    legal_category: &'static str,
    legal_label: &'static str,
    grade: Option<&'static str>,
    md5: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
    pdq: Option<String>,
    ip: Option<String>,
    asn: Option<u32>,
    hosting_org: Option<&'a str>,
    xarf_filename: String,
}

impl<'a> Context<'a> {
    fn new(
        notice: &'a Notice,
        part: Option<Part>,
        xarf_filename: &dyn Fn(usize) -> String,
    ) -> Context<'a> {
        let language = notice.language();
        let items: Vec<ItemContext<'a>> = notice
            .items
            .iter()
            .enumerate()
            .map(|(idx, item)| item_context(item, idx + 1, language, xarf_filename))
            .collect();
        let mut hosts: Vec<String> = Vec::new();
        for item in &items {
            if !hosts.contains(&item.host) {
                hosts.push(item.host.clone());
            }
        }
        let hosts = if hosts.len() > 3 {
            format!("{} +{}", hosts[..3].join(", "), hosts.len() - 3)
        } else {
            hosts.join(", ")
        };
        Context {
            reference: &notice.reference,
            language: language.code(),
            tenant: TenantContext {
                name: &notice.tenant.name,
                email: notice
                    .tenant
                    .reply_to
                    .as_deref()
                    .unwrap_or(&notice.tenant.from_address),
                website: notice.tenant.website.as_deref(),
            },
            recipient: RecipientContext {
                email: &notice.recipient.email,
                name: notice.recipient.name.as_deref(),
                organisation: notice.recipient.organisation.as_deref(),
            },
            step: StepContext {
                kind: notice.step.kind.code(),
                sequence: notice.step.sequence,
                is_reminder: notice.step.sequence > 0,
                label: step_label(notice.step.kind, language),
            },
            items,
            hosts,
            response_link: notice.response_link.as_deref(),
            created_at: human_time(notice.created_at),
            part,
        }
    }
}

fn item_context<'a>(
    item: &'a NoticeItem,
    index: usize,
    language: Language,
    xarf_filename: &dyn Fn(usize) -> String,
) -> ItemContext<'a> {
    let host = url::Url::parse(&item.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    let lower = |value: &Option<String>| value.as_ref().map(|v| v.to_ascii_lowercase());
    ItemContext {
        index,
        url: &item.url,
        url_defanged: defang(&item.url),
        host,
        first_seen: human_time(item.first_seen),
        last_seen_online: item.last_seen_online.map(human_time),
        legal_category: match item.legal_category {
            LegalCategory::Baseline => "baseline",
            LegalCategory::National => "national",
        },
        legal_label: legal_label(item.legal_category, language),
        grade: item.grade.map(|grade| grade.code()),
        md5: lower(&item.digests.md5),
        sha1: lower(&item.digests.sha1),
        sha256: lower(&item.digests.sha256),
        pdq: lower(&item.pdq),
        ip: item.ip.map(|ip| ip.to_string()),
        asn: item.asn,
        hosting_org: item.hosting_org.as_deref(),
        xarf_filename: xarf_filename(index),
    }
}

/// `2026-03-01 14:05:09 UTC`: unambiguous for people in any time zone.
fn human_time(time: DateTime<Utc>) -> String {
    let iso = time.to_rfc3339_opts(SecondsFormat::Secs, true);
    format!("{} UTC", iso.trim_end_matches('Z').replacen('T', " ", 1))
}

/// `hxxps://example[.]com/a.jpg`: a URL nobody opens by accident (for templates that want it).
fn defang(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.replacen("http", "hxxp", 1), rest),
        None => (String::new(), url),
    };
    let (host, path) = match rest.find('/') {
        Some(idx) => rest.split_at(idx),
        None => (rest, ""),
    };
    format!("{scheme}://{}{path}", host.replace('.', "[.]"))
}

fn legal_label(category: LegalCategory, language: Language) -> &'static str {
    match (category, language) {
        (LegalCategory::Baseline, Language::Nl) => "baseline (internationaal illegaal)",
        (LegalCategory::Baseline, Language::En) => "baseline (illegal internationally)",
        (LegalCategory::National, Language::Nl) => "illegaal naar nationaal recht",
        (LegalCategory::National, Language::En) => "illegal under national law",
    }
}

fn step_label(kind: StepKind, language: Language) -> &'static str {
    match (kind, language) {
        (StepKind::Hoster, Language::Nl) => "hostingprovider",
        (StepKind::Hoster, Language::En) => "hosting provider",
        (StepKind::SiteOwner, Language::Nl) => "beheerder van de website",
        (StepKind::SiteOwner, Language::En) => "operator of the website",
        (StepKind::Registrar, Language::Nl) => "registrar van het domein",
        (StepKind::Registrar, Language::En) => "registrar of the domain",
        (StepKind::Cdn, Language::Nl) => "CDN of proxy voor de website",
        (StepKind::Cdn, Language::En) => "CDN or proxy in front of the website",
        (StepKind::Police, Language::Nl) => "politie",
        (StepKind::Police, Language::En) => "police",
    }
}

/// Elements whose presence could load something or run code in a mail client.
const FORBIDDEN_ELEMENTS: &[&str] = &[
    "img", "image", "script", "iframe", "frame", "frameset", "object", "embed", "applet", "link",
    "style", "video", "audio", "source", "track", "picture", "svg", "math", "base", "form",
    "input", "button", "textarea", "select", "portal", "bgsound",
];

/// Attributes that load a resource or submit somewhere.
const FORBIDDEN_ATTRIBUTES: &[&str] = &[
    "src",
    "srcset",
    "background",
    "poster",
    "data",
    "action",
    "formaction",
    "lowsrc",
    "dynsrc",
    "codebase",
    "ping",
    "xlink:href",
    "http-equiv",
];

/// Checks rendered HTML against the no-hot-link rules of the module docs.
///
/// Every `<` in the output comes from the template itself (data is escaped), so inspecting tags
/// is enough; the text between tags (URLs, digests) is never misread as markup.
pub fn check_html(name: &str, html: &str, response_link: Option<&str>) -> Result<(), Error> {
    let fail = |reason: String| Error::UnsafeHtml {
        name: name.to_owned(),
        reason,
    };
    let bytes = html.as_bytes();
    let mut pos = 0;
    while let Some(offset) = html[pos..].find('<') {
        let start = pos + offset;
        let rest = &html[start + 1..];
        if rest.starts_with("!--") {
            return Err(fail("HTML comments are not allowed".to_owned()));
        }
        if rest.len() >= 8 && rest[..8].eq_ignore_ascii_case("!doctype") {
            pos = start + 1 + rest.find('>').unwrap_or(rest.len());
            continue;
        }
        let tag = parse_tag(rest).ok_or_else(|| fail(format!("malformed tag at byte {start}")))?;
        let tag_name = tag.name.to_ascii_lowercase();
        if FORBIDDEN_ELEMENTS.contains(&tag_name.as_str()) {
            return Err(fail(format!("<{tag_name}> element")));
        }
        for (attr, value) in &tag.attributes {
            let attr = attr.to_ascii_lowercase();
            let value = unescape(value);
            let lowered = value.to_ascii_lowercase();
            if FORBIDDEN_ATTRIBUTES.contains(&attr.as_str()) || attr.starts_with("on") {
                return Err(fail(format!("attribute {attr} on <{tag_name}>")));
            }
            if attr == "style"
                && (lowered.contains("url(")
                    || lowered.contains("@import")
                    || lowered.contains("expression("))
            {
                return Err(fail(format!("style loading a resource on <{tag_name}>")));
            }
            if attr == "href"
                && !lowered.starts_with("mailto:")
                && response_link.is_none_or(|link| value != link)
            {
                return Err(fail(format!(
                    "link to {value:?}: only the response link and mailto: may be links"
                )));
            }
        }
        pos = start + 1 + tag.len;
        debug_assert!(pos <= bytes.len());
    }
    Ok(())
}

struct Tag<'a> {
    name: &'a str,
    attributes: Vec<(&'a str, &'a str)>,
    /// Bytes from after `<` to after `>`.
    len: usize,
}

/// Parses `name attr="v" attr2='v' attr3=v attr4>` (after the `<`; a leading `/` for end tags).
fn parse_tag(input: &str) -> Option<Tag<'_>> {
    let bytes = input.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'/'));
    let name_start = i;
    while i < bytes.len()
        && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-' || bytes[i] == b':')
    {
        i += 1;
    }
    if i == name_start {
        return None;
    }
    let name = &input[name_start..i];
    let mut attributes = Vec::new();
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        match bytes.get(i) {
            None => return None,
            Some(b'>') => {
                return Some(Tag {
                    name,
                    attributes,
                    len: i + 1,
                });
            }
            Some(_) => {}
        }
        let attr_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !b"=>/".contains(&bytes[i]) {
            i += 1;
        }
        let attr = &input[attr_start..i];
        if attr.is_empty() {
            return None;
        }
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            attributes.push((attr, ""));
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&quote @ (b'"' | b'\'')) => {
                let end = input[i + 1..].find(quote as char)? + i + 1;
                let value = &input[i + 1..end];
                i = end + 1;
                value
            }
            Some(_) => {
                let value_start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                &input[value_start..i]
            }
            None => return None,
        };
        attributes.push((attr, value));
    }
}

/// Undoes the entity escapes MiniJinja's HTML auto-escaping produces (and their common
/// spellings), so attribute values compare equal to the raw link.
fn unescape(value: &str) -> String {
    value
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_is_one_line_and_keeps_the_reference() {
        assert_eq!(
            one_line_subject("  [NL-1] Removal\n request \n", "NL-1"),
            "[NL-1] Removal request"
        );
        assert_eq!(
            one_line_subject("Removal request", "NL-1"),
            "[NL-1] Removal request"
        );
        assert_eq!(one_line_subject(" \n", "NL-1"), "[NL-1]");
    }

    #[test]
    fn defang_breaks_scheme_and_dots_of_the_host_only() {
        assert_eq!(
            defang("https://cdn.example.com/a.b/c.jpg?x=1.2"),
            "hxxps://cdn[.]example[.]com/a.b/c.jpg?x=1.2"
        );
        assert_eq!(defang("http://192.0.2.1"), "hxxp://192[.]0[.]2[.]1");
    }

    #[test]
    fn human_time_is_utc_with_seconds() {
        let time = DateTime::parse_from_rfc3339("2026-03-01T15:05:09+01:00")
            .map(|t| t.with_timezone(&Utc));
        assert_eq!(
            time.map(human_time).ok().as_deref(),
            Some("2026-03-01 14:05:09 UTC")
        );
    }

    #[test]
    fn html_check_allows_plain_markup_and_the_response_link() {
        let link = "https://hotline.example/r/abc?sig=1&x=2";
        let html = "<!DOCTYPE html><html><body style=\"font-family: sans-serif\">\
            <p>See <code>https://evil.example/view.php?src=a.jpg&amp;img=1</code></p>\
            <a href=\"https:&#x2f;&#x2f;hotline.example&#x2f;r&#x2f;abc?sig=1&amp;x=2\">respond</a>\
            <a href='mailto:abuse@hotline.example'>mail</a><br/><td nowrap></td></body></html>";
        assert!(check_html("t", html, Some(link)).is_ok());
    }

    #[test]
    fn html_check_rejects_anything_that_loads_or_links_content() {
        let link = Some("https://hotline.example/r/abc");
        for bad in [
            "<img alt=x>",
            "<IMG SRC=x>",
            "<p style=\"background: URL(https://x.example/a.jpg)\">",
            "<table background=\"https://x.example/a.jpg\">",
            "<a href=\"https://evil.example/a.jpg\">x</a>",
            "<a href=https://evil.example>x</a>",
            "<div onclick=\"x()\">",
            "<link rel=stylesheet href=x>",
            "<style>p{}</style>",
            "<!--[if mso]><img><![endif]-->",
            "<p",
        ] {
            assert!(
                matches!(check_html("t", bad, link), Err(Error::UnsafeHtml { .. })),
                "{bad}"
            );
        }
        // Without a response link no http link is allowed at all.
        assert!(check_html("t", "<a href=\"https://hotline.example/r/abc\">x</a>", None).is_err());
    }
}
