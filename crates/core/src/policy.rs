//! Pure policies of the hash-check service: limits, defaults and decisions that the server,
//! the store and the CLI must agree on.

use chrono::{DateTime, Duration, Utc};

use crate::model::{Category, ListKind};

/// Most hashes one check request may carry (larger batches get 413).
pub const MAX_BATCH: usize = 10_000;
/// Default PDQ match radius (Meta's recommended threshold).
pub const DEFAULT_PDQ_RADIUS: u32 = 31;
/// Default minimum PDQ quality (Meta's recommendation: discard below 50).
pub const DEFAULT_MIN_QUALITY: u32 = 50;
/// Largest radius a list may set: beyond this PDQ matches unrelated images.
pub const MAX_PDQ_RADIUS: u32 = 64;
/// Default hours a provider has to act on a hit (Dutch sector norm).
pub const DEFAULT_HIT_DEADLINE_HOURS: i64 = 24;

/// A list setting that is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Radius above [`MAX_PDQ_RADIUS`].
    #[error("pdq_radius must be between 0 and {MAX_PDQ_RADIUS}, got {0}")]
    Radius(u32),
    /// Quality above 100.
    #[error("min_quality must be between 0 and 100, got {0}")]
    Quality(u32),
    /// A name that is empty, too long or has control characters.
    #[error("{what} must be 1 to 100 printable characters")]
    Name {
        /// Which name.
        what: &'static str,
    },
    /// Deadline hours out of range.
    #[error("hit_deadline_hours must be between 1 and 8760, got {0}")]
    Deadline(i64),
}

/// Checks a list's PDQ settings.
pub fn validate_list_settings(pdq_radius: u32, min_quality: u32) -> Result<(), PolicyError> {
    if pdq_radius > MAX_PDQ_RADIUS {
        return Err(PolicyError::Radius(pdq_radius));
    }
    if min_quality > 100 {
        return Err(PolicyError::Quality(min_quality));
    }
    Ok(())
}

/// Checks a display name (tenant, organisation, list, key label).
pub fn validate_name(what: &'static str, name: &str) -> Result<(), PolicyError> {
    let n = name.chars().count();
    if n == 0 || n > 100 || name.chars().any(char::is_control) || name.trim() != name {
        return Err(PolicyError::Name { what });
    }
    Ok(())
}

/// Checks a tenant's hit deadline.
pub fn validate_deadline_hours(hours: i64) -> Result<(), PolicyError> {
    if !(1..=8760).contains(&hours) {
        return Err(PolicyError::Deadline(hours));
    }
    Ok(())
}

/// When a provider must have acted on a hit recorded at `at`.
pub fn hit_deadline(at: DateTime<Utc>, deadline_hours: i64) -> DateTime<Utc> {
    at + Duration::hours(deadline_hours)
}

/// Whether a PDQ query of the given quality may be matched against a list.
///
/// Decision: a query below a list's minimum is *not matched* against that list and the result
/// flags it (`quality_below_minimum`), rather than failing the whole batch: low-quality hashes
/// (flat or tiny images) match unrelated images, and one bad item must not lose the others.
/// When the caller does not say the quality, we cannot judge and match normally.
pub fn quality_allows(quality: Option<u32>, min_quality: u32) -> bool {
    quality.is_none_or(|q| q >= min_quality)
}

/// Arachnid Shield's classification for a match.
///
/// Mapping: `baseline` (internationally illegal) → `csam`; `national` → `harmful-abusive-material`
/// (illegal or harmful under national rules but outside the baseline). Allow lists never classify.
pub fn shield_classification(kind: ListKind, category: Category) -> Option<&'static str> {
    match (kind, category) {
        (ListKind::Allow, _) => None,
        (ListKind::Known, Category::Baseline) => Some("csam"),
        (ListKind::Known, Category::National) => Some("harmful-abusive-material"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_settings_bounds() {
        assert!(validate_list_settings(31, 50).is_ok());
        assert!(validate_list_settings(64, 100).is_ok());
        assert_eq!(validate_list_settings(65, 50), Err(PolicyError::Radius(65)));
        assert_eq!(
            validate_list_settings(31, 101),
            Err(PolicyError::Quality(101))
        );
    }

    #[test]
    fn names_must_be_printable_and_trimmed() {
        assert!(validate_name("name", "NL hotline").is_ok());
        assert!(validate_name("name", "").is_err());
        assert!(validate_name("name", " x").is_err());
        assert!(validate_name("name", "a\nb").is_err());
        assert!(validate_name("name", &"x".repeat(101)).is_err());
    }

    #[test]
    fn quality_gate() {
        assert!(quality_allows(None, 50));
        assert!(quality_allows(Some(50), 50));
        assert!(!quality_allows(Some(49), 50));
    }

    #[test]
    fn deadline_is_added_in_hours() {
        let at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            hit_deadline(at, 24).to_rfc3339(),
            "2026-01-02T00:00:00+00:00"
        );
        assert!(validate_deadline_hours(0).is_err());
    }

    #[test]
    fn shield_mapping() {
        assert_eq!(
            shield_classification(ListKind::Known, Category::Baseline),
            Some("csam")
        );
        assert_eq!(
            shield_classification(ListKind::Known, Category::National),
            Some("harmful-abusive-material")
        );
        assert_eq!(
            shield_classification(ListKind::Allow, Category::Baseline),
            None
        );
    }
}
