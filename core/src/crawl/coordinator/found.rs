//! What a finished page found, queued: its links, redirect targets and
//! sitemap URLs pass the depth limit, the scope, the include/exclude
//! patterns, the ignored extensions and the sitemap caps before they reach
//! the frontier; a host's sitemaps are sought after its first answer.

use super::*;

impl<F: Fetch, R: Runtime> Coordinator<F, R> {
    /// A page's task is over: its host has one request less in flight, and
    /// what it found is queued (see `queue_found`). The host's sitemaps are
    /// sought after its first page that got an answer (not for a host that
    /// cannot be reached; a guessed `/sitemap.xml` that is not one leaves no
    /// record).
    pub(super) fn page_done(&mut self, done: PageDone<HostId>) {
        let now = self.ctx.runtime.now();
        let host = self.hosts.get_mut(done.host);
        self.politeness.finish(&mut host.pace, now);
        if let Some(id) = done.unrecorded {
            // No record will be stored: done now.
            self.acks.extend(id);
        }
        let links = done.links.into_iter();
        self.queue_found(
            Some(done.host),
            done.depth,
            done.redirects,
            &done.parent,
            links,
        );
        if done.responded {
            self.seek_sitemaps(done.host);
        }
    }

    /// Queue what a page at `page_depth`, reached through `page_redirects`
    /// hops, found, at the next [`sync`](Self::sync): within the depth
    /// limit and the scope, the include/exclude patterns and the ignored
    /// extensions, and (on `host`, the page's) the sitemap caps.
    pub(super) fn queue_found(
        &mut self,
        host: Option<HostId>,
        page_depth: u32,
        page_redirects: u32,
        parent: &Arc<str>,
        found: impl ExactSizeIterator<Item = Found>,
    ) {
        let max_depth = self.ctx.config.max_depth;
        let (filter, types) = (&self.ctx.filter, &self.ctx.types);
        let entries = &mut self.to_push;
        entries.reserve(found.len());
        let (mut filtered, mut listed) = (0, 0);
        for found in found {
            let depth = match &found {
                Found::Redirect(_) | Found::Sitemap(_) => page_depth,
                Found::Link(_) | Found::Listed(_) => page_depth + 1,
            };
            let url = found.url();
            if max_depth.is_some_and(|m| depth > m) || !self.ctx.scope.allows(url) {
                continue;
            }
            let passes = match &found {
                Found::Sitemap(_) => true,
                Found::Redirect(u) => filter.allows(u),
                Found::Link(u) | Found::Listed(u) => filter.allows(u) && types.queues(u),
            };
            if !passes {
                filtered += 1;
                continue;
            }
            if let Some(host) = host {
                let count = &mut self.hosts.get_mut(host).sitemaps;
                match &found {
                    Found::Sitemap(u) => {
                        if count.docs >= MAX_SITEMAPS_PER_HOST {
                            continue;
                        }
                        count.docs += 1;
                        self.sitemap_docs.insert(u.clone(), SitemapHint::Listed);
                    }
                    Found::Listed(_) => {
                        if count.urls >= MAX_SITEMAP_URLS_PER_HOST {
                            continue;
                        }
                        count.urls += 1;
                        listed += 1;
                    }
                    _ => {}
                }
            }
            let redirects = match &found {
                Found::Redirect(_) => page_redirects + 1,
                _ => 0,
            };
            let (Found::Link(url)
            | Found::Redirect(url)
            | Found::Sitemap(url)
            | Found::Listed(url)) = found;
            entries.push(Entry {
                url,
                depth,
                parent: Some(parent.clone()),
                redirects,
                id: None,
            });
        }
        self.ctx.stats.filtered(filtered);
        self.ctx.stats.sitemap_urls(listed);
    }

    /// What an entry about to be fetched is as a sitemap: what this
    /// process queued it as, else what it must be when another process of
    /// a shared frontier (or an earlier run on the same state) queued it:
    /// the guessed `/sitemap.xml` is the one entry at depth 0 without a
    /// parent that is no seed. Without this, a guess that misses would be
    /// recorded as a page when another worker fetches it.
    pub(super) fn sitemap_hint(&mut self, entry: &Entry) -> SitemapHint {
        if let Some(hint) = self.sitemap_docs.remove(&entry.url) {
            return hint;
        }
        let url = &entry.url;
        let guessed = entry.depth == 0
            && entry.parent.is_none()
            && url.path() == "/sitemap.xml"
            && url.query().is_none()
            && !(self.ctx.config.seeds.iter())
                .any(|s| canon::canonicalize(s).as_ref() == Some(url));
        if guessed {
            SitemapHint::Guessed
        } else {
            SitemapHint::No
        }
    }

    /// Once per host, after its first answered page: queue its sitemaps,
    /// the `Sitemap:` lines of its robots.txt, else `/sitemap.xml`, at
    /// depth 0 (entry points, like seeds). Not with sitemaps off, nor with
    /// `max_depth` 0 (what they list would be too deep).
    pub(super) fn seek_sitemaps(&mut self, id: HostId) {
        let config = &self.ctx.config;
        let host = self.hosts.get_mut(id);
        if !config.sitemaps || config.max_depth == Some(0) || host.sitemaps.sought {
            return;
        }
        host.sitemaps.sought = true;
        let Ok(origin) = Url::parse(&host.origin) else {
            return;
        };
        let listed = match &host.robots {
            RobotsState::Ready(rules) => rules.sitemaps(),
            _ => &[],
        };
        let (urls, parent, hint): (Vec<Url>, _, _) = if listed.is_empty() {
            let guess = origin.join("/sitemap.xml").into_iter().collect();
            (guess, None, SitemapHint::Guessed)
        } else {
            let robots = crate::robots::robots_url(&origin);
            let urls = listed.iter().filter_map(|l| canon::resolve(&origin, l));
            let parent = Some(Arc::<str>::from(robots.as_str()));
            (urls.collect(), parent, SitemapHint::Listed)
        };
        for url in urls.iter().filter_map(canon::canonicalize) {
            if host.sitemaps.docs >= MAX_SITEMAPS_PER_HOST || !self.ctx.scope.allows(&url) {
                continue;
            }
            host.sitemaps.docs += 1;
            self.sitemap_docs.insert(url.clone(), hint);
            self.to_push.push(Entry {
                url,
                depth: 0,
                parent: parent.clone(),
                redirects: 0,
                id: None,
            });
        }
    }
}
