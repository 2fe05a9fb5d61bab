//! Statistics on synthetic timelines with answers worked out by hand (see the comments next
//! to each case), plus percentile, ranking, export and SVG checks; `props` holds the
//! property tests over random timelines.

mod props;

use chrono::{DateTime, Duration, TimeZone, Utc};
use schoon_monitor::export::{CSV_HEADER, report_csv, report_json};
use schoon_monitor::svg::{escape_xml, removal_histogram, trend_chart};
use schoon_monitor::*;

/// 2026-01-01T00:00Z plus `hours`.
fn h(hours: f64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds((hours * 3600.0) as i64)
}

fn org_a() -> OrgKey {
    OrgKey::new("Alpha Hosting", Some(64500))
}
fn org_b() -> OrgKey {
    OrgKey::new("Bravo Cloud", Some(64501))
}
fn org_c() -> OrgKey {
    OrgKey::new("Charlie Data", None)
}

/// A case hosted by `org` from long before the period, notified once at `notice` (hours).
fn case(id: i64, site: &str, org: &OrgKey, notice: Option<f64>) -> CaseTimeline {
    CaseTimeline {
        case_id: id,
        url: format!("http://{site}/{id}.jpg"),
        site: site.to_string(),
        digest: None,
        hosters: vec![HosterSpell {
            org: org.clone(),
            from: h(-1000.0),
            to: None,
        }],
        reported_at: notice.map_or(h(300.0), |n| h(n - 0.5)),
        notices: notice
            .map(|n| {
                vec![NoticeRecord {
                    at: h(n),
                    recipient: org.clone(),
                    step: NoticeStep::Notice,
                }]
            })
            .unwrap_or_default(),
        responded_at: None,
        removal: None,
        reoccurred_at: vec![],
    }
}

fn removed(mut c: CaseTimeline, offline: f64, verified: f64) -> CaseTimeline {
    c.removal = Some(Removal {
        offline_at: h(offline),
        verified_at: h(verified),
    });
    c
}

fn january() -> Period {
    Period::month(2026, 1).unwrap()
}

/// 2026-02-15T00:00Z.
fn as_of() -> DateTime<Utc> {
    h(1080.0)
}

