//! Benchmark runs: one lookup repeated through a [`Chain`], with its latency distribution, its errors by kind
//! and the API requests it cost. What `secrets bench` runs, as a library so a host can measure its own chain
//! in-process.
//!
//! A run is a warm-up (lookups whose results are dropped: the first lookups load what later ones reuse,
//! such as kept-alive connections and compiled code pages), then the measured lookups, `concurrency` at a
//! time. Latencies go into a [`Histogram`] of fixed size, so a long run measures without growing the memory
//! it measures. API requests are read from the host's transport before and after the measured part, not
//! estimated from the lookups.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::chain::{Chain, ChainError};

/// The most lookups a run keeps in flight at once (each worker holds one [`Histogram`], about 20 KiB).
pub const MAX_CONCURRENCY: usize = 1024;

/// Latencies in buckets 1 % wide, from 1 ns to about 170 s: fixed memory whatever the number of lookups.
/// A quantile is the upper bound of its bucket (at most 1 % above the true value), never above the largest
/// latency recorded, which is kept exactly. Latencies beyond 170 s share the last bucket, whose quantiles are
/// reported as the maximum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    buckets: Vec<u64>,
    max: Duration,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// Bucket `i` holds latencies up to 1.01^(i+1) ns; the last one everything from about 170 s.
    const BUCKETS: usize = 2600;

    /// An empty histogram.
    pub fn new() -> Self {
        Self { buckets: vec![0; Self::BUCKETS], max: Duration::ZERO }
    }

    fn bucket(latency: Duration) -> usize {
        let nanos = latency.as_nanos() as f64;
        // `as` saturates: a NaN or negative logarithm cannot occur (nanos >= 1), huge values land in the last.
        ((nanos.max(1.0).ln() / 1.01_f64.ln()) as usize).min(Self::BUCKETS - 1)
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        self.buckets[Self::bucket(latency)] += 1;
        self.max = self.max.max(latency);
    }

    /// Adds `other`'s latencies to these.
    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.max = self.max.max(other.max);
    }

    /// The number of latencies recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The largest latency recorded (zero when none was).
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The latency at quantile `q` (0 to 1): the upper bound of its bucket, capped at [`Histogram::max`].
    /// Zero when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Duration {
        let target = ((self.count() as f64 * q.clamp(0.0, 1.0)).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                // The last bucket is open-ended: its latencies reach up to the maximum.
                if i == Self::BUCKETS - 1 {
                    return self.max;
                }
                let upper = Duration::from_secs_f64(1.01_f64.powi(i as i32 + 1) / 1e9);
                return upper.min(self.max);
            }
        }
        Duration::ZERO
    }
}

/// The lookup a run repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BenchLookup {
    /// [`Chain::get_connection`] (the connection parsed, as `secrets connections get`).
    Connection {
        /// The connection id.
        conn_id: String,
        /// The team looked up first, if any.
        team: Option<String>,
    },
    /// [`Chain::get_variable`].
    Variable {
        /// The variable key.
        key: String,
        /// The team looked up first, if any.
        team: Option<String>,
    },
    /// [`Chain::get_config`].
    Config {
        /// The config key.
        key: String,
    },
    /// [`Chain::get_secret`].
    Secret {
        /// The Flyte secret group.
        group: String,
        /// The key in the group.
        key: String,
    },
}

/// What a run asks: a chain in this process, or a daemon (`secrets serve`) over its socket.
#[derive(Debug, Clone)]
pub enum Target {
    /// The chain's lookups.
    Chain(Arc<Chain>),
    /// The daemon's endpoints (a connection's is the record, `/v1/connections/{id}`), one request per
    /// connection, as a process asking the daemon makes them.
    Daemon(crate::serve::client::DaemonClient),
}

