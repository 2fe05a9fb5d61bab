//! Hand-written SVG charts for the public monitor pages: a removal-time histogram and a
//! monthly trend line. No dependency and no script. Each chart is an `role="img"` with a
//! `<title>` and a `<desc>` that spells out the data, so a screen reader gets the numbers, and
//! every text is XML-escaped (organisation names are not ours to trust).

use std::fmt::Write;

use crate::Lang;
use crate::stats::{RemovalDistribution, TrendPoint};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 56.0;

/// Escapes text for XML element content and attribute values.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab/newline are not allowed in XML 1.0 at all.
            c if c.is_control() && c != '\t' && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// An element id prefix made safe: letters, digits, `-` and `_` only.
fn safe_id(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if cleaned
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
    {
        cleaned
    } else {
        format!("chart-{cleaned}")
    }
}

/// The smallest "nice" step (1, 2 or 5 × 10^k, at least 1) with `4 × step ≥ max`.
fn nice_step(max: u64) -> u64 {
    let mut magnitude = 1u64;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * magnitude;
            if step.saturating_mul(4) >= max {
                return step;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

fn open_svg(out: &mut String, id: &str, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         font-family=\"sans-serif\" font-size=\"12\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape_xml(title),
        escape_xml(desc)
    );
    let _ = write!(
        out,
        "<text x=\"{LEFT}\" y=\"24\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        escape_xml(title)
    );
}

/// Horizontal grid lines and y labels from 0 to `4 × step`; `label` formats a tick value.
fn y_axis(out: &mut String, top_value: f64, label: &dyn Fn(f64) -> String) {
    let plot_height = HEIGHT - TOP - BOTTOM;
    for tick in 0..=4 {
        let value = top_value * f64::from(tick) / 4.0;
        let y = HEIGHT - BOTTOM - plot_height * f64::from(tick) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ccc\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            escape_xml(&label(value))
        );
    }
}

/// Bucket labels of the histogram.
fn bucket_labels(lang: Lang) -> [&'static str; 6] {
    match lang {
        Lang::En => [
            "≤ 1 h",
            "1–12 h",
            "12–24 h",
            "24–48 h",
            "> 48 h",
            "not removed",
        ],
        Lang::Nl => [
            "≤ 1 u",
            "1–12 u",
            "12–24 u",
            "24–48 u",
            "> 48 u",
            "niet verwijderd",
        ],
    }
}

/// A bar chart of removal times after the first notice: ≤ 1 h, 1–12 h, 12–24 h, 24–48 h,
/// more than 48 h and not removed. `subject` names the organisation (or the country); `id` must be
/// unique on the page (it prefixes the title and description ids).
pub fn removal_histogram(
    distribution: &RemovalDistribution,
    subject: &str,
    id: &str,
    lang: Lang,
) -> String {
    let id = safe_id(id);
    let labels = bucket_labels(lang);
    let counts = distribution.buckets();
    let total: u64 = counts.iter().sum();
    let title = match lang {
        Lang::En => format!("Removal time after first notice: {subject}"),
        Lang::Nl => format!("Verwijdertijd na eerste melding: {subject}"),
    };
    let parts: Vec<String> = labels
        .iter()
        .zip(counts)
        .map(|(label, n)| format!("{label}: {n}"))
        .collect();
    let desc = match lang {
        Lang::En => format!(
            "Number of cases per removal time, {total} cases in total. {}.",
            parts.join("; ")
        ),
        Lang::Nl => format!(
            "Aantal zaken per verwijdertijd, {total} zaken in totaal. {}.",
            parts.join("; ")
        ),
    };
    let mut out = String::new();
    open_svg(&mut out, &id, &title, &desc);
    let step = nice_step(counts.iter().copied().max().unwrap_or(0));
    let top_value = (step * 4) as f64;
    y_axis(&mut out, top_value, &|v| format!("{v:.0}"));
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let slot = plot_width / counts.len() as f64;
    for (idx, (label, n)) in labels.iter().zip(counts).enumerate() {
        let bar_height = plot_height * n as f64 / top_value;
        let x = LEFT + slot * idx as f64 + slot * 0.15;
        let y = HEIGHT - BOTTOM - bar_height;
        // The "not removed" bar is drawn in a different colour: it is not a time.
        let fill = if idx == 5 { "#b33" } else { "#2a6f97" };
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bar_height:.1}\" fill=\"{fill}\">\
             <title>{}: {n}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{n}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            slot * 0.7,
            escape_xml(label),
            x + slot * 0.35,
            y - 4.0,
            x + slot * 0.35,
            HEIGHT - BOTTOM + 18.0,
            escape_xml(label)
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" stroke=\"#333\"/></svg>",
        HEIGHT - BOTTOM,
        WIDTH - RIGHT
    );
    out
}

