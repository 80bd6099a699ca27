//! STUB
/// Bytes reserved per page beyond its body (headers, buffers, record).
pub const PAGE_OVERHEAD: u64 = 64 * 1024;