fn scenario() -> MonitorInput {
    let a = org_a();
    let b = org_b();
    let mut cases = vec![
        // A1: 0.5 h, responded.
        {
            let mut c = removed(case(1, "one.example", &a, Some(1.0)), 1.5, 2.0);
            c.responded_at = Some(h(1.2));
            c
        },
        // A2: 10 h.
        removed(case(2, "two.example", &a, Some(10.0)), 20.0, 21.0),
        // A3: 30 h.
        removed(case(3, "three.example", &a, Some(100.0)), 130.0, 131.0),
        // A4: 100 h, no response in 48 h -> non-response.
        removed(case(4, "four.example", &a, Some(200.0)), 300.0, 301.0),
        // A5: never removed (censored), no response -> non-response, online at end.
        case(5, "five.example", &a, Some(400.0)),
        // A6: already offline before the first notice -> time 0.
        removed(case(6, "six.example", &a, Some(451.0)), 450.0, 452.0),
        // A7: moved to B after the notice, removed at B 20 h after the notice: counts for A.
        {
            let mut c = removed(case(7, "seven.example", &a, Some(500.0)), 520.0, 521.0);
            c.hosters[0].to = Some(h(510.0));
            c.hosters.push(HosterSpell {
                org: b.clone(),
                from: h(510.0),
                to: None,
            });
            c.notices.push(NoticeRecord {
                at: h(515.0),
                recipient: b.clone(),
                step: NoticeStep::Notice,
            });
            c
        },
        // A8: same site as A1, which was verified removed at 2 h -> repeat; 1 h.
        removed(case(8, "one.example", &a, Some(600.0)), 601.0, 602.0),
        // A9: 0.5 h, but the URL came back at 700 h -> re-occurred, online at end.
        {
            let mut c = removed(case(9, "nine.example", &a, Some(650.0)), 650.5, 651.0);
            c.reoccurred_at = vec![h(700.0)];
            c
        },
        // A10: first notice in December: not in January, but its January reminder counts.
        {
            let mut c = removed(case(10, "ten.example", &a, Some(-100.0)), 100.0, 101.0);
            c.notices.push(NoticeRecord {
                at: h(24.0),
                recipient: a.clone(),
                step: NoticeStep::Reminder,
            });
            c
        },
        // B11: 10 h; digest d1.
        {
            let mut c = removed(case(11, "eleven.example", &b, Some(50.0)), 60.0, 61.0);
            c.digest = Some("d1".repeat(32));
            c
        },
        // B12: reported in January, never notified -> excluded (no notice).
        case(12, "twelve.example", &b, None),
        // B13: notified in January, but no hoster known then -> excluded (no hoster).
        {
            let mut c = case(13, "thirteen.example", &b, Some(60.0));
            c.hosters[0].from = h(100.0);
            c
        },
        // B14: notified 740 h (31 Jan), removed 800 h (2 Feb): 60 h, online at period end,
        // no response within 48 h -> non-response.
        removed(case(14, "fourteen.example", &b, Some(740.0)), 800.0, 801.0),
        // B15: other site, same digest as B11 (verified at 61 h) -> repeat; 0.5 h.
        {
            let mut c = removed(case(15, "fifteen.example", &b, Some(300.0)), 300.5, 301.0);
            c.digest = Some("D1".repeat(32));
            c
        },
    ];
    // A removal verified after the report time is not known yet.
    cases.push(removed(
        case(16, "sixteen.example", &org_c(), Some(-50.0)),
        1100.0,
        1101.0,
    ));
    let hit = |id, org: &OrgKey, created: f64, ack: Option<f64>, verified: Option<f64>| HitRecord {
        hit_id: id,
        org: org.clone(),
        created_at: h(created),
        deadline_at: h(created + 24.0),
        acknowledged_at: ack.map(h),
        verified_at: verified.map(h),
        overdue_at: None,
    };
    let mut hits = vec![
        hit(1, &a, 5.0, Some(10.0), Some(30.0)),
        hit(2, &a, 20.0, Some(50.0), None),
        hit(3, &a, 1079.0, None, None),
        hit(4, &a, 740.0, None, None),
        hit(5, &org_c(), 100.0, Some(110.0), None),
    ];
    hits[1].overdue_at = Some(h(44.0));
    hits[3].overdue_at = Some(h(764.0));
    MonitorInput {
        cases,
        hits,
        space: vec![
            AnnouncedSpace {
                org: a.clone(),
                ipv4_addresses: 512,
                ipv6_slash48s: 65_536,
            },
            AnnouncedSpace {
                org: org_c(),
                ipv4_addresses: 0,
                ipv6_slash48s: 1,
            },
        ],
    }
}

fn report() -> MonitorReport {
    compute_report(&scenario(), &january(), as_of(), &MonitorConfig::STANDARD)
}

fn row<'a>(report: &'a MonitorReport, org: &OrgKey) -> &'a OrgStats {
    report
        .rows
        .iter()
        .find(|r| r.org.as_ref() == Some(org))
        .unwrap()
}

fn share(count: u64, of: u64) -> Share {
    Share::new(count, of)
}

