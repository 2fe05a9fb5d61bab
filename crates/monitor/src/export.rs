//! CSV and JSON exports of a [`MonitorReport`]. Both carry the method version, the period and
//! the report time, so a downloaded file says which definitions its numbers follow.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::stats::{MonitorReport, OrgStats, Share};

/// The CSV header of [`report_csv`].
pub const CSV_HEADER: &str = "method_version,period_from,period_to,as_of,scope,org,asn,\
notices,share_of_national_notices,cases,urls,share_of_national_urls,\
removed,removed_before_notice,not_removed,online_at_period_end,\
removal_p50_hours,removal_p90_hours,removal_p99_hours,\
removed_within_1h_share,removed_within_12h_share,removed_within_24h_share,removed_within_48h_share,\
non_response_count,non_response_share,repeat_offences,reoccurred,repeat_of_earlier,hoster_changed,\
hits,hits_acknowledged_in_deadline_share,hits_verified_share,hits_overdue,\
ipv4_slash24s,ipv6_slash48s,urls_per_slash24,notices_per_slash24,online_at_end_per_slash24";

/// One CSV text field: RFC 4180 quoting, and a leading formula character neutralised so a
/// spreadsheet never evaluates an organisation name.
pub fn csv_field(value: &str) -> String {
    let guarded = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_string(),
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Shares with four decimals, empty when undefined.
fn fraction(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_default()
}

/// Seconds as hours with two decimals, empty when undefined.
fn hours(v: Option<i64>) -> String {
    v.map(|s| format!("{:.2}", s as f64 / 3_600.0))
        .unwrap_or_default()
}

fn row(report: &MonitorReport, stats: &OrgStats) -> String {
    let share = |s: &Share| fraction(s.share);
    let norm = stats.normalised;
    let fields = [
        csv_field(&report.method_version),
        time(report.period.from()),
        time(report.period.to()),
        time(report.as_of),
        if stats.org.is_some() {
            "organisation"
        } else {
            "national"
        }
        .to_string(),
        stats
            .org
            .as_ref()
            .map(|o| csv_field(&o.name))
            .unwrap_or_default(),
        stats
            .org
            .as_ref()
            .and_then(|o| o.asn)
            .map(|a| a.to_string())
            .unwrap_or_default(),
        stats.notices.to_string(),
        fraction(stats.share_of_national_notices),
        stats.cases.to_string(),
        stats.urls.to_string(),
        fraction(stats.share_of_national_urls),
        stats.removed.to_string(),
        stats.removed_before_notice.to_string(),
        stats.not_removed.to_string(),
        stats.online_at_period_end.to_string(),
        hours(stats.removal_p50_seconds),
        hours(stats.removal_p90_seconds),
        hours(stats.removal_p99_seconds),
        share(&stats.removed_within[0]),
        share(&stats.removed_within[1]),
        share(&stats.removed_within[2]),
        share(&stats.removed_within[3]),
        stats.non_response.count.to_string(),
        share(&stats.non_response),
        stats.repeat_offences.to_string(),
        stats.reoccurred.to_string(),
        stats.repeat_of_earlier.to_string(),
        stats.hoster_changed.to_string(),
        stats.hits.hits.to_string(),
        share(&stats.hits.acknowledged_in_deadline),
        share(&stats.hits.verified),
        stats.hits.overdue.to_string(),
        norm.map(|n| format!("{:.2}", n.ipv4_slash24s))
            .unwrap_or_default(),
        norm.map(|n| n.ipv6_slash48s.to_string())
            .unwrap_or_default(),
        fraction(norm.map(|n| n.urls_per_slash24)),
        fraction(norm.map(|n| n.notices_per_slash24)),
        fraction(norm.map(|n| n.online_at_end_per_slash24)),
    ];
    fields.join(",")
}

/// The report as CSV: the header, the national row, then one row per organisation; `\n` line
/// ends; empty cells where a figure is undefined.
pub fn report_csv(report: &MonitorReport) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for stats in std::iter::once(&report.national).chain(&report.rows) {
        out.push_str(&row(report, stats));
        out.push('\n');
    }
    out
}

/// The report as pretty-printed JSON (the serde form of [`MonitorReport`]).
pub fn report_json(report: &MonitorReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}
