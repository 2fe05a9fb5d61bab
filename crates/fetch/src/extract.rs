//! Finding the media a web page shows or links to, with a streaming HTML parser (lol_html) and
//! a memory cap.
//!
//! What counts as a reference: `img` (`src`, `srcset`, and the lazy-loading attributes
//! `data-src`, `data-srcset`, `data-original`, `data-lazy-src`, `data-lazy-srcset`),
//! `picture > source[srcset]`, `video[src|poster]`, `video > source[src]`, `a[href]` whose path
//! ends in an image or video file extension, `meta` `og:image`/`og:image:url`/
//! `og:image:secure_url`/`og:video…`/`twitter:image`, `link[rel=image_src]`, `url(…)` in
//! `style` attributes and `<style>` elements, and the same inside `<noscript>` (where lazy-loading
//! pages put their real `<img>`). URLs are resolved against the document's base URL (the first
//! `base[href]`, per HTML), kept only when `http`/`https`, stripped of fragments, de-duplicated
//! in document order and capped.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use lol_html::html_content::{Element, TextChunk};
use lol_html::{HtmlRewriter, MemorySettings, Settings, element, text};
use url::Url;

use crate::fetcher::Fetched;
use crate::sniff::{SniffedType, mime_essence};

/// Where on the page a media URL was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefKind {
    /// `img[src]`.
    Img,
    /// A candidate of `img[srcset]`.
    ImgSrcset,
    /// A lazy-loading attribute of `img` (`data-src`, `data-srcset`, `data-original`, …).
    LazyImg,
    /// `picture source[srcset]`.
    PictureSource,
    /// `video[src]`.
    Video,
    /// `video[poster]`.
    VideoPoster,
    /// `video source[src]`.
    VideoSource,
    /// `a[href]` to an image or video file.
    Link,
    /// `meta` `og:image` (and `og:image:url`, `og:image:secure_url`).
    OgImage,
    /// `meta` `og:video` (and `og:video:url`, `og:video:secure_url`).
    OgVideo,
    /// `meta` `twitter:image`.
    TwitterImage,
    /// `link[rel=image_src]`.
    LinkImageSrc,
    /// `url(…)` in a `style` attribute.
    InlineStyle,
    /// `url(…)` in a `<style>` element.
    StyleElement,
    /// The fetched URL is itself an image or video (see [`media_items`]).
    Direct,
}

impl RefKind {
    /// A stable lower-case name, for storage and display.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Img => "img",
            Self::ImgSrcset => "img_srcset",
            Self::LazyImg => "lazy_img",
            Self::PictureSource => "picture_source",
            Self::Video => "video",
            Self::VideoPoster => "video_poster",
            Self::VideoSource => "video_source",
            Self::Link => "link",
            Self::OgImage => "og_image",
            Self::OgVideo => "og_video",
            Self::TwitterImage => "twitter_image",
            Self::LinkImageSrc => "link_image_src",
            Self::InlineStyle => "inline_style",
            Self::StyleElement => "style_element",
            Self::Direct => "direct",
        }
    }
}

/// One media URL found on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    /// Absolute `http(s)` URL without fragment.
    pub url: Url,
    /// Where it was first found.
    pub kind: RefKind,
}

/// Limits for [`extract_media`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractOptions {
    /// At most this many media URLs per page (default 500).
    pub max_items: usize,
    /// Memory the HTML parser may use for its buffers (default 8 MiB); above it extraction stops
    /// and what was found so far is returned with `truncated` set.
    pub max_parser_memory: usize,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            max_items: 500,
            max_parser_memory: 8 * 1024 * 1024,
        }
    }
}

/// The result of an extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The URL relative references were resolved against.
    pub base_url: Url,
    /// Media URLs in document order, de-duplicated.
    pub items: Vec<MediaRef>,
    /// Whether a limit cut the list short.
    pub truncated: bool,
}

