//! Sample notices shared by the tests. All addresses and hosts are reserved test names and
//! documentation IP ranges; the digests are of nothing in particular.

use chrono::{DateTime, TimeZone, Utc};
use schoon_notify::{
    CsamGrade, Detection, Digests, Language, LegalCategory, MediaKind, Notice, NoticeItem,
    Recipient, Step, StepKind, Tenant,
};

pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("valid test time")
}

pub fn tenant() -> Tenant {
    Tenant {
        name: "Meldpunt Voorbeeld".to_owned(),
        domain: "meldpunt.example".to_owned(),
        from_address: "notices@meldpunt.example".to_owned(),
        reply_to: Some("analisten@meldpunt.example".to_owned()),
        bounce_address: "bounces@meldpunt.example".to_owned(),
        contact_address: "abuse-reports@meldpunt.example".to_owned(),
        website: Some("https://meldpunt.example".to_owned()),
        language: Language::Nl,
    }
}

/// A baseline image with every digest, found by hash match.
pub fn item_full() -> NoticeItem {
    NoticeItem {
        url: "https://img.hoster.test/u/abc123.jpg".to_owned(),
        first_seen: at(2026, 3, 1, 14, 5, 9),
        last_seen_online: Some(at(2026, 3, 2, 8, 0, 0)),
        digests: Digests {
            md5: Some("0123456789ABCDEF0123456789ABCDEF".to_owned()),
            sha1: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
            sha256: Some(
                "a3f1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90".to_owned(),
            ),
        },
        pdq: Some("f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22".to_owned()),
        legal_category: LegalCategory::Baseline,
        grade: Some(CsamGrade::A1),
        detection: Detection::HashMatch,
        media: Some(MediaKind::Image),
        ip: Some("192.0.2.10".parse().expect("ip")),
        asn: Some(64500),
        hosting_org: Some("Example Hosting <b>B.V.</b> & Co".to_owned()),
    }
}

/// A national-only video on a non-default port, classified by an analyst, IPv6.
pub fn item_national() -> NoticeItem {
    NoticeItem {
        url: "http://files.hoster.test:8080/view.php?id=42&src=x.mp4".to_owned(),
        first_seen: at(2026, 2, 28, 23, 59, 59),
        last_seen_online: None,
        digests: Digests {
            md5: None,
            sha1: None,
            sha256: Some(
                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".to_owned(),
            ),
        },
        pdq: None,
        legal_category: LegalCategory::National,
        grade: Some(CsamGrade::B2),
        detection: Detection::ManualReview,
        media: Some(MediaKind::Video),
        ip: Some("2001:db8::5".parse().expect("ip")),
        asn: None,
        hosting_org: None,
    }
}

/// A URL on a bare IP address with only a SHA-1 and no attribution.
pub fn item_ip_host() -> NoticeItem {
    NoticeItem {
        url: "https://203.0.113.7/a/b.png".to_owned(),
        first_seen: at(2026, 3, 1, 0, 0, 0),
        last_seen_online: None,
        digests: Digests {
            md5: None,
            sha1: Some("fedcba9876543210fedcba9876543210fedcba98".to_owned()),
            sha256: None,
        },
        pdq: None,
        legal_category: LegalCategory::Baseline,
        grade: None,
        detection: Detection::ManualReview,
        media: None,
        ip: None,
        asn: None,
        hosting_org: None,
    }
}

pub fn notice() -> Notice {
    Notice {
        tenant: tenant(),
        reference: "NL-2026-000123".to_owned(),
        step: Step {
            kind: StepKind::Hoster,
            sequence: 0,
        },
        recipient: Recipient {
            email: "abuse@hoster.test".to_owned(),
            name: None,
            organisation: Some("Hoster Test B.V.".to_owned()),
            language: None,
        },
        items: vec![item_full(), item_national(), item_ip_host()],
        response_link: Some("https://meldpunt.example/r/NL-2026-000123?sig=abc&exp=1".to_owned()),
        created_at: at(2026, 3, 2, 9, 30, 0),
    }
}

pub fn notice_en() -> Notice {
    let mut notice = notice();
    notice.recipient.language = Some(Language::En);
    notice.recipient.name = Some("Abuse Desk".to_owned());
    notice
}

/// What MiniJinja's HTML auto-escaping makes of `text`.
pub fn html_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}