#[test]
fn organisation_a_known_answers() {
    let report = report();
    let a = row(&report, &org_a());
    assert_eq!(a.cases, 9);
    assert_eq!(a.urls, 9);
    // 9 first notices + the reminder of A10.
    assert_eq!(a.notices, 10);
    assert_eq!(a.share_of_national_notices, Some(10.0 / 15.0));
    assert_eq!(a.share_of_national_urls, Some(0.75));
    assert_eq!(a.removed, 8);
    assert_eq!(a.removed_before_notice, 1);
    assert_eq!(a.not_removed, 1);
    // Sorted removed times: 0, 1800, 1800, 3600, 36000, 72000, 108000, 360000.
    assert_eq!(a.removal_p50_seconds, Some(3_600));
    assert_eq!(a.removal_p90_seconds, Some(360_000));
    assert_eq!(a.removal_p99_seconds, Some(360_000));
    assert_eq!(
        a.removed_within,
        [share(4, 9), share(5, 9), share(6, 9), share(7, 9)]
    );
    assert_eq!(
        a.distribution,
        RemovalDistribution {
            within_1h: 4,
            h1_to_12: 1,
            h12_to_24: 1,
            h24_to_48: 1,
            over_48h: 1,
            never: 1,
        }
    );
    // A5 (never removed) and A9 (came back before the end).
    assert_eq!(a.online_at_period_end, 2);
    // A4 and A5.
    assert_eq!(a.non_response, share(2, 9));
    assert_eq!(a.repeat_offences, 2);
    assert_eq!(a.reoccurred, 1);
    assert_eq!(a.repeat_of_earlier, 1);
    assert_eq!(a.hoster_changed, 1);
    // Hits 1, 2 and 4 (3 is after the period): only hit 1 acknowledged in time.
    assert_eq!(a.hits.hits, 3);
    assert_eq!(a.hits.acknowledged_in_deadline, share(1, 3));
    assert_eq!(a.hits.verified, share(1, 3));
    assert_eq!(a.hits.overdue, 2);
    let n = a.normalised.unwrap();
    assert_eq!(n.ipv4_slash24s, 2.0);
    assert_eq!(n.ipv6_slash48s, 65_536);
    assert_eq!(n.urls_per_slash24, 4.5);
    assert_eq!(n.notices_per_slash24, 5.0);
    assert_eq!(n.online_at_end_per_slash24, 1.0);
}

#[test]
fn organisation_b_national_row_and_exclusions() {
    let report = report();
    let b = row(&report, &org_b());
    // B13's notice counts for B although the case could not be attributed.
    assert_eq!((b.cases, b.urls, b.notices), (3, 3, 5));
    assert_eq!(b.share_of_national_urls, Some(0.25));
    assert_eq!(b.removal_p50_seconds, Some(36_000));
    assert_eq!(b.removal_p90_seconds, Some(216_000));
    assert_eq!(
        b.removed_within,
        [share(1, 3), share(2, 3), share(2, 3), share(2, 3)]
    );
    // B14 was removed after the period ended.
    assert_eq!(b.online_at_period_end, 1);
    assert_eq!(b.non_response, share(1, 3));
    // B15 repeats B11's digest (compared case-insensitively).
    assert_eq!((b.repeat_offences, b.repeat_of_earlier), (1, 1));
    // A7's move to B does not make it B's case.
    assert_eq!(b.hoster_changed, 0);
    assert_eq!(b.normalised, None);

    // C has only a hit in January (its case was notified in December).
    let c = row(&report, &org_c());
    assert_eq!((c.cases, c.hits.hits), (0, 1));
    assert_eq!(c.hits.acknowledged_in_deadline, share(1, 1));
    assert_eq!(c.removal_p50_seconds, None);
    // No IPv4 space: no normalised figures rather than a division by zero.
    assert_eq!(c.normalised, None);
    let names: Vec<_> = report
        .rows
        .iter()
        .map(|r| r.org.clone().unwrap().name)
        .collect();
    assert_eq!(names, ["Alpha Hosting", "Bravo Cloud", "Charlie Data"]);

    let national = &report.national;
    assert_eq!(national.org, None);
    assert_eq!(
        (national.cases, national.urls, national.notices),
        (12, 12, 15)
    );
    assert_eq!(national.removed, 11);
    assert_eq!(national.removed_within[2], share(8, 12));
    assert_eq!(national.hits.hits, 4);
    assert_eq!(report.excluded.no_notice, 1);
    assert_eq!(report.excluded.no_hoster, 1);
    assert_eq!(report.method_version, METHOD_VERSION);
}