impl BenchLookup {
    /// Runs the lookup once: whether it found a value.
    async fn run(&self, target: &Target) -> Result<bool, ChainError> {
        use crate::serve::route::Read;
        let chain = match target {
            Target::Chain(chain) => chain,
            Target::Daemon(client) => {
                let (read, team) = match self {
                    Self::Connection { conn_id, team } => (Read::Connection(conn_id.clone()), team.as_deref()),
                    Self::Variable { key, team } => (Read::Variable(key.clone()), team.as_deref()),
                    Self::Config { key } => (Read::Config(key.clone()), None),
                    Self::Secret { group, key } => (Read::Secret { group: group.clone(), key: key.clone() }, None),
                };
                return match client.read(&read, team).await {
                    Ok(found) => Ok(found.is_some()),
                    Err(e) => Err(ChainError { provider: "daemon".to_owned(), error: e.into_lookup_error() }),
                };
            }
        };
        Ok(match self {
            Self::Connection { conn_id, team } => chain.get_connection(conn_id, team.as_deref()).await?.is_some(),
            Self::Variable { key, team } => chain.get_variable(key, team.as_deref()).await?.is_some(),
            Self::Config { key } => chain.get_config(key).await?.is_some(),
            Self::Secret { group, key } => chain.get_secret(group, key).await?.is_some(),
        })
    }
}

/// How much a run measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    /// This many measured lookups.
    Lookups(u64),
    /// Lookups started until this much time has passed (those in flight then are waited for and counted).
    Duration(Duration),
}

/// What a run does: how much it measures, how many lookups at once, after how many warm-up lookups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// The measured part.
    pub amount: Amount,
    /// Lookups in flight at once (1 to [`MAX_CONCURRENCY`]; outside that range, cut to it).
    pub concurrency: usize,
    /// Lookups run before the measured part, at the same concurrency, their results dropped.
    pub warmup: u64,
}

/// How far a run has come, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Whether this is the warm-up (then `amount` is the warm-up's lookups).
    pub warmup: bool,
    /// Lookups of this part finished so far.
    pub done: u64,
    /// Time since this part started.
    pub elapsed: Duration,
    /// What this part runs.
    pub amount: Amount,
}

impl Progress {
    /// The finished fraction, 0 to 1.
    pub fn fraction(&self) -> f64 {
        let fraction = match self.amount {
            Amount::Lookups(n) => self.done as f64 / n.max(1) as f64,
            Amount::Duration(d) => self.elapsed.as_secs_f64() / d.as_secs_f64().max(f64::MIN_POSITIVE),
        };
        fraction.clamp(0.0, 1.0)
    }

    /// One line for a terminal: a 30-character bar and the count, e.g. `[########......] 250/1000 lookups`.
    pub fn line(&self) -> String {
        const WIDTH: usize = 30;
        let filled = ((self.fraction() * WIDTH as f64).round() as usize).min(WIDTH);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH - filled));
        match self.amount {
            Amount::Lookups(n) if self.warmup => format!("[{bar}] {}/{n} warm-up lookups", self.done),
            Amount::Lookups(n) => format!("[{bar}] {}/{n} lookups", self.done),
            Amount::Duration(d) => format!(
                "[{bar}] {:.1}/{:.1} s, {} lookups",
                self.elapsed.as_secs_f64().min(d.as_secs_f64()),
                d.as_secs_f64(),
                self.done
            ),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Measured lookups (answered or failed).
    pub lookups: u64,
    /// Those that found no value (not errors: Airflow's "not found").
    pub not_found: u64,
    /// Failed lookups by error kind ([`crate::LookupError::kind`]: `unavailable`, `timeout`, ...).
    pub errors_by_kind: BTreeMap<&'static str, u64>,
    /// The failure that happened first, if any (errors never hold a secret value).
    pub first_error: Option<ChainError>,
    /// Requests the host's transport sent to the API server during the measured part ([`Chain::api_requests`]:
    /// providers built on one shared transport each count all of its requests).
    pub api_requests: u64,
    /// Latencies of the measured lookups.
    pub latencies: Histogram,
    /// Wall-clock time of the measured part.
    pub elapsed: Duration,
    /// Lookups in flight at once.
    pub concurrency: usize,
    /// Warm-up lookups run before.
    pub warmup: u64,
}

impl Report {
    /// Failed lookups.
    pub fn errors(&self) -> u64 {
        self.errors_by_kind.values().sum()
    }

