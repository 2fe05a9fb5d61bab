//! Prometheus metrics (OpenMetrics text at `/metrics`). No hash values or key ids as labels.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route template (e.g. `/api/v1/check`).
    pub route: String,
    /// HTTP status code.
    pub status: u16,
}

/// Labels of a route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    /// Route template.
    pub route: String,
}

/// Labels of a checked signal.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignalLabel {
    /// md5, sha1, sha256, pdq.
    pub signal_type: String,
}

/// All service metrics.
pub struct Metrics {
    /// The registry that `/metrics` encodes.
    pub registry: Registry,
    /// Requests by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by route, seconds.
    pub latency: Family<RouteLabel, Histogram>,
    /// Signals checked, by type.
    pub checks: Family<SignalLabel, Counter>,
    /// Hits recorded.
    pub hits: Counter,
    /// Matches suppressed by allow lists.
    pub suppressed: Counter,
    /// Active entries loaded in matchers.
    pub entries: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("schoon");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 18))
        });
        let checks = Family::<SignalLabel, Counter>::default();
        let hits = Counter::default();
        let suppressed = Counter::default();
        let entries = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register("checks", "Signals checked by type", checks.clone());
        registry.register("hits", "Hits recorded", hits.clone());
        registry.register(
            "suppressed",
            "Matches suppressed by allow lists",
            suppressed.clone(),
        );
        registry.register(
            "matcher_entries",
            "Active list entries loaded",
            entries.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            checks,
            hits,
            suppressed,
            entries,
        }
    }
}

impl Metrics {
    /// OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        if prometheus_client::encoding::text::encode(&mut s, &self.registry).is_err() {
            s.clear();
        }
        s
    }
}