#[test]
fn national_counts_are_the_sum_of_the_rows() {
    let report = report();
    let sum = |f: &dyn Fn(&OrgStats) -> u64| report.rows.iter().map(f).sum::<u64>();
    let n = &report.national;
    assert_eq!(n.cases, sum(&|r| r.cases));
    assert_eq!(n.notices, sum(&|r| r.notices));
    assert_eq!(n.removed, sum(&|r| r.removed));
    assert_eq!(n.not_removed, sum(&|r| r.not_removed));
    assert_eq!(n.online_at_period_end, sum(&|r| r.online_at_period_end));
    assert_eq!(n.repeat_offences, sum(&|r| r.repeat_offences));
    for idx in 0..4 {
        assert_eq!(
            n.removed_within[idx].count,
            sum(&|r| r.removed_within[idx].count)
        );
        assert_eq!(n.removed_within[idx].of, sum(&|r| r.removed_within[idx].of));
    }
    assert_eq!(
        n.distribution.buckets().iter().sum::<u64>(),
        n.cases,
        "every case is in exactly one bucket"
    );
}

#[test]
fn repeats_look_at_the_earliest_other_removal_of_the_same_organisation() {
    let a = org_a();
    let b = org_b();
    let cases = vec![
        // X: notified at 100 h; Y (same site) was verified removed at 3 h -> repeat.
        removed(case(1, "same.example", &a, Some(100.0)), 105.0, 110.0),
        // Y: the earliest; X's removal (110 h) is later than Y's notice -> not a repeat.
        removed(case(2, "same.example", &a, Some(1.0)), 2.0, 3.0),
        // Z: notified at 50 h -> repeat of Y (3 h), not of X (110 h); never removed itself.
        case(3, "same.example", &a, Some(50.0)),
        // W: same site at another organisation -> not a repeat there.
        case(4, "same.example", &b, Some(200.0)),
        // V: same organisation, notified at 2.5 h, before Y's removal was verified (3 h).
        case(5, "same.example", &a, Some(2.5)),
    ];
    let (assessed, _) = assess_cases(&cases, &january(), as_of(), &MonitorConfig::STANDARD);
    let repeat: Vec<(i64, bool)> = assessed
        .iter()
        .map(|c| (c.case_id, c.repeat_of_earlier))
        .collect();
    assert_eq!(
        repeat,
        [(1, true), (2, false), (3, true), (4, false), (5, false)]
    );
}

#[test]
fn per_case_assessment_edge_cases() {
    let (assessed, _) = assess_cases(
        &scenario().cases,
        &january(),
        as_of(),
        &MonitorConfig::STANDARD,
    );
    let get = |id| assessed.iter().find(|a| a.case_id == id).unwrap();
    // Removed before the notice: time 0, flagged.
    assert_eq!(get(6).removal_seconds, Some(0));
    assert!(get(6).removed_before_notice);
    assert!(!get(6).online_at_period_end);
    // Never removed: censored.
    assert_eq!(get(5).removal_seconds, None);
    assert!(get(5).online_at_period_end);
    assert_eq!(get(5).non_response, Some(true));
    // Hoster changed mid-case: attributed to the hoster at the first notice, flagged.
    assert_eq!(get(7).org, org_a());
    assert!(get(7).hoster_changed);
    assert_eq!(get(7).removal_seconds, Some(72_000));
    // Repeats.
    assert!(get(8).repeat_of_earlier && !get(8).reoccurred);
    assert!(
        !get(1).repeat_of_earlier,
        "a case never repeats itself or a later case"
    );
    assert!(get(9).reoccurred && get(9).is_repeat());
    // Not in the period.
    assert!(assessed.iter().all(|a| a.case_id != 10 && a.case_id != 16));
}

#[test]
fn report_time_limits_what_is_known() {
    let c = removed(case(1, "x.example", &org_a(), Some(10.0)), 30.0, 31.0);
    let input = MonitorInput {
        cases: vec![c],
        ..MonitorInput::default()
    };
    let config = MonitorConfig::STANDARD;
    // At 20 h: not removed yet; only the 1 h window has passed.
    let early = compute_report(&input, &january(), h(20.0), &config);
    let a = &early.rows[0];
    assert_eq!(a.removal_p50_seconds, None);
    assert_eq!(a.not_removed, 1);
    assert_eq!(
        a.removed_within,
        [share(0, 1), share(0, 0), share(0, 0), share(0, 0)]
    );
    // The non-response window (48 h) has not ended and nothing happened: unknown.
    assert_eq!(a.non_response, share(0, 0));
    // Running period: "online at period end" means online at the report time.
    assert_eq!(a.online_at_period_end, 1);
    // At 30.5 h the removal was observed but not yet verified: still not removed.
    let mid = compute_report(&input, &january(), h(30.5), &config);
    assert_eq!(mid.rows[0].removed, 0);
    // At 40 h: removed after 20 h.
    let late = compute_report(&input, &january(), h(40.0), &config);
    let a = &late.rows[0];
    assert_eq!(a.removal_p50_seconds, Some(72_000));
    assert_eq!(
        a.removed_within,
        [share(0, 1), share(0, 1), share(1, 1), share(1, 1)]
    );
    assert_eq!(a.non_response, share(0, 1));
    assert_eq!(a.online_at_period_end, 0);
    // Notices after the report time are not counted either.
    assert_eq!(
        compute_report(&input, &january(), h(5.0), &config)
            .rows
            .len(),
        0
    );
}

