//! Hotline reports: item life cycle as a pure state machine, classifications, reference numbers.
//!
//! The item machine covers intake up to `notice_pending`; the [takedown] work continues from
//! there (`monitoring` → `removed` …). It is a pure function so that the table test below is the
//! specification and the store only persists what [`transition`] allows.

use serde::{Deserialize, Serialize};

use crate::model::UnknownValue;

/// Database id of a report.
pub type ReportId = i64;
/// Database id of a report item.
pub type ItemId = i64;

macro_rules! simple_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
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
    /// Where one media item of a report is.
    ItemState, "item state", {
        /// Found on the reported page, not yet fetched and hashed.
        New => "new",
        /// Could not be fetched or hashed (kept for a re-try by a human).
        Unavailable => "unavailable",
        /// Waits for an analyst.
        AwaitingClassification => "awaiting_classification",
        /// Classified illegal by one analyst; waits for a second (4-eyes policy).
        AwaitingVerification => "awaiting_verification",
        /// Illegal and agreed: notices may go out ([takedown] continues from here).
        NoticePending => "notice_pending",
        /// Matched an allow list: never reported.
        Ignored => "ignored",
        /// Classified not illegal / ignore: nothing to do.
        Closed => "closed",
    }
);

simple_enum!(
    /// An analyst's (or a list's) verdict on an item, per the tenant's jurisdiction.
    Classification, "classification", {
        /// Internationally illegal (INHOPE baseline).
        Baseline => "baseline",
        /// Illegal under national law only.
        National => "national",
        /// Not illegal.
        NotIllegal => "not_illegal",
        /// Not relevant (icons, banners…).
        Ignore => "ignore",
    }
);

impl Classification {
    /// Whether notices follow.
    pub fn is_illegal(self) -> bool {
        matches!(self, Classification::Baseline | Classification::National)
    }
}

impl From<crate::model::Category> for Classification {
    fn from(c: crate::model::Category) -> Self {
        match c {
            crate::model::Category::Baseline => Classification::Baseline,
            crate::model::Category::National => Classification::National,
        }
    }
}

simple_enum!(
    /// Who may send reports and how they are weighted.
    SourceKind, "report source", {
        /// The public web form (anonymous allowed).
        Public => "public",
        /// Another hotline (INHOPE member).
        Hotline => "hotline",
        /// A police unit.
        Police => "police",
        /// A trusted flagger (DSA art. 22).
        TrustedFlagger => "trusted_flagger",
        /// The hotline's own staff (CLI, CSV upload by an analyst).
        Internal => "internal",
    }
);

/// Optional descriptive attributes of a classification (the [ui] issue shows them as questions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attributes {
    /// e.g. `infant`, `prepubescent`, `pubescent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_group: Option<String>,
    /// e.g. `female`, `male`, `both`, `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// e.g. `image_host`, `forum`, `cyberlocker`, `website`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_type: Option<String>,
    /// Drawn, rendered or AI-generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_content: Option<bool>,
}

impl Attributes {
    /// Checks that free-text values are short and printable.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("age_group", &self.age_group),
            ("gender", &self.gender),
            ("site_type", &self.site_type),
        ] {
            if let Some(v) = v
                && (v.is_empty() || v.len() > 64 || v.chars().any(char::is_control))
            {
                return Err(format!("{name} must be 1 to 64 printable characters"));
            }
        }
        Ok(())
    }
}

/// What happened to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemEvent {
    /// Fetching or hashing failed.
    FetchFailed,
    /// A `known` list matched: classified without a human (`illegal` per the entry category).
    KnownMatch,
    /// An `allow` list matched.
    AllowMatch,
    /// The same digest was classified before; the earlier verdict is inherited.
    Inherit(Classification),
    /// Hashed, nothing known: a human must look.
    NeedsAnalyst,
    /// An analyst classified it. `four_eyes`: the tenant requires a second analyst for illegal.
    Classify {
        /// The verdict.
        classification: Classification,
        /// Tenant policy.
        four_eyes: bool,
    },
    /// A second, different analyst agreed.
    VerifyAgree,
    /// A second analyst disagreed: back to the queue.
    VerifyDisagree,
    /// A human asks for another fetch attempt.
    Retry,
}

