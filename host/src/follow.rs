//! The live view's driver (docs/live-view.md): for one kind of one provider, list, then watch from the
//! list's version, and apply what the provider decodes to the [`LiveView`]. The only code that keeps a
//! long-lived request open; every component call it makes is short and bounded (`Parts::decode_event`, ...).
//!
//! The rules, and why:
//! - A watch that ends cleanly (the server's `timeoutSeconds`, a proxy closing an idle stream) is opened again
//!   from the last version at once: nothing was missed.
//! - "Expired" (410 Gone: the server no longer has the history from that version) means the view may have
//!   missed changes: list again at once, one relist.
//! - Any other failure (the store unreachable, access denied, an undecodable line, the budget spent) drops the
//!   kind's view, so lookups ask the store and meet the failure themselves, and lists again after a pause that
//!   doubles from 100 ms up to the configured maximum, with jitter, so a fleet of hosts does not come back in
//!   step.

use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use wasmtime_wasi_http::Error as HttpError;

use crate::error::LookupError;
use crate::live::{Kind, KindView, LiveView};
use crate::provider::{Change, LiveOptions, Parts};
use crate::state::LogLevel;

/// The most pages one list may take (each page holds up to the provider's page size; the byte budget bounds the
/// items, this bounds a server that answers empty pages forever).
pub const MAX_LIST_PAGES: usize = 1_000;

/// A watch that ends (or expires) sooner than this without delivering anything is treated as a hiccup of the
/// server: the next attempt waits for the backoff, so a server that closes every watch at once (or expires it)
/// is not asked again in a tight loop. A watch that lived longer resets the backoff.
const MIN_HEALTHY_WATCH: Duration = Duration::from_secs(1);

/// The largest error answer of a refused watch that is read.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Follows one kind of one provider.
pub(crate) struct Follower {
    pub(crate) parts: Arc<Parts>,
    pub(crate) view: Arc<LiveView>,
    pub(crate) kind: Kind,
    pub(crate) options: LiveOptions,
}

/// How a watch stopped.
enum Stopped {
    /// The version expired: list again, at once when the watch that expired had been open for at least
    /// [`MIN_HEALTHY_WATCH`], else after a pause (a 410 storm must not become a loop of lists).
    Expired {
        /// Whether that watch had been open long enough.
        healthy: bool,
    },
    /// Following failed: the view stopped answering; list again after a pause.
    Failed,
}

impl Follower {
    /// Lists and watches until the provider is dropped (which aborts this task).
    pub(crate) async fn run(self) {
        let mut pause = Backoff::new(self.options.max_backoff);
        let mut expired = false;
        loop {
            let version = match self.list(expired).await {
                Ok(Some(version)) => {
                    expired = false;
                    version
                }
                Ok(None) => {
                    self.view.not_followed(self.kind);
                    return;
                }
                Err(error) => {
                    self.failed("listing", &error);
                    pause.wait().await;
                    continue;
                }
            };
            let stopped = self.watch(version, &mut pause).await;
            self.view.set_watching(self.kind, false);
            match stopped {
                Stopped::Expired { healthy } => {
                    expired = true;
                    // Until the relist is done the view misses changes: it answers as a failed one would.
                    self.view.expired(self.kind);
                    if healthy {
                        pause.reset();
                    } else {
                        pause.wait().await;
                    }
                }
                Stopped::Failed => pause.wait().await,
            }
        }
    }