#[test]
fn non_response_threshold_is_configurable() {
    let mut c = removed(case(1, "x.example", &org_a(), Some(0.0)), 30.0, 31.0);
    c.responded_at = Some(h(13.0));
    let input = MonitorInput {
        cases: vec![c],
        ..MonitorInput::default()
    };
    let strict = MonitorConfig {
        non_response_hours: 12,
    };
    let r = compute_report(&input, &january(), as_of(), &strict);
    assert_eq!(r.rows[0].non_response, share(1, 1));
    let r = compute_report(&input, &january(), as_of(), &MonitorConfig::STANDARD);
    assert_eq!(r.rows[0].non_response, share(0, 1));
}

#[test]
fn nearest_rank_percentiles() {
    let ten: Vec<i64> = (1..=10).collect();
    let cases: &[(&[i64], u32, Option<i64>)] = &[
        (&[], 50, None),
        (&[7], 1, Some(7)),
        (&[7], 99, Some(7)),
        (&[1, 2], 50, Some(1)),
        (&[1, 2], 51, Some(2)),
        (&[1, 2, 3, 4], 50, Some(2)),
        (&[1, 2, 3, 4], 75, Some(3)),
        (&ten, 50, Some(5)),
        (&ten, 90, Some(9)),
        (&ten, 91, Some(10)),
        (&ten, 99, Some(10)),
        (&ten, 100, Some(10)),
        (&ten, 0, Some(1)),
        (&ten, 250, Some(10)),
    ];
    for (values, p, want) in cases {
        assert_eq!(
            percentile_nearest_rank(values, *p),
            *want,
            "{values:?} p{p}"
        );
    }
    // 200 values: p99 is rank 198.
    let many: Vec<i64> = (1..=200).collect();
    assert_eq!(percentile_nearest_rank(&many, 99), Some(198));
}

#[test]
fn ranking_respects_threshold_direction_and_ties() {
    let report = report();
    // Worst first on the 24 h share (lower is worse): B (2/3) is worse than A (6/9 = 2/3)?
    // Equal: both 0.666…, so they share rank 1 and are listed by name.
    let ranking = rank(
        &report.rows,
        RankMetric::RemovedWithin24h,
        RankOrder::WorstFirst,
        3,
    );
    let got: Vec<_> = ranking
        .ranked
        .iter()
        .map(|r| (r.rank, r.org.name.as_str()))
        .collect();
    assert_eq!(got, [(1, "Alpha Hosting"), (1, "Bravo Cloud")]);
    assert_eq!(ranking.below_threshold, [org_c()]);
    // With a higher threshold B (3 cases) drops out.
    let ranking = rank(
        &report.rows,
        RankMetric::RemovalP50,
        RankOrder::WorstFirst,
        5,
    );
    assert_eq!(ranking.ranked.len(), 1);
    assert_eq!(ranking.below_threshold, [org_b(), org_c()]);
    // Median: B 10 h is worse than A 1 h; best first reverses.
    let worst = rank(
        &report.rows,
        RankMetric::RemovalP50,
        RankOrder::WorstFirst,
        1,
    );
    assert_eq!(worst.ranked[0].org, org_b());
    assert_eq!(worst.ranked[1].org, org_a());
    assert_eq!(worst.ranked[1].rank, 2);
    let best = rank(
        &report.rows,
        RankMetric::RemovalP50,
        RankOrder::BestFirst,
        1,
    );
    assert_eq!(best.ranked[0].org, org_a());
    // Without IPv4 space (B) the normalised metric is undefined; zero cases (C) is below 1.
    let norm = rank(
        &report.rows,
        RankMetric::UrlsPerSlash24,
        RankOrder::WorstFirst,
        1,
    );
    assert_eq!(norm.ranked.len(), 1);
    assert_eq!(norm.no_value, [org_b()]);
    // Every metric ranks without panicking and never ranks the national row.
    for metric in RankMetric::ALL {
        let r = rank(&report.rows, *metric, RankOrder::WorstFirst, 0);
        assert!(r.ranked.len() + r.no_value.len() == 3, "{metric:?}");
    }
}

