//! The SQL behind [`crate::monitor`], compiled once per backend (see `crate::sqlite` and
//! `crate::postgres`).

use super::Backend;
use crate::monitor::*;
use crate::opt_ts;
use crate::{StoreResult, parse_ts};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schoon_core::TenantId;
use schoon_monitor::{
    CaseTimeline, HitRecord, HosterSpell, MonitorInput, NoticeRecord, NoticeStep, OrgKey, Removal,
};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// A raw organisation reference before names are merged.
#[derive(Debug, Clone)]
struct RawOrg {
    name: String,
    asn: Option<u32>,
}

impl RawOrg {
    /// From a stored hoster name and AS number; an AS without a name is named after the AS.
    fn from_parts(name: Option<String>, asn: Option<i64>) -> Option<RawOrg> {
        let asn = asn.and_then(|a| u32::try_from(a).ok());
        match name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) {
            Some(name) => Some(RawOrg { name, asn }),
            None => asn.map(|a| RawOrg {
                name: format!("AS{a}"),
                asn: Some(a),
            }),
        }
    }

    fn merge_key(&self) -> String {
        self.name.to_lowercase()
    }
}

/// Resolves raw names to one [`OrgKey`] per organisation: the most frequent spelling and the
/// most frequent AS number (ties: the lexically smaller spelling, the lower AS).
#[derive(Default)]
struct OrgNames {
    spellings: HashMap<String, BTreeMap<String, u64>>,
    asns: HashMap<String, BTreeMap<u32, u64>>,
}

impl OrgNames {
    fn observe(&mut self, org: &RawOrg) {
        let key = org.merge_key();
        *self
            .spellings
            .entry(key.clone())
            .or_default()
            .entry(org.name.clone())
            .or_default() += 1;
        if let Some(asn) = org.asn {
            *self.asns.entry(key).or_default().entry(asn).or_default() += 1;
        }
    }

    fn resolve(&self) -> HashMap<String, OrgKey> {
        let most = |counts: Option<&BTreeMap<String, u64>>| {
            counts.and_then(|c| {
                c.iter()
                    .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                    .map(|(k, _)| k.clone())
            })
        };
        self.spellings
            .keys()
            .map(|key| {
                let name = most(self.spellings.get(key)).unwrap_or_else(|| key.clone());
                let asn = self.asns.get(key).and_then(|c| {
                    c.iter()
                        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                        .map(|(a, _)| *a)
                });
                (key.clone(), OrgKey::new(&name, asn))
            })
            .collect()
    }
}

struct RawCase {
    id: i64,
    url: String,
    site: String,
    digest: Option<String>,
    reported_at: DateTime<Utc>,
    removed_at: Option<DateTime<Utc>>,
    offline_verified_at: Option<DateTime<Utc>>,
    /// `(hoster, made_at)` in history order.
    attributions: Vec<(RawOrg, DateTime<Utc>)>,
    /// `(sent_at, recipient, rung, sequence)`.
    notices: Vec<(DateTime<Utc>, Option<RawOrg>, String, i64)>,
    responded_at: Option<DateTime<Utc>>,
    first_verified_at: Option<DateTime<Utc>>,
    reappeared: Vec<DateTime<Utc>>,
}

fn step(rung: &str, sequence: i64) -> NoticeStep {
    match rung {
        "police" | "regulator" | "registrar" => NoticeStep::Escalation,
        _ if sequence > 0 => NoticeStep::Reminder,
        _ => NoticeStep::Notice,
    }
}

/// The hoster spells of one case from its attribution history (already in order).
fn spells(
    attributions: &[(RawOrg, DateTime<Utc>)],
    keys: &HashMap<String, OrgKey>,
) -> Vec<HosterSpell> {
    let mut out: Vec<HosterSpell> = Vec::new();
    for (org, at) in attributions {
        let Some(key) = keys.get(&org.merge_key()) else {
            continue;
        };
        if out.last().is_some_and(|s| &s.org == key) {
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.to = Some(*at);
        }
        out.push(HosterSpell {
            org: key.clone(),
            from: *at,
            to: None,
        });
    }
    out
}

impl Backend {
    /// Start of the offline streak that was verified at `verified_at`: the first observation
    /// after the last `online` one before it. Only needed when the case's columns describe a
    /// later removal (the material came back and went again).
    async fn streak_start(
        &self,
        case_id: i64,
        verified_at: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let at = crate::ts(&verified_at);
        let row = sqlx::query(
            "SELECT MIN(at) AS start FROM observations WHERE case_id = $1 AND outcome != 'online' \
             AND at <= $2 AND at > COALESCE((SELECT MAX(at) FROM observations \
             WHERE case_id = $1 AND outcome = 'online' AND at < $2), '')",
        )
        .bind(case_id)
        .bind(&at)
        .fetch_one(&self.read)
        .await?;
        opt_ts(row.try_get("start")?)
    }
}

