//! The writer: records into the [`Store`], in batches, and only then the
//! page's permit and bytes back.
//!
//! A page counts against the count gate and the byte gate until its record
//! is *written*, not just produced: a slow store then slows the crawl
//! instead of letting records pile up in memory. So a finished page hands
//! the writer its record together with its [`Slot`] (the count permit) and
//! its byte reservation, and the writer drops them once the batch holding
//! the record is stored.
//!
//! Then, and only then, the pages' frontier ids go back to the coordinator
//! to be acknowledged as done: a frontier that survives a kill must never
//! call a page done whose record could still be lost. "Stored" means
//! [`Store::write`] returned: a store whose records must survive the
//! process dying makes them so before it returns (the JSON Lines store
//! writes through to the operating system, the SQLite store commits each
//! batch), so no flush is waited for. A page recorded as `interrupted` is
//! not acknowledged: it was not fetched, and a resumed crawl fetches it.

use std::sync::Arc;

use async_lock::SemaphoreGuardArc;
use futures::channel::mpsc;
use futures::StreamExt;

use crate::gate::Reservation;
use crate::record::{ErrorKind, Record};
use crate::runtime::{Store, StoreError};
use crate::stats::Stats;
use crate::stop::StopHandle;

/// A page's count permit: while it lives, the page counts as in the pipeline.
pub(crate) struct Slot {
    _permit: SemaphoreGuardArc,
    stats: Arc<Stats>,
}

impl Slot {
    /// A page enters the pipeline with `permit`.
    pub fn new(permit: SemaphoreGuardArc, stats: Arc<Stats>) -> Self {
        stats.enter();
        Slot {
            _permit: permit,
            stats,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stats.leave();
    }
}

/// A record on its way to the store, with what it holds.
pub(crate) struct Pending {
    pub record: Record,
    /// The page's frontier id, acknowledged once the record is stored.
    pub id: Option<u64>,
    /// The record's bytes in the byte gate, released with the batch.
    pub _hold: Option<Reservation>,
    /// The page's permit, released with the batch.
    pub _slot: Slot,
}

/// Batch records into the store; release each batch's permits once written.
///
/// A store failure fires `failed` (the coordinator then stops the crawl);
/// the records still arriving are counted as lost, and the error says how
/// many.
pub(crate) async fn write_records<S: Store>(
    mut store: S,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    batch_size: usize,
    stats: Arc<Stats>,
    failed: StopHandle,
    done: mpsc::UnboundedSender<Vec<u64>>,
) -> Result<(), StoreError> {
    let mut batch: Vec<Record> = Vec::with_capacity(batch_size);
    let mut holds: Vec<Pending> = Vec::with_capacity(batch_size);
    let mut error: Option<StoreError> = None;
    let mut lost = 0u64;
    while let Some(first) = rx.next().await {
        holds.push(first);
        while holds.len() < batch_size {
            match rx.try_recv() {
                Ok(p) => holds.push(p),
                _ => break,
            }
        }
        if error.is_some() {
            lost += holds.len() as u64;
            holds.clear();
            continue;
        }
        batch.extend(
            holds
                .iter_mut()
                .map(|p| std::mem::replace(&mut p.record, Record::new("", 0, None))),
        );
        match store.write(&batch).await {
            Ok(()) => {
                batch.iter().for_each(|r| stats.stored(r));
                let ids: Vec<u64> = holds
                    .iter()
                    .zip(&batch)
                    .filter(|(_, r)| {
                        r.error.as_ref().map(|e| e.kind) != Some(ErrorKind::Interrupted)
                    })
                    .filter_map(|(p, _)| p.id)
                    .collect();
                if !ids.is_empty() {
                    let _ = done.unbounded_send(ids);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store failed: stopping the crawl");
                lost += batch.len() as u64;
                error = Some(e);
                failed.stop();
            }
        }
        batch.clear();
        // The batch is written: its permits and bytes go back now.
        holds.clear();
    }
    let flushed = store.flush().await;
    match error {
        Some(e) => Err(StoreError(format!(
            "{e} ({lost} records could not be written)"
        ))),
        None => flushed,
    }
}
