//! The few JS globals the adapter calls. They are looked up on the global
//! object at call time, so they work in a window, a Web Worker and Node.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `globalThis.setTimeout(handler, ms)`; the id is a number in browsers
    /// and an object in Node.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &js_sys::Function, ms: f64) -> JsValue;

    /// `globalThis.clearTimeout(id)`.
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(id: &JsValue);

    /// `globalThis.fetch(request)`.
    #[wasm_bindgen(js_name = fetch)]
    pub fn fetch_request(request: &web_sys::Request) -> js_sys::Promise;

    /// `globalThis.performance.now()`.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    pub fn performance_now() -> f64;
}

/// Milliseconds for `setTimeout`, clamped to what it accepts (2^31 - 1).
pub fn timeout_ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).clamp(0.0, 2_147_483_647.0)
}

/// A readable message from a thrown JS value (an `Error`, a string, ...).
pub fn message(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        let name = String::from(e.name());
        let msg = String::from(e.message());
        return if name.is_empty() || name == "Error" {
            msg
        } else {
            format!("{name}: {msg}")
        };
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

/// The page's (or worker's) URL, used to resolve relative seeds and to tell
/// same-origin requests from cross-origin ones. `None` in Node.
pub fn location_href() -> Option<String> {
    let location = js_sys::Reflect::get(&js_sys::global(), &"location".into()).ok()?;
    js_sys::Reflect::get(&location, &"href".into())
        .ok()?
        .as_string()
}