    /// Measured lookups per second of the measured part.
    pub fn throughput_per_s(&self) -> f64 {
        self.lookups as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// The report as one JSON object (`-o json`): `lookups`, `errors`, `errors_by_kind`, `not_found`,
    /// `api_requests`, `p50_us`, `p90_us`, `p99_us`, `max_us`, `throughput_per_s`, `seconds`, `concurrency`,
    /// `warmup`, `first_error`. Latencies are in microseconds with nanosecond precision.
    pub fn to_json(&self) -> serde_json::Value {
        let us = |d: Duration| d.as_nanos() as f64 / 1e3;
        serde_json::json!({
            "lookups": self.lookups,
            "errors": self.errors(),
            "errors_by_kind": self.errors_by_kind,
            "not_found": self.not_found,
            "api_requests": self.api_requests,
            "p50_us": us(self.latencies.quantile(0.50)),
            "p90_us": us(self.latencies.quantile(0.90)),
            "p99_us": us(self.latencies.quantile(0.99)),
            "max_us": us(self.latencies.max()),
            "throughput_per_s": self.throughput_per_s(),
            "seconds": (self.elapsed.as_secs_f64() * 1e3).round() / 1e3,
            "concurrency": self.concurrency,
            "warmup": self.warmup,
            "first_error": self.first_error.as_ref().map(ToString::to_string),
        })
    }

    /// The report as a few aligned lines for a terminal (`-o table`).
    pub fn to_table(&self) -> String {
        let per_lookup = if self.lookups == 0 { 0.0 } else { self.api_requests as f64 / self.lookups as f64 };
        let errors = if self.errors_by_kind.is_empty() {
            "0".to_owned()
        } else {
            let kinds: Vec<String> = self.errors_by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
            format!("{} ({})", self.errors(), kinds.join(", "))
        };
        let mut text = format!(
            "lookups       {} in {:.3} s ({} at a time; warm-up lookups: {})\n\
             throughput    {:.1} lookups/s\n\
             latency       p50 {}  p90 {}  p99 {}  max {}\n\
             not found     {}\n\
             errors        {errors}\n\
             api requests  {} ({per_lookup:.2} per lookup)\n",
            self.lookups,
            self.elapsed.as_secs_f64(),
            self.concurrency,
            self.warmup,
            self.throughput_per_s(),
            human(self.latencies.quantile(0.50)),
            human(self.latencies.quantile(0.90)),
            human(self.latencies.quantile(0.99)),
            human(self.latencies.max()),
            self.not_found,
            self.api_requests,
        );
        if let Some(first) = &self.first_error {
            text.push_str(&format!("first error   {first}\n"));
        }
        text
    }
}

/// A latency with a unit that keeps three or four significant digits: `640 ns`, `412.3 µs`, `1.204 ms`,
/// `2.500 s`.
pub fn human(d: Duration) -> String {
    let nanos = d.as_nanos();
    match nanos {
        0..1_000 => format!("{nanos} ns"),
        1_000..1_000_000 => format!("{:.1} µs", nanos as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.3} ms", nanos as f64 / 1e6),
        _ => format!("{:.3} s", nanos as f64 / 1e9),
    }
}

/// One worker's share of a phase.
struct Tally {
    latencies: Histogram,
    not_found: u64,
    errors_by_kind: BTreeMap<&'static str, u64>,
    first_error: Option<(Instant, ChainError)>,
}

/// The longest the warm-up waits for live views to open their watches.
const MAX_FOLLOW_WAIT: Duration = Duration::from_secs(10);

/// Runs `plan` on `chain`, calling `progress` about ten times a second during the warm-up and the measured
/// part (and once at the end of each). Lookups run as tokio tasks on the current runtime; on a multi-threaded
/// runtime they run in parallel.
pub async fn run(chain: Arc<Chain>, lookup: BenchLookup, plan: Plan, progress: impl FnMut(Progress)) -> Report {
    run_on(Target::Chain(chain), lookup, plan, progress).await
}

/// [`run`] against `target`. Against a daemon, `api_requests` is 0: its requests are counted in its own
/// metrics (`/metrics`).
pub async fn run_on(target: Target, lookup: BenchLookup, plan: Plan, mut progress: impl FnMut(Progress)) -> Report {
    let concurrency = plan.concurrency.clamp(1, MAX_CONCURRENCY);
    let lookup = Arc::new(lookup);
    let target = Arc::new(target);
    if plan.warmup > 0 {
        phase(&target, &lookup, Amount::Lookups(plan.warmup), concurrency, true, &mut progress).await;
    }
    // Live views follow from their first list: the warm-up ends once every kind is listed and watched (or
    // after a bound), so the start's lists and watches are not counted as requests of the measured lookups.
    // Without a warm-up they are: the measured lookups then include the start.
    let chain = match &*target {
        Target::Chain(chain) => Some(Arc::clone(chain)),
        Target::Daemon(_) => None,
    };
    if plan.warmup > 0 {
        for link in chain.iter().flat_map(|c| c.links()) {
            link.provider.start_following(MAX_FOLLOW_WAIT).await;
        }
    }
    let requests = || chain.as_ref().map_or(0, |c| c.api_requests());
    let requests_before = requests();
    let (tallies, elapsed) = phase(&target, &lookup, plan.amount, concurrency, false, &mut progress).await;
    let api_requests = requests().saturating_sub(requests_before);
    let mut report = Report {
        lookups: 0,
        not_found: 0,
        errors_by_kind: BTreeMap::new(),
        first_error: None,
        api_requests,
        latencies: Histogram::new(),
        elapsed,
        concurrency,
        warmup: plan.warmup,
    };
    let mut first: Option<(Instant, ChainError)> = None;
    for tally in tallies {
        report.latencies.merge(&tally.latencies);
        report.not_found += tally.not_found;
        for (kind, n) in tally.errors_by_kind {
            *report.errors_by_kind.entry(kind).or_default() += n;
        }
        if let Some((at, message)) = tally.first_error
            && first.as_ref().is_none_or(|(earliest, _)| at < *earliest)
        {
            first = Some((at, message));
        }
    }
    report.lookups = report.latencies.count();
    report.first_error = first.map(|(_, message)| message);
    report
}

/// `concurrency` tasks running `lookup` until `amount` is reached.
async fn phase(
    target: &Arc<Target>,
    lookup: &Arc<BenchLookup>,
    amount: Amount,
    concurrency: usize,
    warmup: bool,
    mut progress: impl FnMut(Progress),
) -> (Vec<Tally>, Duration) {
    let started = Instant::now();
    let claimed = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (target, lookup, claimed, done) =
            (Arc::clone(target), Arc::clone(lookup), Arc::clone(&claimed), Arc::clone(&done));
        tasks.spawn(async move {
            let mut tally =
                Tally { latencies: Histogram::new(), not_found: 0, errors_by_kind: BTreeMap::new(), first_error: None };
            loop {
                let more = match amount {
                    Amount::Lookups(n) => claimed.fetch_add(1, Relaxed) < n,
                    Amount::Duration(d) => started.elapsed() < d,
                };
                if !more {
                    break;
                }
                let at = Instant::now();
                let outcome = lookup.run(&target).await;
                tally.latencies.record(at.elapsed());
                match outcome {
                    Ok(true) => {}
                    Ok(false) => tally.not_found += 1,
                    Err(e) => {
                        *tally.errors_by_kind.entry(e.error.kind()).or_default() += 1;
                        tally.first_error.get_or_insert((Instant::now(), e));
                    }
                }
                done.fetch_add(1, Relaxed);
                // A cache hit never waits: without this, a few tasks would keep every worker thread and the
                // others (and the progress timer) would not run until the end.
                tokio::task::yield_now().await;
            }
            tally
        });
    }
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tallies = Vec::with_capacity(concurrency);
    while !tasks.is_empty() {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(tally)) => tallies.push(tally),
                // A lookup panicked (a host bug): carry the panic to the caller rather than report a
                // measurement missing its lookups.
                Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Some(Err(_)) | None => {}
            },
            _ = ticks.tick() => {
                progress(Progress { warmup, done: done.load(Relaxed), elapsed: started.elapsed(), amount });
            }
        }
    }
    let elapsed = started.elapsed();
    progress(Progress { warmup, done: done.load(Relaxed), elapsed, amount });
    (tallies, elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_one_percent_and_never_above_the_max() {
        let mut h = Histogram::new();
        for micros in 1..=1000 {
            h.record(Duration::from_micros(micros));
        }
        assert_eq!(h.count(), 1000);
        for (q, exact) in [(0.5, 500.0), (0.9, 900.0), (0.99, 990.0)] {
            let got = h.quantile(q).as_secs_f64() * 1e6;
            assert!(got >= exact && got <= exact * 1.0101, "q{q}: {got} µs for {exact} µs");
        }
        assert_eq!(h.quantile(1.0), Duration::from_micros(1000));
        assert_eq!(h.max(), Duration::from_micros(1000));
    }

    #[test]
    fn sub_microsecond_latencies_keep_their_resolution() {
        let mut h = Histogram::new();
        h.record(Duration::from_nanos(80));
        h.record(Duration::from_nanos(81));
        h.record(Duration::from_nanos(640));
        let p50 = h.quantile(0.5).as_nanos();
        assert!((81..=82).contains(&p50), "p50 {p50} ns");
        assert_eq!(h.quantile(0.99), Duration::from_nanos(640));
    }

    #[test]
    fn extremes_and_empty_histograms() {
        let empty = Histogram::new();
        assert_eq!((empty.count(), empty.quantile(0.5), empty.max()), (0, Duration::ZERO, Duration::ZERO));
        let mut h = Histogram::new();
        h.record(Duration::ZERO);
        h.record(Duration::from_secs(3600));
        assert!(h.quantile(0.5) <= Duration::from_nanos(1), "the first bucket ends at 1.01 ns");
        assert_eq!(h.quantile(1.0), Duration::from_secs(3600));
        let mut merged = Histogram::new();
        merged.merge(&h);
        merged.merge(&h);
        assert_eq!((merged.count(), merged.max()), (4, Duration::from_secs(3600)));
    }

    #[test]
    fn human_units() {
        assert_eq!(human(Duration::from_nanos(640)), "640 ns");
        assert_eq!(human(Duration::from_nanos(412_340)), "412.3 µs");
        assert_eq!(human(Duration::from_nanos(1_204_000)), "1.204 ms");
        assert_eq!(human(Duration::from_millis(2500)), "2.500 s");
    }

    #[test]
    fn progress_lines() {
        let p = Progress { warmup: false, done: 250, elapsed: Duration::from_secs(1), amount: Amount::Lookups(1000) };
        assert_eq!(p.line(), format!("[{}{}] 250/1000 lookups", "#".repeat(8), ".".repeat(22)));
        let p = Progress { warmup: true, ..p };
        assert_eq!(p.line(), format!("[{}{}] 250/1000 warm-up lookups", "#".repeat(8), ".".repeat(22)));
        let p = Progress {
            warmup: false,
            done: 7,
            elapsed: Duration::from_secs(3),
            amount: Amount::Duration(Duration::from_secs(2)),
        };
        assert_eq!(p.line(), format!("[{}] 2.0/2.0 s, 7 lookups", "#".repeat(30)));
    }

    fn report() -> Report {
        let mut latencies = Histogram::new();
        for micros in [100, 200, 300, 400] {
            latencies.record(Duration::from_micros(micros));
        }
        Report {
            lookups: 4,
            not_found: 1,
            errors_by_kind: BTreeMap::from([("timeout", 1)]),
            first_error: Some(ChainError {
                provider: "k8s".to_owned(),
                error: crate::LookupError::Timeout("no answer in 2 s".to_owned()),
            }),
            api_requests: 5,
            latencies,
            elapsed: Duration::from_millis(2),
            concurrency: 2,
            warmup: 3,
        }
    }

    #[test]
    fn json_report_has_the_documented_keys() {
        let json = report().to_json();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "api_requests",
                "concurrency",
                "errors",
                "errors_by_kind",
                "first_error",
                "lookups",
                "max_us",
                "not_found",
                "p50_us",
                "p90_us",
                "p99_us",
                "seconds",
                "throughput_per_s",
                "warmup"
            ]
        );
        assert_eq!(json["lookups"], 4);
        assert_eq!(json["errors"], 1);
        assert_eq!(json["errors_by_kind"], serde_json::json!({"timeout": 1}));
        assert_eq!(json["api_requests"], 5);
        assert_eq!(json["max_us"], 400.0);
        assert_eq!(json["throughput_per_s"], 2000.0);
        assert_eq!(json["first_error"], "provider `k8s`: timeout: no answer in 2 s");
        let p50 = json["p50_us"].as_f64().unwrap();
        assert!((200.0..=202.0).contains(&p50), "{p50}");
    }

    #[test]
    fn table_report() {
        let table = report().to_table();
        assert!(table.starts_with("lookups       4 in 0.002 s (2 at a time; warm-up lookups: 3)\n"), "{table}");
        assert!(table.contains("\nthroughput    2000.0 lookups/s\n"), "{table}");
        assert!(table.contains("\nerrors        1 (timeout 1)\n"), "{table}");
        assert!(table.contains("\napi requests  5 (1.25 per lookup)\n"), "{table}");
        assert!(table.ends_with("\nfirst error   provider `k8s`: timeout: no answer in 2 s\n"), "{table}");
    }
}