#[async_trait]
impl MonitorStore for Backend {
    async fn monitor_input(&self, tenant: Option<TenantId>) -> StoreResult<MonitorInput> {
        let mut cases: Vec<RawCase> = Vec::new();
        let mut index: HashMap<i64, usize> = HashMap::new();
        let rows = sqlx::query(
            "SELECT c.id, c.url, c.host, c.registrable_domain, c.removed_at, \
             c.offline_verified_at, CASE WHEN r.created_at < c.created_at THEN r.created_at ELSE c.created_at END AS reported_at, i.sha256 \
             FROM takedown_cases c JOIN reports r ON r.id = c.report_id \
             JOIN report_items i ON i.id = c.item_id \
             WHERE ($1 IS NULL OR c.tenant_id = $1) ORDER BY c.id",
        )
        .bind(tenant)
        .fetch_all(&self.read)
        .await?;
        // A report's own time comes from the wall clock, a case's from the caller's clock; a case
        // is never opened before its report, so the earlier of the two is the report time under
        // either clock (tests and replays run on a simulated one).
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let host: String = r.try_get("host")?;
            let site: Option<String> = r.try_get("registrable_domain")?;
            index.insert(id, cases.len());
            cases.push(RawCase {
                id,
                url: r.try_get("url")?,
                site: site.unwrap_or(host),
                digest: r
                    .try_get::<Option<String>, _>("sha256")?
                    .map(|d| d.to_lowercase()),
                reported_at: parse_ts(r.try_get("reported_at")?)?,
                removed_at: opt_ts(r.try_get("removed_at")?)?,
                offline_verified_at: opt_ts(r.try_get("offline_verified_at")?)?,
                attributions: Vec::new(),
                notices: Vec::new(),
                responded_at: None,
                first_verified_at: None,
                reappeared: Vec::new(),
            });
        }