/// Image file extensions that make an `a[href]` a media link.
const IMAGE_EXTENSIONS: &[&str] = &[
    "apng", "avif", "bmp", "gif", "heic", "heif", "ico", "jfif", "jpe", "jpeg", "jpg", "jxl",
    "pjp", "pjpeg", "png", "svg", "tif", "tiff", "webp",
];
/// Video file extensions that make an `a[href]` a media link.
const VIDEO_EXTENSIONS: &[&str] = &[
    "3gp", "avi", "flv", "m4v", "mkv", "mov", "mp4", "mpeg", "mpg", "ogv", "webm", "wmv",
];
/// `url(…)` targets in CSS that are certainly not media.
const NON_MEDIA_EXTENSIONS: &[&str] = &["css", "eot", "otf", "ttf", "woff", "woff2"];
/// `meta` property/name values whose `content` is a media URL.
const META_KEYS: &[(&str, RefKind)] = &[
    ("og:image", RefKind::OgImage),
    ("og:image:url", RefKind::OgImage),
    ("og:image:secure_url", RefKind::OgImage),
    ("og:video", RefKind::OgVideo),
    ("og:video:url", RefKind::OgVideo),
    ("og:video:secure_url", RefKind::OgVideo),
    ("twitter:image", RefKind::TwitterImage),
    ("twitter:image:src", RefKind::TwitterImage),
];
/// Input is fed to the parser in pieces of this size.
const PARSE_CHUNK: usize = 16 * 1024;
/// Longest `<style>` / `<noscript>` text we look into.
const MAX_TEXT_BLOCK: usize = 256 * 1024;

/// Raw references collected while parsing, before resolution.
#[derive(Default)]
struct Collector {
    raw: Vec<(String, RefKind)>,
    raw_cap: usize,
    base: Option<String>,
    overflow: bool,
    style_buf: String,
    noscript_buf: String,
}

impl Collector {
    fn push(&mut self, value: &str, kind: RefKind) {
        if self.raw.len() >= self.raw_cap {
            self.overflow = true;
            return;
        }
        self.raw.push((value.to_owned(), kind));
    }
}