/// A transition that the life cycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("item in state {from} cannot take event {event:?}")]
pub struct TransitionError {
    /// Current state.
    pub from: ItemState,
    /// Refused event.
    pub event: ItemEvent,
}

/// The item life cycle (pure). Returns the next state or why the event is refused.
pub fn transition(from: ItemState, event: ItemEvent) -> Result<ItemState, TransitionError> {
    use ItemEvent as E;
    use ItemState as S;
    let verdict = |c: Classification| {
        if c.is_illegal() {
            S::NoticePending
        } else {
            S::Closed
        }
    };
    let next = match (from, event) {
        (S::New, E::FetchFailed) => S::Unavailable,
        (S::New, E::KnownMatch) => S::NoticePending,
        (S::New, E::AllowMatch) => S::Ignored,
        (S::New, E::Inherit(c)) => verdict(c),
        (S::New, E::NeedsAnalyst) => S::AwaitingClassification,
        (S::Unavailable, E::Retry) => S::New,
        // An analyst may classify a waiting item, or re-classify one awaiting verification
        // (changing their mind before the second analyst answers).
        (
            S::AwaitingClassification | S::AwaitingVerification,
            E::Classify {
                classification,
                four_eyes,
            },
        ) => {
            if classification.is_illegal() && four_eyes {
                S::AwaitingVerification
            } else {
                verdict(classification)
            }
        }
        (S::AwaitingVerification, E::VerifyAgree) => S::NoticePending,
        (S::AwaitingVerification, E::VerifyDisagree) => S::AwaitingClassification,
        _ => return Err(TransitionError { from, event }),
    };
    Ok(next)
}

/// Where a report is, derived from its items' states (so it can never disagree with them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// Being fetched and hashed.
    Processing,
    /// Nothing could be fetched from the URL: a human must decide.
    CannotFetch,
    /// At least one item waits for an analyst.
    AwaitingClassification,
    /// At least one item waits for a second analyst (and none for a first).
    AwaitingVerification,
    /// Illegal items agreed, notices may go out.
    NoticePending,
    /// Nothing illegal left to pursue.
    Closed,
}

impl ReportState {
    /// Text form.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportState::Processing => "processing",
            ReportState::CannotFetch => "cannot_fetch",
            ReportState::AwaitingClassification => "awaiting_classification",
            ReportState::AwaitingVerification => "awaiting_verification",
            ReportState::NoticePending => "notice_pending",
            ReportState::Closed => "closed",
        }
    }

    /// Whether the case is finished (evidence retention starts counting).
    pub fn is_closed(self) -> bool {
        self == ReportState::Closed
    }
}

/// The report's state from its items; `processed` says whether the fetch job has finished.
pub fn report_state(processed: bool, items: &[ItemState]) -> ReportState {
    use ItemState as S;
    if !processed || items.contains(&S::New) {
        return ReportState::Processing;
    }
    if items.is_empty() || items.iter().all(|s| *s == S::Unavailable) {
        return ReportState::CannotFetch;
    }
    if items.contains(&S::AwaitingClassification) {
        ReportState::AwaitingClassification
    } else if items.contains(&S::AwaitingVerification) {
        ReportState::AwaitingVerification
    } else if items.contains(&S::NoticePending) {
        ReportState::NoticePending
    } else {
        ReportState::Closed
    }
}