#[test]
fn monthly_trend_splits_by_first_notice() {
    let input = scenario();
    let period = Period::new(h(-744.0), h(2160.0)).unwrap(); // December to March
    let trend = monthly_trend(
        &input,
        Some(&org_a()),
        &period,
        as_of(),
        &MonitorConfig::STANDARD,
    );
    let months: Vec<_> = trend.iter().map(|p| p.month.as_str()).collect();
    assert_eq!(months, ["2025-12", "2026-01", "2026-02", "2026-03"]);
    // December: A10 (removed 200 h after its notice).
    assert_eq!(trend[0].cases, 1);
    assert_eq!(trend[0].removed_within_24h, share(0, 1));
    assert_eq!(trend[1].cases, 9);
    assert_eq!(trend[1].removed_within_24h, share(6, 9));
    assert_eq!(trend[1].removal_p50_seconds, Some(3_600));
    assert_eq!(trend[2].cases, 0);
    assert_eq!(trend[2].removed_within_24h.share, None);
    let national = monthly_trend(&input, None, &period, as_of(), &MonitorConfig::STANDARD);
    assert_eq!(national[1].cases, 12);
}

#[test]
fn csv_export_golden() {
    let csv = report_csv(&report());
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], CSV_HEADER);
    assert_eq!(lines.len(), 5, "header, national, three organisations");
    let columns = CSV_HEADER.split(',').count();
    for line in &lines {
        assert_eq!(line.split(',').count(), columns, "{line}");
    }
    assert_eq!(
        lines[2],
        "2026.1,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-02-15T00:00:00Z,organisation,\
Alpha Hosting,64500,10,0.6667,9,9,0.7500,8,1,1,2,1.00,100.00,100.00,\
0.4444,0.5556,0.6667,0.7778,2,0.2222,2,1,1,1,3,0.3333,0.3333,2,2.00,65536,4.5000,5.0000,1.0000"
    );
    assert_eq!(
        lines[4],
        "2026.1,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,2026-02-15T00:00:00Z,organisation,\
Charlie Data,,0,0.0000,0,0,0.0000,0,0,0,0,,,,,,,,0,,0,0,0,0,1,1.0000,0.0000,0,,,,,"
    );
    assert!(lines[1].contains(",national,,,15,1.0000,12,12,1.0000,"));
}

#[test]
fn csv_quotes_and_defuses_organisation_names() {
    let mut input = scenario();
    let evil = OrgKey::new("=HYPERLINK(\"x\"),\nEvil", None);
    for c in &mut input.cases {
        if c.hosters[0].org == org_b() {
            c.hosters[0].org = evil.clone();
            for n in &mut c.notices {
                n.recipient = evil.clone();
            }
        }
    }
    let csv = report_csv(&compute_report(
        &input,
        &january(),
        as_of(),
        &MonitorConfig::STANDARD,
    ));
    assert!(
        csv.contains(",\"'=HYPERLINK(\"\"x\"\"),\nEvil\",,"),
        "{csv}"
    );
}

