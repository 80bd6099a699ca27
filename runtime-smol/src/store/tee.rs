//! [`TeeStore`]: every record to several stores, e.g. a local file and an
//! HTTP sink (`--out pages.jsonl --post URL`).
//!
//! The core counts a record as stored once `write` returns `Ok`, so a tee
//! returns `Ok` only when every store has taken the batch. The stores are
//! written concurrently (a slow sink does not hold up the file), and each
//! is always driven to the end before the first error is reported: a batch
//! is never abandoned half-written in one store because another failed. The
//! error names the store that failed; the core then stops the crawl, so a
//! record in one output and not the other can only be the batch that failed.

use futures::future::join_all;
use semcrawl_core::{BoxFuture, Record, Store, StoreError};

/// Writes each batch to all of its stores.
///
/// ```
/// use semcrawl_core::{Record, Store};
/// use semcrawl_smol::store::{JsonlStore, TeeStore};
///
/// let dir = std::env::temp_dir();
/// let a = dir.join(format!("semcrawl-doc-tee-a-{}.jsonl", std::process::id()));
/// let b = dir.join(format!("semcrawl-doc-tee-b-{}.jsonl", std::process::id()));
/// let mut tee = TeeStore::new(vec![
///     Box::new(JsonlStore::create(&a).unwrap()),
///     Box::new(JsonlStore::create(&b).unwrap()),
/// ]);
/// smol::block_on(async {
///     tee.write(&[Record::new("https://example.com/", 0, None)]).await.unwrap();
///     tee.flush().await.unwrap();
/// });
/// assert_eq!(std::fs::read_to_string(&a).unwrap(), std::fs::read_to_string(&b).unwrap());
/// # std::fs::remove_file(&a).unwrap();
/// # std::fs::remove_file(&b).unwrap();
/// ```
pub struct TeeStore {
    stores: Vec<Box<dyn Store>>,
}

impl std::fmt::Debug for TeeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeeStore")
            .field("stores", &self.stores.len())
            .finish()
    }
}

impl TeeStore {
    /// A store writing to every one of `stores`.
    pub fn new(stores: Vec<Box<dyn Store>>) -> Self {
        TeeStore { stores }
    }
}

/// The first error of `results`, if any; with several, it says how many
/// stores failed.
fn first_error(results: Vec<Result<(), StoreError>>) -> Result<(), StoreError> {
    let mut errors = results.into_iter().filter_map(Result::err);
    match errors.next() {
        None => Ok(()),
        Some(first) => {
            let more = errors.count();
            if more == 0 {
                Err(first)
            } else {
                Err(StoreError(format!(
                    "{} (and {more} other output{} failed)",
                    first.0,
                    if more == 1 { "" } else { "s" }
                )))
            }
        }
    }
}

impl Store for TeeStore {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            first_error(join_all(self.stores.iter_mut().map(|s| s.write(batch))).await)
        })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(
            async move { first_error(join_all(self.stores.iter_mut().map(|s| s.flush())).await) },
        )
    }
}