/// A line chart of the share removed within 24 h per month (0–100 %). Months without cases
/// leave a gap in the line. `subject` and `id` as for [`removal_histogram`].
pub fn trend_chart(points: &[TrendPoint], subject: &str, id: &str, lang: Lang) -> String {
    let id = safe_id(id);
    let title = match lang {
        Lang::En => format!("Share removed within 24 hours per month: {subject}"),
        Lang::Nl => format!("Aandeel binnen 24 uur verwijderd per maand: {subject}"),
    };
    let parts: Vec<String> = points
        .iter()
        .map(|p| match (p.removed_within_24h.share, lang) {
            (Some(s), Lang::En) => format!(
                "{}: {:.0}% of {} cases",
                p.month,
                s * 100.0,
                p.removed_within_24h.of
            ),
            (Some(s), Lang::Nl) => format!(
                "{}: {:.0}% van {} zaken",
                p.month,
                s * 100.0,
                p.removed_within_24h.of
            ),
            (None, Lang::En) => format!("{}: no data", p.month),
            (None, Lang::Nl) => format!("{}: geen gegevens", p.month),
        })
        .collect();
    let desc = if parts.is_empty() {
        match lang {
            Lang::En => "No months in the period.".to_string(),
            Lang::Nl => "Geen maanden in de periode.".to_string(),
        }
    } else {
        format!("{}.", parts.join("; "))
    };
    let mut out = String::new();
    open_svg(&mut out, &id, &title, &desc);
    y_axis(&mut out, 100.0, &|v| format!("{v:.0}%"));
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let slot = plot_width / points.len().max(1) as f64;
    let position = |idx: usize, share: f64| {
        (
            LEFT + slot * (idx as f64 + 0.5),
            HEIGHT - BOTTOM - plot_height * share.clamp(0.0, 1.0),
        )
    };
    // Consecutive months with data form one polyline; a month without data breaks it.
    let mut segment: Vec<(f64, f64)> = Vec::new();
    let mut segments: Vec<Vec<(f64, f64)>> = Vec::new();
    for (idx, point) in points.iter().enumerate() {
        match point.removed_within_24h.share {
            Some(share) => segment.push(position(idx, share)),
            None => {
                if !segment.is_empty() {
                    segments.push(std::mem::take(&mut segment));
                }
            }
        }
    }
    if !segment.is_empty() {
        segments.push(segment);
    }
    for segment in segments.iter().filter(|s| s.len() > 1) {
        let coords: Vec<String> = segment
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = write!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#2a6f97\" stroke-width=\"2\"/>",
            coords.join(" ")
        );
    }
    // Label every month when there is room, otherwise about twelve labels.
    let label_every = points.len().div_ceil(12).max(1);
    for ((idx, point), part) in points.iter().enumerate().zip(&parts) {
        if let Some(share) = point.removed_within_24h.share {
            let (x, y) = position(idx, share);
            let _ = write!(
                out,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"#2a6f97\"><title>{}</title></circle>",
                escape_xml(part)
            );
        }
        if idx % label_every == 0 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                LEFT + slot * (idx as f64 + 0.5),
                HEIGHT - BOTTOM + 18.0,
                escape_xml(&point.month)
            );
        }
    }
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" stroke=\"#333\"/></svg>",
        HEIGHT - BOTTOM,
        WIDTH - RIGHT
    );
    out
}
