//! Notice-and-takedown ([takedown]): the case life cycle, the escalation ladder, the offline
//! verdict over re-check observations and the optional sending window — all pure, so the
//! table tests below are the specification and the store/server only apply what these allow.
//!
//! Case life cycle:
//!
//! ```text
//! attributing ──attributed──▶ monitoring ──offline_verified──▶ removed ──reappeared──▶ monitoring
//! attributing ──contact_missing──▶ needs_contact ──contact_resolved|attributed──▶ monitoring
//! monitoring ──contact_missing──▶ needs_contact
//! attributing|monitoring|needs_contact ──police_first──▶ police_hold ──police_released──▶ attributing
//! attributing|monitoring|needs_contact ──moved_abroad──▶ forwarded
//! any state but closed ──close──▶ closed
//! ```
//!
//! Times are always given by the caller (its clock), never read here.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::model::UnknownValue;

/// Database id of a takedown case.
pub type CaseId = i64;
/// Database id of a notice (one e-mail).
pub type NoticeId = i64;

// Same shape as the (private) macro in `report.rs`: text form, Display, FromStr, serde.
macro_rules! simple_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order (tables, tests).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical text form (API, database).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { what: $what, value: s.to_string() }),
                }
            }
        }
    };
}

simple_enum!(
    /// Where a takedown case is.
    CaseState, "case state", {
        /// Opened; the hoster and contacts are being looked up.
        Attributing => "attributing",
        /// No usable (or no approved) contact: parked in a visible queue for a human.
        NeedsContact => "needs_contact",
        /// An analyst marked it "police first": no provider notices until released.
        PoliceHold => "police_hold",
        /// Notices go out on the ladder and the URL is re-checked until it is gone.
        Monitoring => "monitoring",
        /// Verified offline (still re-checked, rarely, to catch re-appearance).
        Removed => "removed",
        /// Hosted abroad: handed to that country's hotline (action code 5).
        Forwarded => "forwarded",
        /// Closed by a human.
        Closed => "closed",
    }
);

impl CaseState {
    /// Whether the URL is still re-checked in this state.
    pub fn is_checked(self) -> bool {
        matches!(
            self,
            CaseState::Monitoring | CaseState::Removed | CaseState::NeedsContact
        )
    }
}

simple_enum!(
    /// Something that happens to a case (audit action `case.<event>`).
    CaseEvent, "case event", {
        /// Attribution found a usable hoster contact.
        Attributed => "attributed",
        /// Attribution found no usable contact.
        ContactMissing => "contact_missing",
        /// A human supplied the missing contact.
        ContactResolved => "contact_resolved",
        /// An analyst marked the case "police first".
        PoliceFirst => "police_first",
        /// The police released it: provider notices may start.
        PoliceReleased => "police_released",
        /// The offline verdict: the material is gone.
        OfflineVerified => "offline_verified",
        /// The material is served again after removal.
        Reappeared => "reappeared",
        /// The hoster is now in another country.
        MovedAbroad => "moved_abroad",
        /// A human closed the case.
        Close => "close",
    }
);

/// A transition the case life cycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// The event is not allowed in that state.
    #[error("case in state {from} cannot take event {event}")]
    Invalid {
        /// Current state.
        from: CaseState,
        /// Refused event.
        event: CaseEvent,
    },
}

/// The case life cycle (pure). The store applies the result with a conditional update.
pub fn transition(from: CaseState, ev: CaseEvent) -> Result<CaseState, CaseError> {
    use CaseEvent as E;
    use CaseState as S;
    Ok(match (from, ev) {
        (S::Attributing, E::Attributed) => S::Monitoring,
        (S::Attributing | S::Monitoring, E::ContactMissing) => S::NeedsContact,
        (S::NeedsContact, E::ContactResolved | E::Attributed) => S::Monitoring,
        (S::Attributing | S::Monitoring | S::NeedsContact, E::PoliceFirst) => S::PoliceHold,
        // Back to attributing: the contacts may be stale after a long hold.
        (S::PoliceHold, E::PoliceReleased) => S::Attributing,
        (S::Monitoring, E::OfflineVerified) => S::Removed,
        (S::Removed, E::Reappeared) => S::Monitoring,
        // The first attribution may already find the hoster abroad.
        (S::Attributing | S::Monitoring | S::NeedsContact, E::MovedAbroad) => S::Forwarded,
        (s, E::Close) if s != S::Closed => S::Closed,
        _ => return Err(CaseError::Invalid { from, event: ev }),
    })
}

simple_enum!(
    /// A rung of the escalation ladder: who is asked.
    LadderRung, "ladder rung", {
        /// The hosting provider's abuse contact.
        Hoster => "hoster",
        /// The CDN in front of an unknown origin, as proxy for the hoster.
        Cdn => "cdn",
        /// The site owner (only when a contact is known).
        SiteOwner => "site_owner",
        /// The domain's registrar.
        Registrar => "registrar",
        /// Police referral.
        Police => "police",
        /// Escalation to the regulator (a record, not an e-mail).
        Regulator => "regulator",
    }
);

