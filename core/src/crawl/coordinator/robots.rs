//! robots.txt in the coordinator: a host's rules kept with the crawl's
//! state or fetched by a task of their own (holding a count permit like a
//! page), and the record that says a host's robots.txt was unreachable.

use super::*;

impl<F: Fetch, R: Runtime> Coordinator<F, R> {
    /// A host's robots.txt rules are known: its pages may be fetched.
    pub(super) fn set_robots(&mut self, host: HostId, rules: Robots) {
        let host = self.hosts.get_mut(host);
        if let Some(delay) = rules.crawl_delay() {
            host.pace.set_delay(delay);
        }
        host.robots = RobotsState::Ready(rules);
    }

    /// Use the robots.txt the crawl's state kept for `host`, if it is
    /// younger than [`ROBOTS_MAX_AGE`] (a resumed crawl does not fetch it
    /// again); whether it did.
    pub(super) async fn kept_robots(&mut self, host: HostId) -> bool {
        let origin = self.hosts.get(host).origin.clone();
        let kept = match self.frontier.robots(&origin).await {
            Ok(Some(kept)) => kept,
            Ok(None) => return false,
            Err(e) => {
                self.fail(e);
                return true;
            }
        };
        let age = self
            .ctx
            .runtime
            .unix_millis()
            .saturating_sub(kept.fetched_at);
        if age >= ROBOTS_MAX_AGE.as_millis() as u64 {
            return false;
        }
        let rules = match &kept.text {
            Some(text) => Robots::parse(text, &self.ctx.config.user_agent),
            None => Robots::allow_all(),
        };
        tracing::debug!(%origin, age_ms = age, "robots.txt kept by the crawl's state");
        self.set_robots(host, rules);
        true
    }

    /// Whether this process is to fetch `host`'s robots.txt (see
    /// [`Frontier::claim_robots`]). When another process of a shared crawl
    /// is fetching it, the host goes back to unknown: the next of its
    /// entries popped asks for the file again, kept one first, while the
    /// crawl goes on with other hosts.
    pub(super) async fn claim_robots(&mut self, host: HostId) -> bool {
        let origin = self.hosts.get(host).origin.clone();
        match self.frontier.claim_robots(&origin).await {
            Ok(true) => true,
            Ok(false) => {
                tracing::debug!(%origin, "robots.txt being fetched by another process");
                self.hosts.get_mut(host).robots = RobotsState::Unknown;
                false
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Fetch a host's robots.txt in a task of its own, holding `permit`.
    /// A panic in it (in an adapter's `Fetch`) counts as no rules, so the
    /// host's pages are not left waiting forever. An unreachable robots.txt
    /// (its pages are not crawled) is told: a warning, and an error record
    /// for its URL, which holds the permit until it is stored.
    pub(super) fn spawn_robots(&mut self, host: HostId, url: Url, permit: SemaphoreGuardArc) {
        self.in_flight += 1;
        let ctx = self.ctx.clone();
        let reports = self.reports.clone();
        let records = self.records.clone();
        self.ctx.runtime.spawn(Box::pin(async move {
            let fetch = RobotsFetch {
                fetch: &ctx.fetch,
                runtime: &ctx.runtime,
                gate: &ctx.gate,
                user_agent: &ctx.config.user_agent,
                timeout: ctx.config.timeout,
                retry: &ctx.retry,
                headers: &ctx.headers,
                scope: &ctx.scope,
            };
            let fetched_at = ctx.runtime.unix_millis();
            let t0 = ctx.runtime.now();
            let work = std::pin::pin!(fetch.rules(&url));
            let work = std::panic::AssertUnwindSafe(async {
                match select(work, std::pin::pin!(ctx.cancel.wait())).await {
                    Either::Left((fetched, _)) => Some(fetched),
                    Either::Right(_) => None,
                }
            })
            .catch_unwind();
            let fetched = work.await.ok().flatten();
            let (rules, unreachable, keep) = match fetched {
                Some(Fetched {
                    rules,
                    unreachable,
                    keep,
                }) => (rules, unreachable, keep.map(|text| (text, fetched_at))),
                None => (Robots::allow_all(), None, None),
            };
            match unreachable {
                Some(unreachable) => {
                    let elapsed = ctx.runtime.now().saturating_sub(t0);
                    let record = robots_record(&unreachable, fetched_at, elapsed);
                    tracing::warn!("{}", unreachable.message());
                    if let Some(records) = records {
                        let _ = records.unbounded_send(Pending {
                            record,
                            // robots.txt is not a frontier entry: nothing to acknowledge.
                            id: None,
                            _hold: None,
                            _slot: Slot::new(permit, ctx.stats.clone()),
                        });
                    }
                }
                None => drop(permit),
            }
            let _ = reports.unbounded_send(Report::Robots { host, rules, keep });
        }));
    }
}

/// The record of an unreachable robots.txt: its URL, the last status, and
/// the decision, as the error `robots_unreachable`.
fn robots_record(unreachable: &Unreachable, fetched_at: u64, elapsed: Duration) -> Record {
    let mut record = Record::new(unreachable.url.as_str(), 0, None);
    record.status = unreachable.status;
    record.fetched_at = fetched_at;
    record.elapsed_ms = elapsed.as_millis() as u64;
    record.retries = unreachable.attempts.saturating_sub(1);
    record.error = Some(RecordError::new(
        ErrorKind::RobotsUnreachable,
        unreachable.message(),
    ));
    record
}
