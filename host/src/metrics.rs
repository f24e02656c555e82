//! Lookup metrics, rendered in Prometheus' text exposition format (version 0.0.4).
//!
//! Counters are atomics in fixed arrays, indexed by kind, outcome and provider (the chain's links, known when
//! metrics are switched on), so recording a lookup takes no lock and allocates nothing; only a provider
//! failure takes a short lock, to count it by error kind. Labels come only from
//! closed sets: kinds, outcomes, error kinds (the WIT error cases), HTTP status codes and the provider names
//! of the configuration. Ids, teams and values never become labels: a label per id would grow without bound
//! and would publish what is looked up.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::cache::Kind;

/// The result of a chain lookup, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A provider (or the cache) had the value.
    Found,
    /// No provider had it.
    NotFound,
    /// The lookup failed.
    Error,
}

impl Outcome {
    const ALL: [Self; 3] = [Self::Found, Self::NotFound, Self::Error];

    /// The name labels and the audit log use.
    pub fn label(self) -> &'static str {
        match self {
            Self::Found => "found",
            Self::NotFound => "not_found",
            Self::Error => "error",
        }
    }
}

/// Where a chain lookup's answer came from, with the cache on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheResult {
    /// A fresh answer the cache held.
    Hit,
    /// Asked the providers.
    Miss,
    /// Waited for the same lookup another caller had in flight.
    Coalesced,
    /// The providers could not answer; an earlier answer, within the maximum staleness, was served.
    Stale,
}

impl CacheResult {
    const ALL: [Self; 4] = [Self::Hit, Self::Miss, Self::Coalesced, Self::Stale];

    fn label(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Coalesced => "coalesced",
            Self::Stale => "stale",
        }
    }
}