impl LadderRung {
    /// Whether this rung is an e-mail notice (the regulator rung is an escalation record).
    pub fn is_email(self) -> bool {
        self != LadderRung::Regulator
    }

    /// Whether the rung repeats (reminders) or fires once per case.
    pub fn repeats(self) -> bool {
        !matches!(self, LadderRung::Police | LadderRung::Regulator)
    }
}

simple_enum!(
    /// What one re-fetch of a case URL found.
    ObservationOutcome, "observation outcome", {
        /// The stored media is still served (same digest, or PDQ within the radius).
        Online => "online",
        /// 404/410, other content, soft-404, removal page, not an image.
        Gone => "gone",
        /// Network error, 5xx, timeout.
        Error => "error",
    }
);

impl ObservationOutcome {
    /// A miss counts towards the offline verdict (an error too: a site that stays down is gone).
    pub fn is_miss(self) -> bool {
        self != ObservationOutcome::Online
    }
}

simple_enum!(
    /// Where a notice (one e-mail) is in the outbox.
    NoticeState, "notice state", {
        /// Waits for its due time.
        Queued => "queued",
        /// Kept back (police first) until released.
        Held => "held",
        /// Claimed by a worker; SMTP in progress.
        Sending => "sending",
        /// Accepted by the recipient's mail server.
        Sent => "sent",
        /// Refused by the mail server.
        Rejected => "rejected",
        /// Found in `sending` after its lease: maybe sent. Never resent automatically.
        DeliveryUnknown => "delivery_unknown",
        /// Not sent and never will be (all its cases went away first).
        Cancelled => "cancelled",
    }
);

simple_enum!(
    /// A provider's answer to a notice.
    ResponseKind, "response kind", {
        /// Acknowledged (acting on it).
        Ack => "ack",
        /// Disputes the notice.
        Dispute => "dispute",
    }
);

simple_enum!(
    /// An escalation record of a case (at most one of each kind per case).
    CaseEscalationKind, "case escalation kind", {
        /// Police referral.
        Police => "police",
        /// Escalation to the regulator.
        Regulator => "regulator",
    }
);

/// One observation, as the verdict needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationPoint {
    /// When.
    pub at: DateTime<Utc>,
    /// What was found.
    pub outcome: ObservationOutcome,
}

/// The verdict over a case's observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum OnlineVerdict {
    /// Still served (or nothing observed yet).
    Online,
    /// A miss streak has started but is not yet long or spread enough.
    Pending {
        /// Misses that count so far (spaced far enough apart).
        misses: u32,
    },
    /// Gone.
    Offline {
        /// The first miss of the streak: when the material was removed.
        removed_at: DateTime<Utc>,
        /// The miss that completed the verdict.
        verified_at: DateTime<Utc>,
    },
}

/// Decides online/pending/offline from the history (oldest first; only the trailing streak of
/// misses matters). Within that streak the first miss counts, and each later miss counts only
/// if it is at least `offline_min_spacing_minutes` after the last counted one, so an extra
/// check a minute later does not shorten the verification; `offline_misses` counted misses make
/// the verdict.
pub fn online_verdict(history: &[ObservationPoint], policy: &TakedownPolicy) -> OnlineVerdict {
    let streak_start = history
        .iter()
        .rposition(|o| !o.outcome.is_miss())
        .map_or(0, |i| i + 1);
    let streak = &history[streak_start..];
    let Some(first) = streak.first() else {
        return OnlineVerdict::Online;
    };
    let spacing = Duration::minutes(policy.offline_min_spacing_minutes);
    let needed = policy.offline_misses.max(1);
    let mut counted = 1u32;
    let mut last = first.at;
    if counted >= needed {
        return OnlineVerdict::Offline {
            removed_at: first.at,
            verified_at: first.at,
        };
    }
    for o in &streak[1..] {
        if o.at - last >= spacing {
            counted += 1;
            last = o.at;
            if counted >= needed {
                return OnlineVerdict::Offline {
                    removed_at: first.at,
                    verified_at: o.at,
                };
            }
        }
    }
    OnlineVerdict::Pending { misses: counted }
}

/// When the next check is due after an observation at `last`. A pending miss streak is
/// re-checked after the minimum spacing; the first `early_hours` of monitoring more often.
pub fn next_check_at(
    monitoring_since: DateTime<Utc>,
    last: DateTime<Utc>,
    pending_miss: bool,
    policy: &TakedownPolicy,
) -> DateTime<Utc> {
    let minutes = if pending_miss {
        policy.offline_min_spacing_minutes.max(1)
    } else if last < monitoring_since + Duration::hours(policy.early_hours) {
        policy.early_check_interval_minutes
    } else {
        policy.check_interval_minutes
    };
    last + Duration::minutes(minutes.max(1))
}