        let mut names = OrgNames::default();
        let rows = sqlx::query(
            "SELECT a.case_id, a.hoster_org, a.asn, a.made_at FROM attributions a \
             JOIN takedown_cases c ON c.id = a.case_id WHERE ($1 IS NULL OR c.tenant_id = $1) \
             ORDER BY a.case_id, a.made_at, a.id",
        )
        .bind(tenant)
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            let Some(org) = RawOrg::from_parts(r.try_get("hoster_org")?, r.try_get("asn")?) else {
                continue;
            };
            let Some(&i) = index.get(&r.try_get::<i64, _>("case_id")?) else {
                continue;
            };
            names.observe(&org);
            cases[i]
                .attributions
                .push((org, parse_ts(r.try_get("made_at")?)?));
        }

        let rows = sqlx::query(
            "SELECT ni.case_id, ni.rung, ni.sequence, n.sent_at, n.recipient_org \
             FROM notice_items ni JOIN notices n ON n.id = ni.notice_id \
             WHERE n.state = 'sent' AND n.sent_at IS NOT NULL \
             AND ($1 IS NULL OR n.tenant_id = $1) ORDER BY ni.case_id, n.sent_at, n.id",
        )
        .bind(tenant)
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            let Some(&i) = index.get(&r.try_get::<i64, _>("case_id")?) else {
                continue;
            };
            let recipient = RawOrg::from_parts(r.try_get("recipient_org")?, None);
            if let Some(org) = &recipient {
                names.observe(org);
            }
            cases[i].notices.push((
                parse_ts(r.try_get("sent_at")?)?,
                recipient,
                r.try_get("rung")?,
                r.try_get("sequence")?,
            ));
        }

        let rows = sqlx::query(
            "SELECT x.case_id, MIN(x.at) AS first_at FROM case_responses x \
             JOIN takedown_cases c ON c.id = x.case_id WHERE ($1 IS NULL OR c.tenant_id = $1) \
             GROUP BY x.case_id",
        )
        .bind(tenant)
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            if let Some(&i) = index.get(&r.try_get::<i64, _>("case_id")?) {
                cases[i].responded_at = opt_ts(r.try_get("first_at")?)?;
            }
        }

        let rows = sqlx::query(
            "SELECT e.case_id, e.event, e.at FROM case_events e \
             JOIN takedown_cases c ON c.id = e.case_id WHERE ($1 IS NULL OR c.tenant_id = $1) \
             AND e.event IN ('offline_verified', 'reappeared') ORDER BY e.case_id, e.at, e.id",
        )
        .bind(tenant)
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            let Some(&i) = index.get(&r.try_get::<i64, _>("case_id")?) else {
                continue;
            };
            let at = parse_ts(r.try_get("at")?)?;
            let case = &mut cases[i];
            match r.try_get::<String, _>("event")?.as_str() {
                "offline_verified" if case.first_verified_at.is_none() => {
                    case.first_verified_at = Some(at);
                }
                "reappeared" => case.reappeared.push(at),
                _ => {}
            }
        }

        let rows = sqlx::query(
            "SELECT h.id, o.name, h.created_at, h.deadline, h.acknowledged_at, h.verified_at, \
             h.overdue_at FROM hits h JOIN organisations o ON o.id = h.org_id \
             WHERE ($1 IS NULL OR h.tenant_id = $1) ORDER BY h.id",
        )
        .bind(tenant)
        .fetch_all(&self.read)
        .await?;
        let mut raw_hits = Vec::new();
        for r in &rows {
            let Some(org) = RawOrg::from_parts(r.try_get("name")?, None) else {
                continue;
            };
            names.observe(&org);
            raw_hits.push((
                r.try_get::<i64, _>("id")?,
                org,
                parse_ts(r.try_get("created_at")?)?,
                parse_ts(r.try_get("deadline")?)?,
                opt_ts(r.try_get("acknowledged_at")?)?,
                opt_ts(r.try_get("verified_at")?)?,
                opt_ts(r.try_get("overdue_at")?)?,
            ));
        }

        let keys = names.resolve();
        let mut out = MonitorInput::default();
        for case in cases {
            let hosters = spells(&case.attributions, &keys);
            let notices = case
                .notices
                .iter()
                .map(|(at, recipient, rung, sequence)| {
                    let recipient = recipient
                        .as_ref()
                        .and_then(|o| keys.get(&o.merge_key()).cloned())
                        .or_else(|| {
                            // A hoster notice without an organisation name went to whoever
                            // hosted the URL then.
                            let spell = hosters.iter().rfind(|s| s.covers(*at));
                            (rung == "hoster")
                                .then_some(spell)
                                .flatten()
                                .map(|s| s.org.clone())
                        })
                        .unwrap_or_else(|| OrgKey::new(rung, None));
                    NoticeRecord {
                        at: *at,
                        recipient,
                        step: step(rung, *sequence),
                    }
                })
                .collect();
            let removal = match case.first_verified_at {
                None => None,
                Some(verified_at) => {
                    let offline_at = if case.offline_verified_at == Some(verified_at) {
                        case.removed_at
                    } else {
                        self.streak_start(case.id, verified_at).await?
                    };
                    Some(Removal {
                        offline_at: offline_at.unwrap_or(verified_at),
                        verified_at,
                    })
                }
            };
            out.cases.push(CaseTimeline {
                case_id: case.id,
                url: case.url,
                site: case.site,
                digest: case.digest,
                hosters,
                reported_at: case.reported_at,
                notices,
                responded_at: case.responded_at,
                removal,
                reoccurred_at: case.reappeared,
            });
        }
        for (hit_id, org, created_at, deadline_at, acknowledged_at, verified_at, overdue_at) in
            raw_hits
        {
            let Some(org) = keys.get(&org.merge_key()).cloned() else {
                continue;
            };
            out.hits.push(HitRecord {
                hit_id,
                org,
                created_at,
                deadline_at,
                acknowledged_at,
                verified_at,
                overdue_at,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap()
    }

    fn raw(name: &str, asn: Option<u32>) -> RawOrg {
        RawOrg {
            name: name.into(),
            asn,
        }
    }

    #[test]
    fn names_merge_case_insensitively_with_the_main_as() {
        let mut n = OrgNames::default();
        for o in [
            raw("Host BV", Some(64500)),
            raw("HOST BV", Some(64500)),
            raw("Host BV", Some(64501)),
            raw("host bv", None),
            raw("Other", None),
        ] {
            n.observe(&o);
        }
        let keys = n.resolve();
        assert_eq!(keys["host bv"], OrgKey::new("Host BV", Some(64500)));
        assert_eq!(keys["other"], OrgKey::new("Other", None));
        assert_eq!(
            RawOrg::from_parts(None, Some(7)).map(|o| o.name),
            Some("AS7".to_string())
        );
        assert!(RawOrg::from_parts(Some("  ".into()), None).is_none());
    }

    #[test]
    fn consecutive_attributions_of_one_hoster_merge_into_one_spell() {
        let mut n = OrgNames::default();
        let history = vec![
            (raw("A", Some(1)), at(1)),
            (raw("a", Some(1)), at(2)),
            (raw("B", None), at(5)),
            (raw("A", Some(1)), at(9)),
        ];
        for (o, _) in &history {
            n.observe(o);
        }
        let s = spells(&history, &n.resolve());
        let got: Vec<_> = s
            .iter()
            .map(|s| (s.org.name.as_str(), s.from, s.to))
            .collect();
        assert_eq!(
            got,
            [
                ("A", at(1), Some(at(5))),
                ("B", at(5), Some(at(9))),
                ("A", at(9), None)
            ]
        );
    }

    #[test]
    fn rungs_and_sequences_give_the_notice_step() {
        let table = [
            ("hoster", 0, NoticeStep::Notice),
            ("hoster", 1, NoticeStep::Reminder),
            ("cdn", 0, NoticeStep::Notice),
            ("cdn", 2, NoticeStep::Reminder),
            ("registrar", 0, NoticeStep::Escalation),
            ("police", 0, NoticeStep::Escalation),
            ("regulator", 3, NoticeStep::Escalation),
        ];
        for (rung, seq, want) in table {
            assert_eq!(step(rung, seq), want, "{rung} #{seq}");
        }
    }
}