/// The upper bounds of the lookup-duration histogram's buckets, in seconds: from a cache hit (10 µs holds
/// nearly all of them) to a lookup near its deadline.
const DURATION_BUCKETS: [f64; 19] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One kind's lookup durations: a count per bucket (the last for anything above the largest bound), and the
/// sum in nanoseconds.
#[derive(Debug, Default)]
struct Durations {
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Durations {
    fn record(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let bucket = DURATION_BUCKETS.iter().position(|&bound| seconds <= bound).unwrap_or(DURATION_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }
}

type ByKind<T> = [T; Kind::ALL.len()];

/// One provider's answers to the chain's lookups.
#[derive(Debug)]
struct ProviderCounters {
    name: String,
    /// Found and not found, by kind.
    answers: ByKind<[AtomicU64; 2]>,
    /// Failures by kind and error kind ([`crate::LookupError::kind`]: a closed set of static names).
    errors: std::sync::Mutex<Vec<(Kind, &'static str, u64)>>,
}

/// The chain's metrics (see [`crate::Chain::with_metrics`]).
#[derive(Debug)]
pub struct Metrics {
    lookups: ByKind<[AtomicU64; 3]>,
    cache: ByKind<[AtomicU64; 4]>,
    durations: ByKind<Durations>,
    providers: Vec<ProviderCounters>,
    audit_failures: AtomicU64,
}

fn kind_index(kind: Kind) -> usize {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

impl Metrics {
    /// Metrics for a chain whose providers are named `providers`, in the chain's order.
    pub fn new<'a>(providers: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            lookups: Default::default(),
            cache: Default::default(),
            durations: Default::default(),
            providers: providers
                .into_iter()
                .map(|name| ProviderCounters {
                    name: name.to_owned(),
                    answers: Default::default(),
                    errors: std::sync::Mutex::default(),
                })
                .collect(),
            audit_failures: AtomicU64::new(0),
        }
    }

    /// Counts one chain lookup of `kind` and how long it took.
    pub fn record_lookup(&self, kind: Kind, outcome: Outcome, duration: Duration) {
        let k = kind_index(kind);
        let o = Outcome::ALL.iter().position(|x| *x == outcome).unwrap_or(0);
        self.lookups[k][o].fetch_add(1, Relaxed);
        self.durations[k].record(duration);
    }

    /// Counts where a cached chain lookup's answer came from.
    pub fn record_cache(&self, kind: Kind, result: CacheResult) {
        let r = CacheResult::ALL.iter().position(|x| *x == result).unwrap_or(0);
        self.cache[kind_index(kind)][r].fetch_add(1, Relaxed);
    }

    /// Counts the answer of the chain's provider number `provider`: found, not found, or an error of
    /// `error_kind`.
    pub fn record_provider(&self, provider: usize, kind: Kind, answer: Result<bool, &'static str>) {
        let Some(counters) = self.providers.get(provider) else { return };
        let k = kind_index(kind);
        match answer {
            Ok(found) => {
                counters.answers[k][usize::from(!found)].fetch_add(1, Relaxed);
            }
            Err(error_kind) => {
                let mut errors = counters.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                match errors.iter_mut().find(|(kd, e, _)| *kd == kind && *e == error_kind) {
                    Some((_, _, n)) => *n += 1,
                    None => errors.push((kind, error_kind, 1)),
                }
            }
        }
    }

    /// Counts a line the audit log could not write.
    pub fn record_audit_failure(&self) {
        self.audit_failures.fetch_add(1, Relaxed);
    }

    /// How many chain lookups of `kind` ended with `outcome`.
    pub fn lookups(&self, kind: Kind, outcome: Outcome) -> u64 {
        let o = Outcome::ALL.iter().position(|x| *x == outcome).unwrap_or(0);
        self.lookups[kind_index(kind)][o].load(Relaxed)
    }

    /// How many cached chain lookups of `kind` were answered as `result`.
    pub fn cache_lookups(&self, kind: Kind, result: CacheResult) -> u64 {
        let r = CacheResult::ALL.iter().position(|x| *x == result).unwrap_or(0);
        self.cache[kind_index(kind)][r].load(Relaxed)
    }

    /// The exposition text: these counters, then `api_requests` (per provider name, the status counts of its
    /// transport).
    pub fn render(&self, api_requests: &[(&str, &StatusCounts)]) -> String {
        let mut out = String::new();
        header(&mut out, "wasm_secrets_lookups_total", "counter", "Chain lookups by kind and outcome.");
        for kind in Kind::ALL {
            for outcome in Outcome::ALL {
                let n = self.lookups(kind, outcome);
                let _ = writeln!(
                    out,
                    "wasm_secrets_lookups_total{{kind=\"{}\",outcome=\"{}\"}} {n}",
                    kind.singular(),
                    outcome.label()
                );
            }
        }
        header(
            &mut out,
            "wasm_secrets_lookup_duration_seconds",
            "histogram",
            "Chain lookup durations, cache hits included.",
        );
        for kind in Kind::ALL {
            let d = &self.durations[kind_index(kind)];
            let mut cumulative = 0;
            for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
                cumulative += d.buckets[i].load(Relaxed);
                let _ = writeln!(
                    out,
                    "wasm_secrets_lookup_duration_seconds_bucket{{kind=\"{}\",le=\"{bound}\"}} {cumulative}",
                    kind.singular()
                );
            }
            cumulative += d.buckets[DURATION_BUCKETS.len()].load(Relaxed);
            let label = kind.singular();
            let _ = writeln!(
                out,
                "wasm_secrets_lookup_duration_seconds_bucket{{kind=\"{label}\",le=\"+Inf\"}} {cumulative}"
            );
            let sum = d.sum_nanos.load(Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "wasm_secrets_lookup_duration_seconds_sum{{kind=\"{label}\"}} {sum}");
            let _ = writeln!(out, "wasm_secrets_lookup_duration_seconds_count{{kind=\"{label}\"}} {cumulative}");
        }
        header(&mut out, "wasm_secrets_cache_lookups_total", "counter", "Cached chain lookups by kind and result.");
        for kind in Kind::ALL {
            for result in CacheResult::ALL {
                let _ = writeln!(
                    out,
                    "wasm_secrets_cache_lookups_total{{kind=\"{}\",result=\"{}\"}} {}",
                    kind.singular(),
                    result.label(),
                    self.cache_lookups(kind, result)
                );
            }
        }
        header(
            &mut out,
            "wasm_secrets_provider_answers_total",
            "counter",
            "Provider answers to chain lookups by provider, kind and outcome.",
        );
        for p in &self.providers {
            let provider = escape(&p.name);
            for kind in Kind::ALL {
                for (i, outcome) in [Outcome::Found, Outcome::NotFound].into_iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "wasm_secrets_provider_answers_total{{provider=\"{provider}\",kind=\"{}\",outcome=\"{}\"}} {}",
                        kind.singular(),
                        outcome.label(),
                        p.answers[kind_index(kind)][i].load(Relaxed)
                    );
                }
            }
        }
        header(
            &mut out,
            "wasm_secrets_provider_errors_total",
            "counter",
            "Provider failures by provider, kind and error kind.",
        );
        for p in &self.providers {
            let provider = escape(&p.name);
            let mut errors = p.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            errors.sort_by_key(|(kind, error, _)| (*kind, *error));
            for (kind, error, n) in errors {
                let _ = writeln!(
                    out,
                    "wasm_secrets_provider_errors_total{{provider=\"{provider}\",kind=\"{}\",error=\"{}\"}} {n}",
                    kind.singular(),
                    escape(error)
                );
            }
        }
        header(
            &mut out,
            "wasm_secrets_api_requests_total",
            "counter",
            "Requests the host's transport sent for each provider, by HTTP status (`error`: no answer).",
        );
        for (name, counts) in api_requests {
            let provider = escape(name);
            for (status, n) in counts.snapshot() {
                let _ =
                    writeln!(out, "wasm_secrets_api_requests_total{{provider=\"{provider}\",status=\"{status}\"}} {n}");
            }
        }
        header(&mut out, "wasm_secrets_audit_failures_total", "counter", "Audit log lines that could not be written.");
        let _ = writeln!(out, "wasm_secrets_audit_failures_total {}", self.audit_failures.load(Relaxed));
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value escaped as the exposition format requires (backslash, double quote, line feed).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Answers of one transport by HTTP status (100 to 999, what HTTP allows), and the requests that got none
/// (refused by the network, timed out, cut off, or dropped at the lookup's deadline). A fixed array over the
/// status range: recording takes no lock.
#[derive(Debug)]
pub struct StatusCounts {
    codes: Box<[AtomicU64]>,
    failed: AtomicU64,
}

impl Default for StatusCounts {
    fn default() -> Self {
        Self { codes: (100..1000).map(|_| AtomicU64::new(0)).collect(), failed: AtomicU64::new(0) }
    }
}

impl StatusCounts {
    /// Counts an answer with `status`, or (`None`, or a status outside 100 to 999) a request that got no
    /// answer.
    pub fn record(&self, status: Option<u16>) {
        match status.and_then(|s| self.codes.get(usize::from(s).checked_sub(100)?)) {
            Some(counter) => counter.fetch_add(1, Relaxed),
            None => self.failed.fetch_add(1, Relaxed),
        };
    }