/// A tenant's takedown policy. Defaults are SCART's (ladder intervals, 3 misses ≥ 15 min apart)
/// plus the regulator escalation after a week, which SCART lacks.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TakedownPolicy {
    /// Minutes after monitoring starts before the first hoster notice.
    pub first_notice_delay_minutes: i64,
    /// Hours between hoster (or CDN) reminders while the material is online.
    pub hoster_reminder_hours: i64,
    /// Hours between site-owner notices (the first one after this long too).
    pub site_owner_every_hours: i64,
    /// Hours before the first registrar notice, and between registrar reminders.
    pub registrar_after_hours: i64,
    /// Hours before the police referral (once); `None`: never automatically.
    pub police_after_hours: Option<i64>,
    /// Hours before the regulator escalation (once); `None`: never.
    pub regulator_after_hours: Option<i64>,
    /// Most reminders per rung in one ladder run, so a dead case cannot mail forever.
    pub max_reminders: u32,
    /// Minutes between checks after the early phase.
    pub check_interval_minutes: i64,
    /// Minutes between checks in the early phase.
    pub early_check_interval_minutes: i64,
    /// Hours after monitoring starts that count as the early phase.
    pub early_hours: i64,
    /// Misses that make the offline verdict.
    pub offline_misses: u32,
    /// Minimum minutes between two misses that count.
    pub offline_min_spacing_minutes: i64,
    /// When notices may leave (`None`: any time).
    pub sending_window: Option<SendingWindow>,
}

impl Default for TakedownPolicy {
    fn default() -> Self {
        TakedownPolicy {
            first_notice_delay_minutes: 0,
            hoster_reminder_hours: 24,
            site_owner_every_hours: 72,
            registrar_after_hours: 144,
            police_after_hours: None,
            regulator_after_hours: Some(168),
            max_reminders: 30,
            check_interval_minutes: 60,
            early_check_interval_minutes: 15,
            early_hours: 6,
            offline_misses: 3,
            offline_min_spacing_minutes: 15,
            sending_window: None,
        }
    }
}

/// A takedown policy value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid takedown policy: {0}")]
pub struct TakedownPolicyError(pub String);

/// One year in hours: the upper bound for every interval.
const YEAR_HOURS: i64 = 8760;

impl TakedownPolicy {
    /// Checks every value is in a sensible range.
    pub fn validate(&self) -> Result<(), TakedownPolicyError> {
        fn range(name: &str, v: i64, lo: i64, hi: i64) -> Result<(), TakedownPolicyError> {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(TakedownPolicyError(format!(
                    "{name} must be between {lo} and {hi}, got {v}"
                )))
            }
        }
        range(
            "first_notice_delay_minutes",
            self.first_notice_delay_minutes,
            0,
            YEAR_HOURS * 60,
        )?;
        range(
            "hoster_reminder_hours",
            self.hoster_reminder_hours,
            1,
            YEAR_HOURS,
        )?;
        range(
            "site_owner_every_hours",
            self.site_owner_every_hours,
            1,
            YEAR_HOURS,
        )?;
        range(
            "registrar_after_hours",
            self.registrar_after_hours,
            1,
            YEAR_HOURS,
        )?;
        if let Some(h) = self.police_after_hours {
            range("police_after_hours", h, 0, YEAR_HOURS)?;
        }
        if let Some(h) = self.regulator_after_hours {
            range("regulator_after_hours", h, 1, YEAR_HOURS)?;
        }
        range("max_reminders", i64::from(self.max_reminders), 0, 1000)?;
        range(
            "check_interval_minutes",
            self.check_interval_minutes,
            1,
            7 * 24 * 60,
        )?;
        range(
            "early_check_interval_minutes",
            self.early_check_interval_minutes,
            1,
            self.check_interval_minutes,
        )?;
        range("early_hours", self.early_hours, 0, 30 * 24)?;
        range("offline_misses", i64::from(self.offline_misses), 1, 100)?;
        range(
            "offline_min_spacing_minutes",
            self.offline_min_spacing_minutes,
            0,
            24 * 60,
        )?;
        if let Some(w) = &self.sending_window {
            w.validate()?;
        }
        Ok(())
    }
}

/// Local office hours when notices may leave (SCART's rule as an option).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SendingWindow {
    /// Local time = UTC + this many minutes.
    pub utc_offset_minutes: i32,
    /// First local hour notices may leave (inclusive).
    pub start_hour: u32,
    /// Local hour from which they wait again (exclusive; 24 = midnight).
    pub end_hour: u32,
    /// Only Monday to Friday.
    pub weekdays_only: bool,
}

impl SendingWindow {
    /// Checks the hours and offset.
    pub fn validate(&self) -> Result<(), TakedownPolicyError> {
        if !(-14 * 60..=14 * 60).contains(&self.utc_offset_minutes) {
            return Err(TakedownPolicyError(format!(
                "sending_window.utc_offset_minutes must be between -840 and 840, got {}",
                self.utc_offset_minutes
            )));
        }
        if self.start_hour >= self.end_hour || self.end_hour > 24 {
            return Err(TakedownPolicyError(format!(
                "sending_window needs 0 <= start_hour < end_hour <= 24, got {}..{}",
                self.start_hour, self.end_hour
            )));
        }
        Ok(())
    }
}