type Shared = Rc<RefCell<Collector>>;
type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Finds media URLs in an HTML document fetched from `document_url`.
///
/// The document is assumed to be UTF-8 (or ASCII-compatible); URLs are ASCII in practice, and a
/// wrongly decoded non-ASCII path at worst yields a URL that fails to fetch.
pub fn extract_media(html: &[u8], document_url: &Url, opts: &ExtractOptions) -> Extracted {
    let collector: Shared = Rc::new(RefCell::new(Collector {
        // Raw candidates before de-duplication: a generous multiple of the final cap.
        raw_cap: opts.max_items.saturating_mul(8).max(64),
        ..Collector::default()
    }));
    let mem_ok = collect(html, &collector, opts, true);
    let c = collector.borrow();
    let base_url = c
        .base
        .as_deref()
        .and_then(|b| document_url.join(b.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .unwrap_or_else(|| document_url.clone());

    let mut seen = HashSet::new();
    let mut items = Vec::new();
    let mut truncated = c.overflow || !mem_ok;
    for (raw, kind) in &c.raw {
        let Some(url) = resolve(&base_url, raw) else {
            continue;
        };
        if !seen.insert(url.as_str().to_owned()) {
            continue;
        }
        if items.len() >= opts.max_items {
            truncated = true;
            break;
        }
        items.push(MediaRef { url, kind: *kind });
    }
    if truncated {
        tracing::debug!(items = items.len(), "media extraction truncated");
    }
    Extracted {
        base_url,
        items,
        truncated,
    }
}

/// The media of a fetched resource: itself when its bytes are an image or video, the page's
/// media when it is HTML, nothing otherwise (PDF, JSON, …).
pub fn media_items(fetched: &Fetched, opts: &ExtractOptions) -> Extracted {
    if fetched.sniffed_type.is_media() {
        return Extracted {
            base_url: fetched.final_url.clone(),
            items: vec![MediaRef {
                url: fetched.final_url.clone(),
                kind: RefKind::Direct,
            }],
            truncated: false,
        };
    }
    let declared_html = fetched
        .declared_type
        .as_deref()
        .map(mime_essence)
        .is_some_and(|m| m == "text/html" || m == "application/xhtml+xml");
    let is_html = fetched.sniffed_type == SniffedType::Html
        || (fetched.sniffed_type == SniffedType::Unknown && declared_html);
    if is_html {
        extract_media(&fetched.body, &fetched.final_url, opts)
    } else {
        Extracted {
            base_url: fetched.final_url.clone(),
            items: Vec::new(),
            truncated: false,
        }
    }
}

/// Runs the parser over `html`, collecting raw references. Returns `false` when the memory cap
/// stopped it. `outer` is false for the nested pass over `<noscript>` content.
fn collect(html: &[u8], shared: &Shared, opts: &ExtractOptions, outer: bool) -> bool {
    let c = Rc::clone(shared);
    let img = element!("img", move |el: &mut Element| {
        let mut c = c.borrow_mut();
        for (attr, kind) in [
            ("src", RefKind::Img),
            ("data-src", RefKind::LazyImg),
            ("data-original", RefKind::LazyImg),
            ("data-lazy-src", RefKind::LazyImg),
        ] {
            if let Some(v) = attr_value(el, attr) {
                c.push(&v, kind);
            }
        }
        for (attr, kind) in [
            ("srcset", RefKind::ImgSrcset),
            ("data-srcset", RefKind::LazyImg),
            ("data-lazy-srcset", RefKind::LazyImg),
        ] {
            if let Some(v) = attr_value(el, attr) {
                for u in parse_srcset(&v) {
                    c.push(u, kind);
                }
            }
        }
        HandlerResult::Ok(())
    });
    let c = Rc::clone(shared);
    let picture_source = element!("picture source", move |el: &mut Element| {
        let mut c = c.borrow_mut();
        for attr in ["srcset", "data-srcset"] {
            if let Some(v) = attr_value(el, attr) {
                for u in parse_srcset(&v) {
                    c.push(u, RefKind::PictureSource);
                }
            }
        }
        HandlerResult::Ok(())
    });
    let c = Rc::clone(shared);
    let video = element!("video", move |el: &mut Element| {
        let mut c = c.borrow_mut();
        for (attr, kind) in [
            ("src", RefKind::Video),
            ("data-src", RefKind::Video),
            ("poster", RefKind::VideoPoster),
        ] {
            if let Some(v) = attr_value(el, attr) {
                c.push(&v, kind);
            }
        }
        HandlerResult::Ok(())
    });
    let c = Rc::clone(shared);
    let video_source = element!("video source", move |el: &mut Element| {
        let mut c = c.borrow_mut();
        for attr in ["src", "data-src"] {
            if let Some(v) = attr_value(el, attr) {
                c.push(&v, RefKind::VideoSource);
            }
        }
        HandlerResult::Ok(())
    });
    let c = Rc::clone(shared);
    let anchor = element!("a[href]", move |el: &mut Element| {
        if let Some(v) = attr_value(el, "href")
            && is_media_path(&v)
        {
            c.borrow_mut().push(&v, RefKind::Link);
        }
        HandlerResult::Ok(())
    });
    let c = Rc::clone(shared);
    let meta = element!("meta[content]", move |el: &mut Element| {
        let key = attr_value(el, "property")
            .or_else(|| attr_value(el, "name"))
            .map(|k| k.trim().to_ascii_lowercase());
        if let Some(key) = key
            && let Some(&(_, kind)) = META_KEYS.iter().find(|(k, _)| *k == key)
            && let Some(v) = attr_value(el, "content")
        {
            c.borrow_mut().push(&v, kind);
        }
        HandlerResult::Ok(())
    });
    let c = Rc::clone(shared);
    let link = element!("link[rel][href]", move |el: &mut Element| {
        let rel = attr_value(el, "rel").unwrap_or_default();
        if rel
            .split_ascii_whitespace()
            .any(|t| t.eq_ignore_ascii_case("image_src"))
            && let Some(v) = attr_value(el, "href")
        {
            c.borrow_mut().push(&v, RefKind::LinkImageSrc);
        }
        HandlerResult::Ok(())
    });
    let c = Rc::clone(shared);
    let style_attr = element!("*[style]", move |el: &mut Element| {
        if let Some(css) = attr_value(el, "style") {
            let mut c = c.borrow_mut();
            for u in css_urls(&css) {
                c.push(&u, RefKind::InlineStyle);
            }
        }
        HandlerResult::Ok(())
    });
    let c = Rc::clone(shared);
    let style_text = text!("style", move |t: &mut TextChunk| {
        let mut c = c.borrow_mut();
        if c.style_buf.len() < MAX_TEXT_BLOCK {
            c.style_buf.push_str(t.as_str());
        }
        if t.last_in_text_node() {
            let css = std::mem::take(&mut c.style_buf);
            for u in css_urls(&css) {
                c.push(&u, RefKind::StyleElement);
            }
        }
        HandlerResult::Ok(())
    });
    let c = Rc::clone(shared);
    let base = element!("base[href]", move |el: &mut Element| {
        let mut c = c.borrow_mut();
        if c.base.is_none() {
            c.base = attr_value(el, "href");
        }
        HandlerResult::Ok(())
    });

    let mut settings = Settings::new()
        .with_strict(false)
        .with_memory_settings(
            MemorySettings::new().with_max_allowed_memory_usage(opts.max_parser_memory),
        )
        .append_element_content_handler(img)
        .append_element_content_handler(picture_source)
        .append_element_content_handler(video)
        .append_element_content_handler(video_source)
        .append_element_content_handler(anchor)
        .append_element_content_handler(meta)
        .append_element_content_handler(link)
        .append_element_content_handler(style_attr)
        .append_element_content_handler(style_text)
        .append_element_content_handler(base);
    if outer {
        let c = Rc::clone(shared);
        let opts = *opts;
        let noscript = text!("noscript", move |t: &mut TextChunk| {
            let inner = {
                let mut cb = c.borrow_mut();
                if cb.noscript_buf.len() < MAX_TEXT_BLOCK {
                    cb.noscript_buf.push_str(t.as_str());
                }
                if !t.last_in_text_node() {
                    return HandlerResult::Ok(());
                }
                std::mem::take(&mut cb.noscript_buf)
            };
            if !inner.is_empty() {
                // A nested pass (one level deep) over the markup inside <noscript>.
                let _ = collect(inner.as_bytes(), &c, &opts, false);
            }
            HandlerResult::Ok(())
        });
        settings = settings.append_element_content_handler(noscript);
    }

    let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
    // Fed in chunks, as from the network: the parser then buffers only what spans a chunk
    // boundary (a huge tag), and that buffer is what the memory cap bounds.
    for chunk in html.chunks(PARSE_CHUNK) {
        if let Err(e) = rewriter.write(chunk) {
            tracing::debug!(error = %e, "HTML parsing stopped");
            return false;
        }
    }
    match rewriter.end() {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e, "HTML parsing stopped");
            false
        }
    }
}