    /// The non-zero counts, by status code in ascending order, then `error` for requests without an answer.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = self
            .codes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some(n.load(Relaxed)).filter(|n| *n > 0).map(|n| ((i + 100).to_string(), n)))
            .collect();
        let failed = self.failed.load(Relaxed);
        if failed > 0 {
            counts.push(("error".to_owned(), failed));
        }
        counts
    }
}

/// The live views' counters in the text format: lists, relists, watch restarts, applied watch lines, failures
/// and lookups answered from memory, by provider; and the items each view holds, by provider and kind.
pub fn render_live(views: &[(&str, &crate::live::LiveView)]) -> String {
    let mut out = String::new();
    if views.is_empty() {
        return out;
    }
    type Read = fn(&crate::live::LiveCounts) -> u64;
    let counters: [(&str, &str, Read); 7] = [
        ("wasm_secrets_live_lists_total", "Complete lists of a live view (the first and every relist).", |c| {
            c.lists.load(Relaxed)
        }),
        ("wasm_secrets_live_relists_total", "Lists made because the watch's version expired (410 Gone).", |c| {
            c.relists.load(Relaxed)
        }),
        ("wasm_secrets_live_watch_restarts_total", "Watches opened again after one ended or failed.", |c| {
            c.watch_restarts.load(Relaxed)
        }),
        ("wasm_secrets_live_events_total", "Watch lines and lists applied to a live view.", |c| c.events.load(Relaxed)),
        ("wasm_secrets_live_failures_total", "Failures while listing or watching.", |c| c.failures.load(Relaxed)),
        ("wasm_secrets_live_answers_total", "Provider lookups answered from a live view.", |c| {
            c.answered.load(Relaxed)
        }),
        (
            "wasm_secrets_live_stale_answers_total",
            "Of those, answered while following had failed (known values through an outage).",
            |c| c.stale.load(Relaxed),
        ),
    ];
    for (name, help, value) in counters {
        header(&mut out, name, "counter", help);
        for (provider, view) in views {
            let _ = writeln!(out, "{name}{{provider=\"{}\"}} {}", escape(provider), value(view.counts()));
        }
    }
    header(&mut out, "wasm_secrets_live_items", "gauge", "Items a live view holds, by provider and kind.");
    for (provider, view) in views {
        for kind in crate::live::Kind::ALL {
            let _ = writeln!(
                out,
                "wasm_secrets_live_items{{provider=\"{}\",kind=\"{}\"}} {}",
                escape(provider),
                kind.cache_kind().singular(),
                view.len(kind)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_their_labels() {
        let metrics = Metrics::new(["kubernetes", "we\"ird\\name\n"]);
        metrics.record_lookup(Kind::Variable, Outcome::Found, Duration::from_micros(7));
        metrics.record_lookup(Kind::Variable, Outcome::Found, Duration::from_micros(300));
        metrics.record_lookup(Kind::Connection, Outcome::Error, Duration::from_secs(30));
        metrics.record_cache(Kind::Variable, CacheResult::Hit);
        metrics.record_provider(0, Kind::Variable, Ok(true));
        metrics.record_provider(1, Kind::Connection, Err("unavailable"));
        metrics.record_provider(1, Kind::Connection, Err("unavailable"));
        metrics.record_provider(7, Kind::Connection, Ok(true));
        let statuses = StatusCounts::default();
        statuses.record(Some(200));
        statuses.record(Some(200));
        statuses.record(Some(410));
        statuses.record(None);
        statuses.record(Some(99));
        let text = metrics.render(&[("kubernetes", &statuses)]);
        let lines: Vec<&str> = text.lines().collect();
        for expected in [
            "wasm_secrets_lookups_total{kind=\"variable\",outcome=\"found\"} 2",
            "wasm_secrets_lookups_total{kind=\"connection\",outcome=\"error\"} 1",
            "wasm_secrets_lookups_total{kind=\"config\",outcome=\"not_found\"} 0",
            "wasm_secrets_lookup_duration_seconds_bucket{kind=\"variable\",le=\"0.00001\"} 1",
            "wasm_secrets_lookup_duration_seconds_bucket{kind=\"variable\",le=\"0.00025\"} 1",
            "wasm_secrets_lookup_duration_seconds_bucket{kind=\"variable\",le=\"0.0005\"} 2",
            "wasm_secrets_lookup_duration_seconds_bucket{kind=\"variable\",le=\"+Inf\"} 2",
            "wasm_secrets_lookup_duration_seconds_sum{kind=\"variable\"} 0.000307",
            "wasm_secrets_lookup_duration_seconds_count{kind=\"variable\"} 2",
            "wasm_secrets_lookup_duration_seconds_bucket{kind=\"connection\",le=\"10\"} 0",
            "wasm_secrets_lookup_duration_seconds_bucket{kind=\"connection\",le=\"+Inf\"} 1",
            "wasm_secrets_cache_lookups_total{kind=\"variable\",result=\"hit\"} 1",
            "wasm_secrets_provider_answers_total{provider=\"kubernetes\",kind=\"variable\",outcome=\"found\"} 1",
            "wasm_secrets_provider_errors_total{provider=\"we\\\"ird\\\\name\\n\",kind=\"connection\",error=\"unavailable\"} 2",
            "wasm_secrets_api_requests_total{provider=\"kubernetes\",status=\"200\"} 2",
            "wasm_secrets_api_requests_total{provider=\"kubernetes\",status=\"410\"} 1",
            "wasm_secrets_api_requests_total{provider=\"kubernetes\",status=\"error\"} 2",
            "# TYPE wasm_secrets_lookup_duration_seconds histogram",
        ] {
            assert!(lines.contains(&expected), "missing `{expected}` in:\n{text}");
        }
        // Every sample line is `name{labels} value` or `name value`, and every name has its TYPE first.
        let mut typed = Vec::new();
        for line in &lines {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                typed.push(rest.split(' ').next().unwrap_or_default().to_owned());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                let family = ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
                assert!(typed.iter().any(|t| t == family || t == name), "{line} has no TYPE before it");
                assert!(line.rsplit(' ').next().is_some_and(|v| v.parse::<f64>().is_ok()), "{line}");
            }
        }
    }
}
