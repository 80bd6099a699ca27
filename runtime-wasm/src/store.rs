//! The core's [`Store`] as a JS callback.
//!
//! Each record is handed to `onRecord` as a plain JS object with the same
//! field names as the native JSON Lines records (`final_url`, `links_count`,
//! ...). If the callback returns a promise, the store waits for it before
//! taking the next record: a slow consumer (say, one writing to IndexedDB)
//! slows the crawl down instead of letting records pile up, because records
//! waiting for the store are charged to the core's byte gate.

use js_sys::{Function, Promise};
use semcrawl_core::{BoxFuture, Record, Store, StoreError};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::js;

/// Serialize for JS: maps as plain objects, `None` as `null`, integers as numbers.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, serde_wasm_bindgen::Error> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
}

/// Calls a JS function with each stored record (or drops them if there is none).
#[derive(Debug, Clone, Default)]
pub struct CallbackStore {
    on_record: Option<Function>,
    stored: u64,
}

impl CallbackStore {
    /// A store that calls `on_record(record)` for each record.
    pub fn new(on_record: Option<Function>) -> Self {
        CallbackStore {
            on_record,
            stored: 0,
        }
    }

    /// Records handed to the callback so far.
    pub fn stored(&self) -> u64 {
        self.stored
    }
}

impl Store for CallbackStore {
    fn write<'a>(&'a mut self, batch: &'a [Record]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(callback) = &self.on_record else {
                self.stored += batch.len() as u64;
                return Ok(());
            };
            for record in batch {
                let value = to_js(record)
                    .map_err(|e| StoreError(format!("record for {}: {e}", record.url)))?;
                let returned = callback
                    .call1(&JsValue::NULL, &value)
                    .map_err(|e| StoreError(format!("onRecord threw: {}", js::message(&e))))?;
                if let Some(promise) = returned.dyn_ref::<Promise>() {
                    JsFuture::from(promise.clone()).await.map_err(|e| {
                        StoreError(format!("onRecord rejected: {}", js::message(&e)))
                    })?;
                }
                self.stored += 1;
            }
            Ok(())
        })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}