    /// Every page of the list; the view is replaced with it. `None` when the provider does not follow the kind.
    /// A `relist` (after the watch's version expired) is counted once it is done, just before the view is
    /// replaced: whoever the replacement wakes already sees the count.
    async fn list(&self, relist: bool) -> Result<Option<String>, LookupError> {
        let transport = self.parts.transport().ok_or_else(|| {
            LookupError::DeniedByHost("the host grants this provider no Kubernetes access".to_owned())
        })?;
        let budget = self.view.budget();
        let mut items = Vec::new();
        let mut spent = 0usize;
        let mut token: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let Some(path) = self.parts.list_request(self.kind, token.as_deref()).await? else {
                return Ok(None);
            };
            let answer = transport.get(&path).await.map_err(from_http)?;
            let status = answer.status().as_u16();
            let (next, version, page) = self
                .parts
                .decode_list(self.kind, status, answer.body(), budget.saturating_sub(spent))
                .await
                .map_err(|e| denied_by_status(status, e))?;
            spent += page.iter().map(crate::live::Item::cost).sum::<usize>();
            items.extend(page);
            match next {
                Some(next) => token = Some(next),
                None => {
                    let view = KindView::from_items(items, budget).map_err(|e| LookupError::Provider(e.to_string()))?;
                    if relist {
                        self.view.counts().relists.fetch_add(1, Ordering::Relaxed);
                    }
                    self.view.replace(self.kind, view);
                    return Ok(Some(version));
                }
            }
        }
        Err(LookupError::Upstream(format!("the list did not end within {MAX_LIST_PAGES} pages")))
    }

    /// Watches from `version`, opening the watch again whenever it ends cleanly, until it expires or fails. A
    /// watch that ends before [`MIN_HEALTHY_WATCH`] waits for `pause` first; one that stayed open resets it.
    async fn watch(&self, mut version: String, pause: &mut Backoff) -> Stopped {
        let Some(transport) = self.parts.transport() else {
            return Stopped::Failed;
        };
        loop {
            let path = match self.parts.watch_request(self.kind, &version).await {
                Ok(path) => path,
                Err(error) => return self.stopped("asking for the watch request", &error),
            };
            let opened = tokio::time::Instant::now();
            let answer = match transport.watch(&path, self.options.watch).await {
                Ok(answer) => answer,
                Err(error) => return self.stopped("opening the watch", &from_http(error)),
            };
            if answer.status == 410 {
                return Stopped::Expired { healthy: false };
            }
            if !(200..300).contains(&answer.status) {
                let body = answer.lines.rest(MAX_ERROR_BODY).await;
                let error = match self.parts.decode_list(self.kind, answer.status, &body, 0).await {
                    Err(error) => error,
                    Ok(_) => LookupError::Upstream(format!("the watch was answered {}", answer.status)),
                };
                return self.stopped("opening the watch", &denied_by_status(answer.status, error));
            }
            self.view.set_watching(self.kind, true);
            let mut lines = answer.lines;
            loop {
                let line = match lines.next().await {
                    Ok(Some(line)) => line,
                    // Ended cleanly: open it again from the last version.
                    Ok(None) => break,
                    Err(error) => return self.stopped("watching", &LookupError::Unavailable(error.to_string())),
                };

                let decoded = match self.parts.decode_event(self.kind, &line).await {
                    Ok(decoded) => decoded,
                    Err(error) => return self.stopped("decoding a watch event", &error),
                };
                match decoded.change {
                    Change::Put(item) => {
                        if let Err(over) = self.view.put(self.kind, item) {
                            // The view already failed, without serving stale answers: it lost an item.
                            let message = format!(
                                "live view of {}: applying a watch event failed: {over}; lookups ask the store \
                                 until it is listed again",
                                self.kind.cache_kind().plural()
                            );
                            (self.parts.log())(LogLevel::Warning, &message);
                            self.view.counts().watch_restarts.fetch_add(1, Ordering::Relaxed);
                            return Stopped::Failed;
                        }
                    }
                    Change::Removed(name) => self.view.remove(self.kind, &name),
                    Change::Progress => self.view.progress(self.kind),
                    Change::Expired => return Stopped::Expired { healthy: opened.elapsed() >= MIN_HEALTHY_WATCH },
                }
                if let Some(next) = decoded.resource_version.filter(|v| !v.is_empty()) {
                    version = next;
                }
            }
            self.view.set_watching(self.kind, false);
            self.view.counts().watch_restarts.fetch_add(1, Ordering::Relaxed);
            // Only a watch that stayed open resets the pause: one that ends at once, whatever it delivered (a
            // bookmark, the same change again), waits first.
            if opened.elapsed() >= MIN_HEALTHY_WATCH {
                pause.reset();
            } else {
                pause.wait().await;
            }
        }
    }

    /// Drops the view after a failure while `doing`, and says so.
    fn stopped(&self, doing: &str, error: &LookupError) -> Stopped {
        self.failed(doing, error);
        self.view.counts().watch_restarts.fetch_add(1, Ordering::Relaxed);
        Stopped::Failed
    }

    fn failed(&self, doing: &str, error: &LookupError) {
        let message = format!(
            "live view of {}: {doing} failed ({}): {error}; lookups ask the store until it is listed again",
            self.kind.cache_kind().plural(),
            error.kind()
        );
        (self.parts.log())(LogLevel::Warning, &message);
        // Known values may stand in for a store that cannot be reached or answers badly; never for access
        // denied, a refused request or a broken configuration.
        let stale_ok =
            matches!(error, LookupError::Unavailable(_) | LookupError::Timeout(_) | LookupError::Upstream(_));
        self.view.fail(self.kind, message, stale_ok);
    }
}