#[test]
fn json_export_round_trips_and_names_the_method() {
    let report = report();
    let json = report_json(&report).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["method_version"], METHOD_VERSION);
    assert_eq!(value["period"]["from"], "2026-01-01T00:00:00Z");
    assert_eq!(value["config"]["non_response_hours"], 48);
    assert_eq!(value["windows_hours"], serde_json::json!([1, 12, 24, 48]));
    assert_eq!(value["rows"][0]["org"]["name"], "Alpha Hosting");
    assert_eq!(value["rows"][0]["removal_p50_seconds"], 3600);
    assert_eq!(value["rows"][0]["removed_within"][2]["count"], 6);
    assert_eq!(value["rows"][0]["distribution"]["never"], 1);
    assert!(value["national"]["org"].is_null());
    // Floats may differ in the last bit after a text round trip; the rest must not.
    let back: MonitorReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.period, report.period);
    assert_eq!(back.rows.len(), 3);
    assert_eq!(back.rows[1].distribution, report.rows[1].distribution);
    assert_eq!(back.excluded, report.excluded);
}

#[test]
fn methodology_texts_cover_every_figure() {
    for lang in [Lang::En, Lang::Nl] {
        let text = methodology(lang);
        for needle in ["p50", "p90", "p99", "nearest-rank", "/24", "48", "IPv6"] {
            assert!(text.contains(needle), "{lang:?} lacks {needle}");
        }
    }
    assert!(methodology(Lang::En).contains("first notice"));
    assert!(methodology(Lang::Nl).contains("eerste melding"));
}