/// The earliest time `>= at` inside the window (`at` itself when there is no window).
pub fn next_send_time(window: Option<&SendingWindow>, at: DateTime<Utc>) -> DateTime<Utc> {
    let Some(w) = window else {
        return at;
    };
    if w.start_hour >= w.end_hour || w.end_hour > 24 {
        // An invalid window (validate refuses it) must not stop notices forever.
        return at;
    }
    let offset = Duration::minutes(i64::from(w.utc_offset_minutes));
    let local = (at + offset).naive_utc();
    // At most one week ahead: every week has a weekday.
    for d in 0..8 {
        let date = local.date() + Duration::days(d);
        if w.weekdays_only && matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        let midnight = date.and_time(NaiveTime::MIN);
        let start = midnight + Duration::hours(i64::from(w.start_hour));
        let end = midnight + Duration::hours(i64::from(w.end_hour));
        if local < start {
            return Utc.from_utc_datetime(&start) - offset;
        }
        if local < end {
            return at;
        }
    }
    at
}

/// What the ladder needs to know about one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderState {
    /// The case state (the ladder only runs in `monitoring`; `police_hold` only refers to police).
    pub state: CaseState,
    /// Monitoring start, or the last hoster change (the ladder restarts from there).
    pub ladder_since: DateTime<Utc>,
    /// A site-owner contact is known.
    pub has_site_owner: bool,
    /// A registrar contact is known.
    pub has_registrar: bool,
    /// The site is behind a CDN with unknown origin: the hoster rung goes to the CDN.
    pub via_cdn: bool,
    /// Marked "police first".
    pub police_first: bool,
    /// Every step already queued or sent for this case (any notice state but cancelled).
    pub sent: Vec<SentStep>,
}

/// A step already taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentStep {
    /// Rung.
    pub rung: LadderRung,
    /// Sequence within the rung (0 = first notice).
    pub sequence: u32,
    /// When it was queued.
    pub at: DateTime<Utc>,
}

/// A step that is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueStep {
    /// Rung.
    pub rung: LadderRung,
    /// Sequence within the rung: unique per case and rung, ever.
    pub sequence: u32,
    /// When it became due.
    pub due_at: DateTime<Utc>,
}

/// Steps due at `now` (`due_at <= now`) that are not in `sent`.
///
/// Only while `monitoring` — except that a `police_hold` case marked police first gets its
/// police referral (#0) at once. Hoster (or CDN when `via_cdn`) #k at ladder_since + delay +
/// k·reminder; site owner #k at ladder_since + (k+1)·72 h; registrar #k at ladder_since +
/// (k+1)·144 h; police and regulator once per case. After a hoster change (`ladder_since`
/// moved) repeating rungs start again at k = 0, numbered after every earlier sequence (steps
/// queued before `ladder_since` belong to the earlier run), so (case, rung, sequence) stays
/// unique. Only the latest missed slot of a rung is returned: after downtime we do not send
/// five reminders at once.
pub fn due_steps(s: &LadderState, policy: &TakedownPolicy, now: DateTime<Utc>) -> Vec<DueStep> {
    let mut out = Vec::new();
    let once = |rung: LadderRung, due_at: DateTime<Utc>, out: &mut Vec<DueStep>| {
        if due_at <= now && !s.sent.iter().any(|x| x.rung == rung) {
            out.push(DueStep {
                rung,
                sequence: 0,
                due_at,
            });
        }
    };
    match s.state {
        CaseState::Monitoring => {}
        CaseState::PoliceHold if s.police_first => {
            once(LadderRung::Police, s.ladder_since, &mut out);
            return out;
        }
        _ => return out,
    }
    let hoster = if s.via_cdn {
        LadderRung::Cdn
    } else {
        LadderRung::Hoster
    };
    let delay = Duration::minutes(policy.first_notice_delay_minutes);
    let mut repeating = vec![(hoster, delay, Duration::hours(policy.hoster_reminder_hours))];
    if s.has_site_owner {
        let every = Duration::hours(policy.site_owner_every_hours);
        repeating.push((LadderRung::SiteOwner, every, every));
    }
    if s.has_registrar {
        let every = Duration::hours(policy.registrar_after_hours);
        repeating.push((LadderRung::Registrar, every, every));
    }
    for (rung, first, every) in repeating {
        if let Some(step) = latest_slot(s, rung, first, every, policy.max_reminders, now) {
            out.push(step);
        }
    }
    if let Some(h) = policy.police_after_hours {
        once(
            LadderRung::Police,
            s.ladder_since + Duration::hours(h),
            &mut out,
        );
    }
    if let Some(h) = policy.regulator_after_hours {
        once(
            LadderRung::Regulator,
            s.ladder_since + Duration::hours(h),
            &mut out,
        );
    }
    out
}

