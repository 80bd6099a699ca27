//! The core's [`Runtime`] on the browser's event loop: tasks through
//! `wasm_bindgen_futures::spawn_local`, timers through `setTimeout` (found
//! on the global object, so it works in Web Workers), the monotonic clock
//! through `performance.now()`, wall time through `Date.now()`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use semcrawl_core::{BoxFuture, Runtime};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::js;

/// The browser (or Node) event loop as a semcrawl [`Runtime`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserRuntime;

impl Runtime for BrowserRuntime {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        wasm_bindgen_futures::spawn_local(future);
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(Sleep::new(duration))
    }

    fn now(&self) -> Duration {
        Duration::from_secs_f64(js::performance_now().max(0.0) / 1000.0)
    }

    fn unix_millis(&self) -> u64 {
        js_sys::Date::now() as u64
    }
}

/// A `setTimeout` as a future. Dropping it clears the timer, so abandoned
/// sleeps (a deadline that lost a race) leave nothing scheduled.
#[derive(Debug)]
pub struct Sleep {
    promise: JsFuture,
    id: JsValue,
}

impl Sleep {
    /// Resolve after `duration`.
    pub fn new(duration: Duration) -> Self {
        let mut id = JsValue::UNDEFINED;
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            id = js::set_timeout(&resolve, js::timeout_ms(duration));
        });
        Sleep {
            promise: JsFuture::from(promise),
            id,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.promise).poll(cx).map(|_| ())
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        js::clear_timeout(&self.id);
    }
}
