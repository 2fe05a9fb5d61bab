//! Property tests: invariants that hold for any recorded history, on random timelines.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use schoon_monitor::export::report_csv;
use schoon_monitor::*;

fn h(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(hours * 60)
}

fn org(idx: u8) -> OrgKey {
    OrgKey::new(
        ["A", "B", "C"][usize::from(idx % 3)],
        Some(64500 + u32::from(idx % 3)),
    )
}

prop_compose! {
    fn arb_case(id: i64)(
        hoster in 0u8..3,
        moved_to in proptest::option::of((0u8..3, 0i64..300)),
        notice in proptest::option::of(-100i64..900),
        removal in proptest::option::of((-20i64..300, 0i64..6)),
        responded in proptest::option::of(0i64..100),
        reoccurred in proptest::option::of(1i64..100),
        site in 0u8..5,
        digest in proptest::option::of(0u8..3),
    ) -> CaseTimeline {
        let start = notice.unwrap_or(0);
        let mut hosters = vec![HosterSpell { org: org(hoster), from: h(-2000), to: None }];
        if let Some((to, after)) = moved_to {
            hosters[0].to = Some(h(start + after));
            hosters.push(HosterSpell { org: org(to), from: h(start + after), to: None });
        }
        let removal = removal.map(|(offline, verify)| Removal {
            offline_at: h(start + offline),
            verified_at: h(start + offline + verify),
        });
        CaseTimeline {
            case_id: id,
            url: format!("http://s{site}.example/{id}"),
            site: format!("s{site}.example"),
            digest: digest.map(|d| format!("{d}").repeat(64)),
            hosters,
            reported_at: h(start - 1),
            notices: notice
                .map(|n| vec![NoticeRecord { at: h(n), recipient: org(hoster), step: NoticeStep::Notice }])
                .unwrap_or_default(),
            responded_at: responded.map(|r| h(start + r)),
            reoccurred_at: match (removal, reoccurred) {
                (Some(r), Some(after)) => vec![r.verified_at + Duration::hours(after)],
                _ => vec![],
            },
            removal,
        }
    }
}

fn arb_cases() -> impl Strategy<Value = Vec<CaseTimeline>> {
    (0usize..40).prop_flat_map(|n| (0..n).map(|i| arb_case(i as i64)).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn invariants_hold_for_any_history(cases in arb_cases(), as_of_hours in 0i64..1500) {
        let input = MonitorInput { cases, ..MonitorInput::default() };
        let january = Period::month(2026, 1).unwrap();
        let report = compute_report(&input, &january, h(as_of_hours), &MonitorConfig::STANDARD);
        for row in std::iter::once(&report.national).chain(&report.rows) {
            prop_assert_eq!(row.removed + row.not_removed, row.cases);
            prop_assert_eq!(row.distribution.buckets().iter().sum::<u64>(), row.cases);
            prop_assert!(row.removed_before_notice <= row.removed);
            prop_assert!(row.urls <= row.cases);
            prop_assert!(row.online_at_period_end <= row.cases);
            prop_assert!(row.not_removed <= row.online_at_period_end
                || report.as_of < report.period.to(),
                "a case not removed by the report time was online at period end");
            prop_assert!(row.repeat_offences <= row.cases);
            prop_assert!(row.non_response.count <= row.non_response.of);
            prop_assert!(row.non_response.of <= row.cases);
            // Removed within a longer window is never fewer, and every share is a fraction.
            for pair in row.removed_within.windows(2) {
                prop_assert!(pair[0].count <= pair[1].count);
            }
            for share in &row.removed_within {
                prop_assert!(share.count <= share.of && share.of <= row.cases);
            }
            match (row.removal_p50_seconds, row.removal_p90_seconds, row.removal_p99_seconds) {
                (Some(p50), Some(p90), Some(p99)) => {
                    prop_assert!(0 <= p50 && p50 <= p90 && p90 <= p99);
                }
                (None, None, None) => prop_assert_eq!(row.removed, 0),
                other => prop_assert!(false, "partial percentiles {:?}", other),
            }
        }
        let sum = |f: &dyn Fn(&OrgStats) -> u64| report.rows.iter().map(f).sum::<u64>();
        prop_assert_eq!(report.national.cases, sum(&|r| r.cases));
        prop_assert_eq!(report.national.removed, sum(&|r| r.removed));
        prop_assert_eq!(report.national.notices, sum(&|r| r.notices));
    }

    #[test]
    fn the_report_does_not_depend_on_input_order(cases in arb_cases(), as_of_hours in 0i64..1500) {
        let january = Period::month(2026, 1).unwrap();
        let forward = MonitorInput { cases: cases.clone(), ..MonitorInput::default() };
        let mut reversed = cases;
        reversed.reverse();
        let backward = MonitorInput { cases: reversed, ..MonitorInput::default() };
        let config = MonitorConfig::STANDARD;
        let a = compute_report(&forward, &january, h(as_of_hours), &config);
        let b = compute_report(&backward, &january, h(as_of_hours), &config);
        prop_assert_eq!(report_csv(&a), report_csv(&b));
        for metric in RankMetric::ALL {
            prop_assert_eq!(
                rank(&a.rows, *metric, RankOrder::WorstFirst, 2),
                rank(&b.rows, *metric, RankOrder::WorstFirst, 2)
            );
        }
    }

    #[test]
    fn learning_more_never_unremoves_a_case(cases in arb_cases(), early in 0i64..1200, extra in 0i64..600) {
        // A later report time can only add removals (verified removals are never taken back).
        let january = Period::month(2026, 1).unwrap();
        let input = MonitorInput { cases, ..MonitorInput::default() };
        let config = MonitorConfig::STANDARD;
        let (before, _) = assess_cases(&input.cases, &january, h(early), &config);
        let (after, _) = assess_cases(&input.cases, &january, h(early + extra), &config);
        for case in &before {
            let later = after.iter().find(|c| c.case_id == case.case_id);
            prop_assert!(later.is_some(), "a case in the period stays in the period");
            if let (Some(s), Some(later)) = (case.removal_seconds, later) {
                prop_assert_eq!(later.removal_seconds, Some(s));
            }
        }
    }
}