/// `error`, as access denied whatever the component said when the host itself saw a 401 or 403: what decides
/// that nothing is served stale must not rest on the untrusted component's reading.
fn denied_by_status(status: u16, error: LookupError) -> LookupError {
    match (status, error) {
        (_, error @ LookupError::AccessDenied(_)) => error,
        (401 | 403, _) => LookupError::AccessDenied(format!("the Kubernetes API answered {status}")),
        (_, error) => error,
    }
}

/// A transport error as the provider would have reported it (who is at fault).
fn from_http(error: HttpError) -> LookupError {
    let text = format!("{error:?}");
    match error {
        HttpError::HttpRequestDenied => {
            LookupError::DeniedByHost("the host refused the live view's request to the Kubernetes API".to_owned())
        }
        HttpError::HttpResponseBodySize(_) => {
            LookupError::Upstream("the Kubernetes API answer is larger than the host allows".to_owned())
        }
        HttpError::ConnectionTimeout | HttpError::ConnectionReadTimeout | HttpError::HttpResponseTimeout => {
            LookupError::Timeout(format!("the Kubernetes API did not answer in time ({text})"))
        }
        HttpError::HttpProtocolError | HttpError::InternalError(_) | HttpError::HttpRequestUriInvalid => {
            LookupError::Upstream(format!("the HTTP exchange with the Kubernetes API failed ({text})"))
        }
        _ => LookupError::Unavailable(format!("the Kubernetes API could not be reached ({text})")),
    }
}

/// Pauses that double from 100 ms up to a maximum, each cut to a random 50–100 %.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);

    fn new(max: Duration) -> Self {
        Self { next: Self::FIRST, max: max.max(Self::FIRST) }
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    async fn wait(&mut self) {
        let pause = jittered(self.next);
        self.next = self.next.saturating_mul(2).min(self.max);
        tokio::time::sleep(pause).await;
    }
}

/// `pause` cut to a random 50–100 % of itself.
fn jittered(pause: Duration) -> Duration {
    // A fresh RandomState is seeded differently each time: enough randomness for spreading retries.
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let fraction = 0.5 + (random % 1000) as f64 / 2000.0;
    pause.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_maximum_with_jitter() {
        let mut backoff = Backoff::new(Duration::from_millis(500));
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(backoff.next);
            backoff.next = backoff.next.saturating_mul(2).min(backoff.max);
        }
        let ms: Vec<u128> = seen.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![100, 200, 400, 500, 500]);
        backoff.reset();
        assert_eq!(backoff.next, Duration::from_millis(100));
        for _ in 0..100 {
            let pause = jittered(Duration::from_millis(1000));
            assert!((500..=1000).contains(&pause.as_millis()), "{pause:?}");
        }
    }

    #[test]
    fn transport_errors_say_who_is_at_fault() {
        assert!(matches!(from_http(HttpError::HttpRequestDenied), LookupError::DeniedByHost(_)));
        assert!(matches!(from_http(HttpError::ConnectionRefused), LookupError::Unavailable(_)));
        assert!(matches!(from_http(HttpError::ConnectionReadTimeout), LookupError::Timeout(_)));
    }
}