/// A small XML well-formedness check: balanced and properly nested tags, quoted attributes,
/// known entities only, no raw `<` or `&` in text. Enough to catch broken escaping.
fn check_well_formed(xml: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    let check_text = |text: &str| -> Result<(), String> {
        let mut parts = text.split('&');
        parts.next();
        for part in parts {
            let entity = part.split(';').next().unwrap_or("");
            if !["amp", "lt", "gt", "quot", "apos"].contains(&entity) || !part.contains(';') {
                return Err(format!("bad entity near {part:?}"));
            }
        }
        if text.contains('>') {
            return Err(format!("raw > in {text:?}"));
        }
        Ok(())
    };
    let mut seen_root = false;
    while !rest.is_empty() {
        let Some(start) = rest.find('<') else {
            check_text(rest)?;
            break;
        };
        check_text(&rest[..start])?;
        if !stack.is_empty() || !seen_root {
            // Text outside the root is only whitespace.
            if stack.is_empty() && !rest[..start].trim().is_empty() {
                return Err("text outside the root".into());
            }
        }
        let end = rest[start..].find('>').ok_or("unterminated tag")? + start;
        let tag = &rest[start + 1..end];
        if tag.contains('<') {
            return Err(format!("< inside tag {tag:?}"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("stray </{name}>"))?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
        } else {
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body.split_whitespace().next().ok_or("empty tag")?;
            // Attributes: name="value" pairs with escaped values.
            let mut attrs = body[name.len()..].trim();
            while !attrs.is_empty() {
                let eq = attrs
                    .find("=\"")
                    .ok_or(format!("unquoted attribute in {tag:?}"))?;
                let after = &attrs[eq + 2..];
                let close = after.find('"').ok_or("unterminated attribute")?;
                check_text(&after[..close])?;
                attrs = after[close + 1..].trim_start();
            }
            if stack.is_empty() && seen_root {
                return Err("second root element".into());
            }
            seen_root = true;
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        rest = &rest[end + 1..];
    }
    match stack.pop() {
        None if seen_root => Ok(()),
        None => Err("no root".into()),
        Some(open) => Err(format!("<{open}> never closed")),
    }
}

#[test]
fn the_xml_checker_rejects_broken_documents() {
    assert!(check_well_formed("<svg><title>a &amp; b</title></svg>").is_ok());
    for bad in [
        "<svg><title>a & b</title></svg>",
        "<svg><title>a</svg></title>",
        "<svg><g></svg>",
        "<svg a=b></svg>",
        "<svg></svg><svg></svg>",
        "<svg><title><script></title></svg>",
    ] {
        assert!(check_well_formed(bad).is_err(), "{bad}");
    }
}

#[test]
fn histogram_svg_is_well_formed_accessible_and_escaped() {
    let report = report();
    let a = row(&report, &org_a());
    let svg = removal_histogram(
        &a.distribution,
        "Alpha <script>alert(1)</script> & \"Co\"",
        "hist a",
        Lang::En,
    );
    check_well_formed(&svg).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("role=\"img\""));
    assert!(svg.contains("aria-labelledby=\"hist-a-title hist-a-desc\""));
    assert!(svg.contains("<title id=\"hist-a-title\">Removal time after first notice: Alpha &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;</title>"));
    assert!(svg.contains(
        "<desc id=\"hist-a-desc\">Number of cases per removal time, 9 cases in total. ≤ 1 h: 4; 1–12 h: 1; 12–24 h: 1; 24–48 h: 1; &gt; 48 h: 1; not removed: 1.</desc>"
    ));
    assert!(!svg.contains("<script>"));
    assert_eq!(svg.matches("<rect ").count(), 6);
    let nl = removal_histogram(&a.distribution, "Alpha", "h", Lang::Nl);
    check_well_formed(&nl).unwrap();
    assert!(nl.contains("niet verwijderd: 1"));
    // An empty distribution still draws a valid chart.
    check_well_formed(&removal_histogram(
        &RemovalDistribution::default(),
        "",
        "1",
        Lang::En,
    ))
    .unwrap();
}

#[test]
fn trend_svg_is_well_formed_and_breaks_at_months_without_data() {
    let input = scenario();
    let period = Period::new(h(-744.0), h(2160.0)).unwrap();
    let trend = monthly_trend(
        &input,
        Some(&org_a()),
        &period,
        as_of(),
        &MonitorConfig::STANDARD,
    );
    let svg = trend_chart(&trend, "Alpha & Co", "trend", Lang::En);
    check_well_formed(&svg).unwrap();
    assert!(svg.contains(
        "<title id=\"trend-title\">Share removed within 24 hours per month: Alpha &amp; Co</title>"
    ));
    assert!(svg.contains(
        "2025-12: 0% of 1 cases; 2026-01: 67% of 9 cases; 2026-02: no data; 2026-03: no data."
    ));
    // December and January are joined; February and March have no point.
    assert_eq!(svg.matches("<polyline").count(), 1);
    assert_eq!(svg.matches("<circle").count(), 2);
    let nl = trend_chart(&trend, "Alpha", "t", Lang::Nl);
    check_well_formed(&nl).unwrap();
    assert!(nl.contains("geen gegevens"));
    check_well_formed(&trend_chart(&[], "x", "t", Lang::En)).unwrap();
}

#[test]
fn escaping_covers_markup_and_control_characters() {
    assert_eq!(
        escape_xml("<a href='x'>&\"\u{1}"),
        "&lt;a href=&apos;x&apos;&gt;&amp;&quot;\u{FFFD}"
    );
}

/// One organisation, one case removed after 5 h, one hit: small enough to pin the whole JSON.
fn small_report() -> MonitorReport {
    let a = org_a();
    let mut c = removed(case(1, "one.example", &a, Some(10.0)), 15.0, 16.0);
    c.responded_at = Some(h(11.0));
    let input = MonitorInput {
        cases: vec![c],
        hits: vec![HitRecord {
            hit_id: 7,
            org: a.clone(),
            created_at: h(20.0),
            deadline_at: h(44.0),
            acknowledged_at: Some(h(21.0)),
            verified_at: None,
            overdue_at: None,
        }],
        space: vec![AnnouncedSpace {
            org: a,
            ipv4_addresses: 1024,
            ipv6_slash48s: 0,
        }],
    };
    compute_report(&input, &january(), as_of(), &MonitorConfig::STANDARD)
}

/// Golden files: the whole public export formats. The values were checked by hand against the
/// case comments above (national row: 11 removed times, p50 = rank 6 = 10 h, p90 = rank 10 =
/// 60 h, p99 = rank 11 = 100 h). A change here is a change of the published format or method:
/// bump `METHOD_VERSION` if a definition changed.
#[test]
fn csv_and_json_goldens() {
    assert_eq!(
        report_csv(&report()),
        include_str!("../golden/scenario.csv")
    );
    assert_eq!(
        report_json(&small_report()).unwrap(),
        include_str!("../golden/small_report.json")
    );
}
