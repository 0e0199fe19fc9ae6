// SPDX-License-Identifier: GPL-2.0-only
//
// Live statistics: the metrics snapshot, the math behind its frame and rate
// figures, where the latest one is kept, and every way to read it (docs/stats.md).
//
// How the pieces meet: the event loop fills a `Metrics` with totals (and
// frame fields through a `FrameTracker`) and hands it to
// `Publisher::publish` once a second, which derives the rates. The
// scx_stats socket (`start_stats_server`), the debug API
// (`start_debug_api`) and the `--stats` block (`format_block`) read
// `Publisher::latest`. `--monitor` (`run_monitor`) reads the socket from
// another process.
//
// Where each concern lives:
// - metrics: the snapshot types and their descriptions.
// - histogram, frames, rates: the math.
// - publisher: the latest snapshot, shared.
// - socket: the scx_stats server and client.
// - frame_ring, frame_csv, frame_log: every frame, for `--frame-log`.
// - api, http: the debug API's answers, and its server.
// - text, block, render, monitor: the views.

mod api;
mod block;
pub mod feed;
mod frame_csv;
mod frame_log;
mod frame_ring;
mod frames;
mod histogram;
mod http;
mod metrics;
mod monitor;
mod publisher;
mod rates;
mod render;
mod socket;
mod text;

#[cfg(test)]
mod testdata;

pub use block::{format_block, Figures};
pub use frame_csv::FrameSelection;
pub use frame_ring::{FrameBatch, LoggedFrame, FRAME_RING_LEN};
pub use frames::{FrameTracker, FRAME_WINDOW_S};
pub use histogram::{Histogram, Window};
pub use http::{start_debug_api, DebugApi, Limits};
pub use metrics::{
    describe, AudioServer, ChannelMetrics, ClassMetrics, DispatchMetrics, FrameBucket, GameProcess,
    Metrics, RingMetrics, FRAME_HIST_EDGES_US,
};
pub use monitor::run_monitor;
pub use publisher::Publisher;
pub use rates::{cpu_percent, fill_rates, per_second};
pub use render::render;
pub use socket::{start_stats_server, MonitorClient, StatsSocket, STATS_SOCKET_MODE};