/// A tenant's report reference, e.g. `NL-2026-000123`: readable on the phone, sortable, and
/// unique per tenant and year.
pub fn reference(prefix: &str, year: i32, seq: i64) -> String {
    format!("{}-{year}-{seq:06}", prefix.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Classification as C;
    use ItemEvent as E;
    use ItemState as S;

    fn cl(c: Classification, four_eyes: bool) -> ItemEvent {
        E::Classify {
            classification: c,
            four_eyes,
        }
    }

    #[test]
    fn item_state_table() {
        let table: &[(ItemState, ItemEvent, Option<ItemState>)] = &[
            (S::New, E::KnownMatch, Some(S::NoticePending)),
            (S::New, E::AllowMatch, Some(S::Ignored)),
            (S::New, E::NeedsAnalyst, Some(S::AwaitingClassification)),
            (S::New, E::FetchFailed, Some(S::Unavailable)),
            (S::New, E::Inherit(C::Baseline), Some(S::NoticePending)),
            (S::New, E::Inherit(C::NotIllegal), Some(S::Closed)),
            (S::New, cl(C::Baseline, false), None),
            (S::Unavailable, E::Retry, Some(S::New)),
            (S::Unavailable, cl(C::Baseline, false), None),
            (
                S::AwaitingClassification,
                cl(C::Baseline, false),
                Some(S::NoticePending),
            ),
            (
                S::AwaitingClassification,
                cl(C::National, true),
                Some(S::AwaitingVerification),
            ),
            (
                S::AwaitingClassification,
                cl(C::NotIllegal, true),
                Some(S::Closed),
            ),
            (
                S::AwaitingClassification,
                cl(C::Ignore, false),
                Some(S::Closed),
            ),
            (S::AwaitingClassification, E::VerifyAgree, None),
            (S::AwaitingClassification, E::KnownMatch, None),
            (
                S::AwaitingVerification,
                E::VerifyAgree,
                Some(S::NoticePending),
            ),
            (
                S::AwaitingVerification,
                E::VerifyDisagree,
                Some(S::AwaitingClassification),
            ),
            (
                S::AwaitingVerification,
                cl(C::NotIllegal, true),
                Some(S::Closed),
            ),
            (S::NoticePending, cl(C::NotIllegal, false), None),
            (S::NoticePending, E::VerifyAgree, None),
            (S::Closed, cl(C::Baseline, false), None),
            (S::Ignored, E::NeedsAnalyst, None),
            (S::Closed, E::Retry, None),
        ];
        for (from, event, want) in table {
            let got = transition(*from, *event).ok();
            assert_eq!(got, *want, "{from} + {event:?}");
        }
    }

    #[test]
    fn report_state_table() {
        use ReportState as R;
        let table: &[(bool, &[ItemState], ReportState)] = &[
            (false, &[], R::Processing),
            (true, &[S::New, S::Closed], R::Processing),
            (true, &[], R::CannotFetch),
            (true, &[S::Unavailable], R::CannotFetch),
            (
                true,
                &[S::Unavailable, S::AwaitingClassification],
                R::AwaitingClassification,
            ),
            (
                true,
                &[S::AwaitingVerification, S::AwaitingClassification],
                R::AwaitingClassification,
            ),
            (
                true,
                &[S::AwaitingVerification, S::NoticePending],
                R::AwaitingVerification,
            ),
            (true, &[S::NoticePending, S::Ignored], R::NoticePending),
            (true, &[S::Ignored, S::Closed, S::Unavailable], R::Closed),
        ];
        for (processed, items, want) in table {
            assert_eq!(report_state(*processed, items), *want, "{items:?}");
        }
    }

    #[test]
    fn references_and_text_forms() {
        assert_eq!(reference("nl", 2026, 123), "NL-2026-000123");
        assert_eq!(
            "awaiting_verification".parse::<ItemState>(),
            Ok(S::AwaitingVerification)
        );
        assert!("illegal".parse::<Classification>().is_err());
        assert!(C::National.is_illegal() && !C::Ignore.is_illegal());
        let a: Attributes = serde_json::from_str(r#"{"age_group":"pubescent"}"#).unwrap();
        assert!(a.validate().is_ok());
        assert!(serde_json::from_str::<Attributes>(r#"{"colour":"x"}"#).is_err());
    }
}
