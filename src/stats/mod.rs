// SPDX-License-Identifier: GPL-2.0-only
//
// Live statistics (docs/stats.md). Once a second the event loop fills a
// `Metrics` with totals and the stats thread (feed.rs) adds the frame
// figures (frames.rs) and hands it to `Publisher::publish`, which derives
// the rates (rates.rs). The scx_stats socket (socket.rs), the debug API
// (http.rs, api.rs) and the `--stats` block (block.rs) read
// `Publisher::latest`; `--monitor` (monitor.rs, render.rs, frame_log.rs)
// reads the socket from another process.

mod api;
mod block;
pub mod feed;
mod frame_log;
mod frames;
mod http;
mod metrics;
mod monitor;
mod publisher;
mod rates;
mod render;
mod socket;
mod text;

pub use block::{format_block, Figures};
pub use frame_log::FrameSelection;
pub use http::{start_debug_api, DebugApi, Limits};
pub use metrics::{
    describe, AudioServer, ChannelMetrics, ClassMetrics, DispatchMetrics, FrameBucket, GameProcess,
    Metrics, RingMetrics, FRAME_HIST_EDGES_US,
};
pub use monitor::run_monitor;
pub use publisher::{LoggedFrame, Publisher, FRAME_RING_LEN};
pub use render::render;
pub use socket::{start_stats_server, MonitorClient, StatsSocket, STATS_SOCKET_MODE};

/// A mutex's guard, poisoned or not: every value behind one here stays
/// whole whatever a panicking holder did.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod testdata;