/// The latest slot of a repeating rung that is due and not yet taken.
fn latest_slot(
    s: &LadderState,
    rung: LadderRung,
    first: Duration,
    every: Duration,
    max_reminders: u32,
    now: DateTime<Utc>,
) -> Option<DueStep> {
    let start = s.ladder_since + first;
    if now < start || every <= Duration::zero() {
        return None;
    }
    let elapsed = (now - start).num_seconds();
    let slot = u32::try_from(elapsed / every.num_seconds().max(1))
        .unwrap_or(u32::MAX)
        .min(max_reminders);
    let base = s
        .sent
        .iter()
        .filter(|x| x.rung == rung && x.at < s.ladder_since)
        .map(|x| x.sequence.saturating_add(1))
        .max()
        .unwrap_or(0);
    let sequence = base.saturating_add(slot);
    if s.sent
        .iter()
        .any(|x| x.rung == rung && x.sequence >= sequence)
    {
        return None;
    }
    Some(DueStep {
        rung,
        sequence,
        due_at: start + every * i32::try_from(slot).unwrap_or(i32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseEvent as E;
    use CaseState as S;
    use LadderRung as R;
    use ObservationOutcome as O;

    fn t0() -> DateTime<Utc> {
        // A Monday.
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    fn h(n: i64) -> Duration {
        Duration::hours(n)
    }

    fn m(n: i64) -> Duration {
        Duration::minutes(n)
    }

    #[test]
    fn case_machine_every_pair() {
        let allowed: &[(CaseState, CaseEvent, CaseState)] = &[
            (S::Attributing, E::Attributed, S::Monitoring),
            (S::Attributing, E::ContactMissing, S::NeedsContact),
            (S::Attributing, E::PoliceFirst, S::PoliceHold),
            (S::Attributing, E::MovedAbroad, S::Forwarded),
            (S::Attributing, E::Close, S::Closed),
            (S::NeedsContact, E::ContactResolved, S::Monitoring),
            (S::NeedsContact, E::Attributed, S::Monitoring),
            (S::NeedsContact, E::PoliceFirst, S::PoliceHold),
            (S::NeedsContact, E::MovedAbroad, S::Forwarded),
            (S::NeedsContact, E::Close, S::Closed),
            (S::PoliceHold, E::PoliceReleased, S::Attributing),
            (S::PoliceHold, E::Close, S::Closed),
            (S::Monitoring, E::OfflineVerified, S::Removed),
            (S::Monitoring, E::MovedAbroad, S::Forwarded),
            (S::Monitoring, E::ContactMissing, S::NeedsContact),
            (S::Monitoring, E::PoliceFirst, S::PoliceHold),
            (S::Monitoring, E::Close, S::Closed),
            (S::Removed, E::Reappeared, S::Monitoring),
            (S::Removed, E::Close, S::Closed),
            (S::Forwarded, E::Close, S::Closed),
        ];
        let mut checked = 0;
        for &from in S::ALL {
            for &ev in E::ALL {
                let want = allowed
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == ev)
                    .map(|x| x.2);
                let got = transition(from, ev);
                match want {
                    Some(to) => assert_eq!(got, Ok(to), "{from} --{ev}-->"),
                    None => assert_eq!(
                        got,
                        Err(CaseError::Invalid { from, event: ev }),
                        "{from} --{ev}--> must be refused"
                    ),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 7 * 9);
    }

    #[test]
    fn enums_round_trip_as_text_and_json() {
        for &s in S::ALL {
            assert_eq!(s.as_str().parse::<CaseState>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for &r in R::ALL {
            assert_eq!(r.as_str().parse::<LadderRung>().unwrap(), r);
        }
        for &e in E::ALL {
            assert_eq!(e.as_str().parse::<CaseEvent>().unwrap(), e);
        }
        assert_eq!(R::SiteOwner.as_str(), "site_owner");
        assert!("nope".parse::<CaseState>().is_err());
        assert!(S::Removed.is_checked() && !S::Forwarded.is_checked());
    }

    fn obs(list: &[(i64, ObservationOutcome)]) -> Vec<ObservationPoint> {
        list.iter()
            .map(|&(min, outcome)| ObservationPoint {
                at: t0() + m(min),
                outcome,
            })
            .collect()
    }

    #[test]
    fn offline_verdict_table() {
        let p = TakedownPolicy::default();
        let off = |first: i64, last: i64| OnlineVerdict::Offline {
            removed_at: t0() + m(first),
            verified_at: t0() + m(last),
        };
        type Case = (&'static str, Vec<(i64, ObservationOutcome)>, OnlineVerdict);
        let cases: Vec<Case> = vec![
            ("nothing observed", vec![], OnlineVerdict::Online),
            ("online", vec![(0, O::Online)], OnlineVerdict::Online),
            (
                "one miss",
                vec![(0, O::Online), (60, O::Gone)],
                OnlineVerdict::Pending { misses: 1 },
            ),
            (
                "three spaced misses",
                vec![(0, O::Online), (60, O::Gone), (75, O::Gone), (90, O::Gone)],
                off(60, 90),
            ),
            (
                "error counts as a miss",
                vec![
                    (0, O::Online),
                    (60, O::Error),
                    (75, O::Gone),
                    (90, O::Error),
                ],
                off(60, 90),
            ),
            (
                "too close together",
                vec![(0, O::Online), (60, O::Gone), (61, O::Gone), (70, O::Gone)],
                OnlineVerdict::Pending { misses: 1 },
            ),
            (
                "close ones skipped, spaced ones count; removed at the first miss",
                vec![
                    (60, O::Gone),
                    (61, O::Gone),
                    (75, O::Gone),
                    (80, O::Gone),
                    (90, O::Gone),
                ],
                off(60, 90),
            ),
            (
                "exactly the spacing counts",
                vec![(0, O::Gone), (15, O::Gone), (30, O::Gone)],
                off(0, 30),
            ),
            (
                "online in between resets",
                vec![(0, O::Gone), (15, O::Gone), (30, O::Online), (45, O::Gone)],
                OnlineVerdict::Pending { misses: 1 },
            ),
            (
                "online last",
                vec![(0, O::Gone), (15, O::Gone), (30, O::Gone), (45, O::Online)],
                OnlineVerdict::Online,
            ),
            (
                "later misses keep the first verdict times",
                vec![(0, O::Gone), (15, O::Gone), (30, O::Gone), (90, O::Gone)],
                off(0, 30),
            ),
        ];
        for (name, hist, want) in cases {
            assert_eq!(online_verdict(&obs(&hist), &p), want, "{name}");
        }
        let one = TakedownPolicy {
            offline_misses: 1,
            ..TakedownPolicy::default()
        };
        assert_eq!(online_verdict(&obs(&[(5, O::Gone)]), &one), off(5, 5));
    }

    #[test]
    fn next_check_intervals() {
        let p = TakedownPolicy::default();
        let since = t0();
        assert_eq!(next_check_at(since, since, false, &p), since + m(15));
        assert_eq!(
            next_check_at(since, since + h(5), false, &p),
            since + h(5) + m(15)
        );
        assert_eq!(next_check_at(since, since + h(6), false, &p), since + h(7));
        assert_eq!(
            next_check_at(since, since + h(30), true, &p),
            since + h(30) + m(15)
        );
    }

    #[test]
    fn policy_defaults_validate_and_parse() {
        let p = TakedownPolicy::default();
        p.validate().unwrap();
        assert_eq!(p.regulator_after_hours, Some(168));
        let parsed: TakedownPolicy =
            serde_json::from_str(r#"{"hoster_reminder_hours": 12}"#).unwrap();
        assert_eq!(parsed.hoster_reminder_hours, 12);
        assert_eq!(parsed.site_owner_every_hours, 72);
        assert!(serde_json::from_str::<TakedownPolicy>(r#"{"bogus": 1}"#).is_err());
        let bad = [
            TakedownPolicy {
                hoster_reminder_hours: 0,
                ..p.clone()
            },
            TakedownPolicy {
                offline_misses: 0,
                ..p.clone()
            },
            TakedownPolicy {
                early_check_interval_minutes: 90,
                ..p.clone()
            },
            TakedownPolicy {
                police_after_hours: Some(-1),
                ..p.clone()
            },
            TakedownPolicy {
                sending_window: Some(SendingWindow {
                    utc_offset_minutes: 0,
                    start_hour: 17,
                    end_hour: 9,
                    weekdays_only: false,
                }),
                ..p.clone()
            },
            TakedownPolicy {
                sending_window: Some(SendingWindow {
                    utc_offset_minutes: 2000,
                    start_hour: 9,
                    end_hour: 17,
                    weekdays_only: false,
                }),
                ..p.clone()
            },
        ];
        for b in bad {
            assert!(b.validate().is_err(), "{b:?}");
        }
    }

    #[test]
    fn sending_window_table() {
        // Office hours 11:00–17:00 local, weekdays, local = UTC+1 (CET).
        let w = SendingWindow {
            utc_offset_minutes: 60,
            start_hour: 11,
            end_hour: 17,
            weekdays_only: true,
        };
        let utc = |d: u32, hh: u32, mm: u32| Utc.with_ymd_and_hms(2026, 3, d, hh, mm, 0).unwrap();
        // 2026-03-02 is a Monday; 03-06 Friday; 03-07/08 weekend; 03-09 Monday.
        let cases = [
            ("no window", None, utc(7, 3, 0), utc(7, 3, 0)),
            ("inside", Some(w), utc(2, 10, 0), utc(2, 10, 0)),
            ("start is inside", Some(w), utc(2, 10, 0), utc(2, 10, 0)),
            (
                "before start (local 09:30)",
                Some(w),
                utc(2, 8, 30),
                utc(2, 10, 0),
            ),
            (
                "end is outside (local 17:00)",
                Some(w),
                utc(2, 16, 0),
                utc(3, 10, 0),
            ),
            ("after end", Some(w), utc(2, 20, 0), utc(3, 10, 0)),
            (
                "friday evening waits for monday",
                Some(w),
                utc(6, 17, 0),
                utc(9, 10, 0),
            ),
            ("saturday", Some(w), utc(7, 12, 0), utc(9, 10, 0)),
            (
                "sunday late UTC is still sunday",
                Some(w),
                utc(8, 22, 0),
                utc(9, 10, 0),
            ),
            // UTC 23:30 Sunday = local 00:30 Monday: before start on Monday.
            (
                "offset crosses midnight",
                Some(w),
                utc(8, 23, 30),
                utc(9, 10, 0),
            ),
        ];
        for (name, win, at, want) in cases {
            assert_eq!(next_send_time(win.as_ref(), at), want, "{name}");
        }
        let all_week = SendingWindow {
            weekdays_only: false,
            ..w
        };
        assert_eq!(
            next_send_time(Some(&all_week), utc(7, 12, 0)),
            utc(7, 12, 0)
        );
        // Negative offset (UTC−5): local 08:00 Monday = 13:00 UTC, before 11:00 local.
        let west = SendingWindow {
            utc_offset_minutes: -300,
            ..w
        };
        assert_eq!(next_send_time(Some(&west), utc(2, 13, 0)), utc(2, 16, 0));
        let whole_day = SendingWindow {
            utc_offset_minutes: 0,
            start_hour: 0,
            end_hour: 24,
            weekdays_only: true,
        };
        assert_eq!(
            next_send_time(Some(&whole_day), utc(2, 23, 59)),
            utc(2, 23, 59)
        );
        assert_eq!(next_send_time(Some(&whole_day), utc(7, 1, 0)), utc(9, 0, 0));
    }

    fn ladder(state: CaseState) -> LadderState {
        LadderState {
            state,
            ladder_since: t0(),
            has_site_owner: false,
            has_registrar: false,
            via_cdn: false,
            police_first: false,
            sent: vec![],
        }
    }

    fn sent(rung: LadderRung, sequence: u32, at: DateTime<Utc>) -> SentStep {
        SentStep { rung, sequence, at }
    }

    fn steps(v: &[DueStep]) -> Vec<(LadderRung, u32, DateTime<Utc>)> {
        v.iter().map(|d| (d.rung, d.sequence, d.due_at)).collect()
    }

    #[test]
    fn ladder_with_scart_defaults() {
        let p = TakedownPolicy::default();
        let mut s = ladder(S::Monitoring);
        s.has_site_owner = true;
        s.has_registrar = true;
        // At once: hoster #0.
        assert_eq!(steps(&due_steps(&s, &p, t0())), vec![(R::Hoster, 0, t0())]);
        s.sent.push(sent(R::Hoster, 0, t0()));
        assert!(due_steps(&s, &p, t0() + h(23)).is_empty());
        // 24 h: hoster reminder #1.
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(24))),
            vec![(R::Hoster, 1, t0() + h(24))]
        );
        for k in 1..=3u32 {
            s.sent.push(sent(R::Hoster, k, t0() + h(24 * i64::from(k))));
        }
        // 72 h: site owner #0 (the hoster reminder #3 is taken).
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(72))),
            vec![(R::SiteOwner, 0, t0() + h(72))]
        );
        s.sent.push(sent(R::SiteOwner, 0, t0() + h(72)));
        for k in 4..=6u32 {
            s.sent.push(sent(R::Hoster, k, t0() + h(24 * i64::from(k))));
        }
        s.sent.push(sent(R::SiteOwner, 1, t0() + h(144)));
        // 144 h: registrar #0; 168 h: regulator once.
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(144))),
            vec![(R::Registrar, 0, t0() + h(144))]
        );
        s.sent.push(sent(R::Registrar, 0, t0() + h(144)));
        s.sent.push(sent(R::Hoster, 7, t0() + h(168)));
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(168))),
            vec![(R::Regulator, 0, t0() + h(168))]
        );
        s.sent.push(sent(R::Regulator, 0, t0() + h(168)));
        assert!(due_steps(&s, &p, t0() + h(168)).is_empty());
        // Regulator never again, even much later (other rungs continue).
        let later = due_steps(&s, &p, t0() + h(1000));
        assert!(later.iter().all(|d| d.rung != R::Regulator), "{later:?}");
    }

    #[test]
    fn ladder_only_the_latest_missed_slot() {
        let p = TakedownPolicy::default();
        let mut s = ladder(S::Monitoring);
        s.sent.push(sent(R::Hoster, 0, t0()));
        // Down for five days: one reminder (#5), not #1..#5.
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(5 * 24 + 3))),
            vec![(R::Hoster, 5, t0() + h(120))]
        );
        s.sent.push(sent(R::Hoster, 5, t0() + h(123)));
        // The skipped slots are not sent later.
        assert!(due_steps(&s, &p, t0() + h(143)).is_empty());
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(144))),
            vec![(R::Hoster, 6, t0() + h(144))]
        );
    }

    #[test]
    fn ladder_delay_cap_and_rungs_without_contact() {
        let p = TakedownPolicy {
            first_notice_delay_minutes: 60,
            max_reminders: 2,
            regulator_after_hours: None,
            ..TakedownPolicy::default()
        };
        let mut s = ladder(S::Monitoring);
        assert!(due_steps(&s, &p, t0() + m(59)).is_empty());
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + m(60))),
            vec![(R::Hoster, 0, t0() + m(60))]
        );
        s.sent.push(sent(R::Hoster, 0, t0() + m(60)));
        s.sent.push(sent(R::Hoster, 1, t0() + h(25)));
        s.sent.push(sent(R::Hoster, 2, t0() + h(49)));
        // Cap reached: nothing more, ever; no site owner / registrar without contacts.
        assert!(due_steps(&s, &p, t0() + h(2000)).is_empty());
    }

    #[test]
    fn ladder_cdn_rung_replaces_hoster() {
        let p = TakedownPolicy::default();
        let mut s = ladder(S::Monitoring);
        s.via_cdn = true;
        assert_eq!(steps(&due_steps(&s, &p, t0())), vec![(R::Cdn, 0, t0())]);
        s.sent.push(sent(R::Cdn, 0, t0()));
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(24))),
            vec![(R::Cdn, 1, t0() + h(24))]
        );
    }

    #[test]
    fn ladder_police_once() {
        let p = TakedownPolicy {
            police_after_hours: Some(48),
            regulator_after_hours: None,
            ..TakedownPolicy::default()
        };
        let mut s = ladder(S::Monitoring);
        s.sent.push(sent(R::Hoster, 0, t0()));
        s.sent.push(sent(R::Hoster, 1, t0() + h(24)));
        s.sent.push(sent(R::Hoster, 2, t0() + h(48)));
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(48))),
            vec![(R::Police, 0, t0() + h(48))]
        );
        s.sent.push(sent(R::Police, 0, t0() + h(48)));
        assert!(due_steps(&s, &p, t0() + h(48)).is_empty());
        // After a hoster change the police referral does not repeat.
        s.ladder_since = t0() + h(100);
        let again = due_steps(&s, &p, t0() + h(200));
        assert!(again.iter().all(|d| d.rung != R::Police), "{again:?}");
    }

    #[test]
    fn ladder_not_while_not_monitoring() {
        let p = TakedownPolicy {
            police_after_hours: Some(0),
            ..TakedownPolicy::default()
        };
        for &st in S::ALL {
            if st == S::Monitoring {
                continue;
            }
            let s = ladder(st);
            assert!(due_steps(&s, &p, t0() + h(500)).is_empty(), "{st}");
        }
        // Police first: the hold itself sends the police referral at once, nothing else.
        let mut s = ladder(S::PoliceHold);
        s.police_first = true;
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(500))),
            vec![(R::Police, 0, t0())]
        );
        s.sent.push(sent(R::Police, 0, t0()));
        assert!(due_steps(&s, &p, t0() + h(500)).is_empty());
        // Released and monitoring: no second police referral, the hoster ladder starts.
        s.state = S::Monitoring;
        s.ladder_since = t0() + h(600);
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(600))),
            vec![(R::Hoster, 0, t0() + h(600))]
        );
    }

    #[test]
    fn ladder_restarts_after_hoster_change_and_keeps_counting() {
        let p = TakedownPolicy::default();
        let mut s = ladder(S::Monitoring);
        s.has_site_owner = true;
        for k in 0..=2u32 {
            s.sent.push(sent(R::Hoster, k, t0() + h(24 * i64::from(k))));
        }
        // Hoster changed at 60 h: new hoster gets #3 at once, then #4 24 h later.
        s.ladder_since = t0() + h(60);
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(60))),
            vec![(R::Hoster, 3, t0() + h(60))]
        );
        s.sent.push(sent(R::Hoster, 3, t0() + h(60)));
        assert!(due_steps(&s, &p, t0() + h(83)).is_empty());
        assert_eq!(
            steps(&due_steps(&s, &p, t0() + h(84))),
            vec![(R::Hoster, 4, t0() + h(84))]
        );
        // Site owner timing restarts too: first at ladder_since + 72 h.
        s.sent.push(sent(R::Hoster, 4, t0() + h(84)));
        let at = t0() + h(60 + 72);
        let d = due_steps(&s, &p, at);
        assert!(d.contains(&DueStep {
            rung: R::SiteOwner,
            sequence: 0,
            due_at: at
        }));
    }
}