/// An attribute value with HTML character references decoded (lol_html returns them raw).
fn attr_value(el: &Element, name: &str) -> Option<String> {
    el.get_attribute(name).map(|v| decode_entities(&v))
}

/// Decodes the character references that occur in URLs: numeric ones and a few named ones
/// (`&amp;` above all). Unknown references are left as they are.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    const NAMED: &[(&str, char)] = &[
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
        ("nbsp", '\u{a0}'),
        ("sol", '/'),
        ("colon", ':'),
        ("period", '.'),
        ("comma", ','),
        ("equals", '='),
        ("quest", '?'),
        ("num", '#'),
        ("percnt", '%'),
        ("lpar", '('),
        ("rpar", ')'),
        ("semi", ';'),
        ("excl", '!'),
        ("plus", '+'),
        ("lowbar", '_'),
        ("hyphen", '-'),
        ("tab", '\t'),
        ("newline", '\n'),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let name_len = after
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '#')
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let has_semi = after[name_len..].starts_with(';');
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            code.map(|c| char::from_u32(c).unwrap_or('\u{fffd}'))
        } else if has_semi {
            NAMED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
        } else if matches!(name, "amp" | "lt" | "gt" | "quot") {
            // Legacy: these four also work without the semicolon.
            NAMED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
        } else {
            None
        };
        match decoded {
            Some(c) if !name.is_empty() => {
                out.push(c);
                let consumed = name_len + usize::from(has_semi);
                rest = &after[consumed..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Resolves one raw reference; `None` when it is not an `http(s)` URL.
fn resolve(base: &Url, raw: &str) -> Option<Url> {
    let t = raw.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        return None;
    }
    let mut url = base.join(t).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    url.set_fragment(None);
    Some(url)
}

/// The lower-case extension of the last path segment of a (possibly relative) URL string.
fn extension(raw: &str) -> Option<String> {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let path = &raw[..end];
    let last = path.rsplit('/').next()?;
    let (_, ext) = last.rsplit_once('.')?;
    Some(ext.trim().to_ascii_lowercase())
}

/// Whether a link points to an image or video file, judged by its extension.
fn is_media_path(raw: &str) -> bool {
    extension(raw).is_some_and(|e| {
        IMAGE_EXTENSIONS.contains(&e.as_str()) || VIDEO_EXTENSIONS.contains(&e.as_str())
    })
}

/// The URLs of a `srcset` value (WHATWG "parse a srcset attribute", descriptors skipped).
fn parse_srcset(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut url = &s[start..i];
        if url.ends_with(',') {
            url = url.trim_end_matches(',');
            if !url.is_empty() {
                out.push(url);
            }
            continue;
        }
        out.push(url);
        // Skip the descriptors up to the next comma outside parentheses.
        let mut depth = 0usize;
        while i < b.len() {
            match b[i] {
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                b',' if depth == 0 => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
    out
}

/// The targets of `url(…)` in CSS text, except fonts and style sheets.
fn css_urls(css: &str) -> Vec<String> {
    let b = css.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= b.len() {
        if !b[i..i + 4].eq_ignore_ascii_case(b"url(") {
            i += 1;
            continue;
        }
        // "url(" must not be the tail of a longer identifier (e.g. "myurl(").
        if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-' || b[i - 1] == b'_') {
            i += 4;
            continue;
        }
        i += 4;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
            let quote = b[i];
            i += 1;
            let start = i;
            while i < b.len() && b[i] != quote {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            let end = i.min(b.len());
            value.push_str(&css[start..end]);
            i = end + 1;
        } else {
            let start = i;
            while i < b.len() && b[i] != b')' {
                i += 1;
            }
            value.push_str(css[start..i].trim());
        }
        let value = value.replace('\\', "");
        if value.is_empty()
            || extension(&value).is_some_and(|e| NON_MEDIA_EXTENSIONS.contains(&e.as_str()))
        {
            continue;
        }
        out.push(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srcset_parsing() {
        assert_eq!(
            parse_srcset("a.jpg 1x, b.jpg 2x,c.jpg"),
            vec!["a.jpg", "b.jpg", "c.jpg"]
        );
        assert_eq!(
            parse_srcset("  small.png 480w,\n large.png 1080w  "),
            vec!["small.png", "large.png"]
        );
        // Per WHATWG a comma inside a run of non-whitespace belongs to the URL.
        assert_eq!(parse_srcset("a.jpg,b.jpg"), vec!["a.jpg,b.jpg"]);
        assert_eq!(parse_srcset("a.jpg, b.jpg"), vec!["a.jpg", "b.jpg"]);
        assert_eq!(
            parse_srcset("img.jpg?x=1,2 1x, other.jpg (weird, desc) 2x, last.jpg"),
            vec!["img.jpg?x=1,2", "other.jpg", "last.jpg"]
        );
        assert!(parse_srcset(" , ").is_empty());
    }

    #[test]
    fn css_url_parsing() {
        assert_eq!(
            css_urls("background: URL( 'a b.jpg' ) no-repeat; background-image:url(\"c.png\")"),
            vec!["a b.jpg", "c.png"]
        );
        assert_eq!(css_urls("background:url(x.gif)"), vec!["x.gif"]);
        assert_eq!(
            css_urls("@font-face{src:url(f.woff2)} .a{background:url(/i/y.webp)}"),
            vec!["/i/y.webp"]
        );
        assert!(css_urls("myurl(a.jpg); url()").is_empty());
        assert!(css_urls("url('unterminated").len() <= 1);
    }

    #[test]
    fn entities_in_attributes() {
        assert_eq!(decode_entities("a.jpg?x=1&amp;y=2"), "a.jpg?x=1&y=2");
        assert_eq!(decode_entities("a.jpg?x=1&amp y"), "a.jpg?x=1& y");
        assert_eq!(decode_entities("&quot;bg.gif&quot;"), "\"bg.gif\"");
        assert_eq!(decode_entities("&#47;p&#x2F;q"), "/p/q");
        assert_eq!(decode_entities("a&b=c&unknown;&"), "a&b=c&unknown;&");
        assert_eq!(decode_entities("&#xZZ;"), "&#xZZ;");
    }

    fn urls(html: &str, doc: &str) -> Vec<(String, RefKind)> {
        let doc: Url = doc.parse().expect("doc url");
        extract_media(html.as_bytes(), &doc, &ExtractOptions::default())
            .items
            .into_iter()
            .map(|m| (m.url.to_string(), m.kind))
            .collect()
    }

    #[test]
    fn base_href_rules() {
        // The first base[href] wins, relative to the document, and applies to earlier elements too.
        let got = urls(
            r#"<img src="a.jpg"><base href="/x/"><base href="/y/"><img src="b.jpg">"#,
            "http://site.test/dir/page.html",
        );
        assert_eq!(
            got,
            vec![
                ("http://site.test/x/a.jpg".to_owned(), RefKind::Img),
                ("http://site.test/x/b.jpg".to_owned(), RefKind::Img),
            ]
        );
        // A base that is not http(s) is ignored.
        let got = urls(
            r#"<base href="javascript:alert(1)"><img src="a.jpg">"#,
            "https://site.test/dir/",
        );
        assert_eq!(got[0].0, "https://site.test/dir/a.jpg");
    }

    #[test]
    fn messy_markup() {
        let got = urls(
            "<IMG SRC=/up.JPG><img src='//cdn.test/p.png?a=1&amp;b=2'>\
             <img src=\"  spaced.gif \n\"><img src=\"mailto:x@y\"><img src=\"about:blank\">\
             <img src=\"http://[::1\"><img src=\"up.JPG\"><img src=\"/up.JPG#again\">",
            "https://site.test/",
        );
        assert_eq!(
            got,
            vec![
                ("https://site.test/up.JPG".to_owned(), RefKind::Img),
                ("https://cdn.test/p.png?a=1&b=2".to_owned(), RefKind::Img),
                ("https://site.test/spaced.gif".to_owned(), RefKind::Img),
            ]
        );
    }

    #[test]
    fn memory_cap_truncates_but_keeps_what_was_found() {
        // One enormous start tag after a normal image: the parser must buffer it whole.
        let mut html = String::from(r#"<img src="first.jpg"><img alt=""#);
        html.push_str(&"x".repeat(4 * 1024 * 1024));
        html.push_str(r#"" src="never.jpg"><img src="after.jpg">"#);
        let doc: Url = "http://site.test/".parse().expect("url");
        let got = extract_media(
            html.as_bytes(),
            &doc,
            &ExtractOptions {
                max_parser_memory: 256 * 1024,
                ..ExtractOptions::default()
            },
        );
        assert!(got.truncated);
        assert_eq!(got.items.len(), 1);
        assert_eq!(got.items[0].url.as_str(), "http://site.test/first.jpg");
        // With the default cap the same page parses fully.
        let full = extract_media(html.as_bytes(), &doc, &ExtractOptions::default());
        assert!(!full.truncated);
        assert_eq!(full.items.len(), 3);
    }

    #[test]
    fn raw_candidate_cap_bounds_memory_on_hostile_pages() {
        let html = "<img src=\"same.jpg\">".repeat(10_000);
        let doc: Url = "http://site.test/".parse().expect("url");
        let got = extract_media(
            html.as_bytes(),
            &doc,
            &ExtractOptions {
                max_items: 10,
                ..ExtractOptions::default()
            },
        );
        // 10 000 references to one URL: one item, flagged as truncated (we stopped looking).
        assert_eq!(got.items.len(), 1);
        assert!(got.truncated);
    }

    #[test]
    fn media_extensions() {
        assert!(is_media_path("/a/b/photo.JPG"));
        assert!(is_media_path("clip.mp4?dl=1#t=3"));
        assert!(!is_media_path("/page.html"));
        assert!(!is_media_path("/dir.jpg/"));
        assert!(!is_media_path("https://example.com/"));
    }
}
