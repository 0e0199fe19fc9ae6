// SPDX-License-Identifier: GPL-2.0-only
//
// The scx_stats socket: the server a running scheduler offers, and the
// client `--monitor` attaches with, both the scx_stats crate's, so scx tools
// that read the socket read scx_gamer too. The server answers `stats` with
// the latest snapshot (no per-client deltas: it already carries per-second
// rates), `stats` with target `frames` with the frames presented since that
// connection last asked, and `stats_meta` with the descriptions. The socket
// is root-only: it tells any client which processes are the game.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use scx_stats::prelude::*;

use super::metrics::{all_meta, Metrics, SCHEDULER_TAG};
use super::publisher::{FrameBatch, Publisher, FRAME_BATCH_MAX};

/// Mode of the socket file: only its owner (root) may connect.
pub const STATS_SOCKET_MODE: u32 = 0o600;

/// The `stats` target that hands out each presented frame.
const FRAMES_TARGET: &str = "frames";

/// How long the client waits for the server before giving up, in ms.
const CLIENT_TIMEOUT_MS: u64 = 3000;

/// A running stats server. Dropping it stops it and removes its socket.
pub struct StatsSocket {
    server: Option<StatsServer<(), ()>>,
    path: PathBuf,
    inode: u64,
}

impl StatsSocket {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StatsSocket {
    fn drop(&mut self) {
        // The server wakes its listener through the socket on drop, so the
        // file must still be there; remove it afterwards, unless another
        // process has put its own socket there meanwhile.
        self.server.take();
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Serve `publisher`'s latest snapshot at `path` (replacing a stale socket
/// file there; call it only once no other scheduler is attached). The
/// socket is chmod 0600 before this returns.
pub fn start_stats_server(publisher: Arc<Publisher>, path: &Path) -> Result<StatsSocket> {
    let ring = Arc::clone(&publisher);
    // Opened once per connection: each has its own cursor.
    let frames = StatsOps {
        open: Box::new(move |_chan| {
            let ring = Arc::clone(&ring);
            let mut cursor = ring.frames().cursor();
            Ok(Box::new(move |_args, _chan| {
                let batch = ring.frames().read(&mut cursor, FRAME_BATCH_MAX);
                Ok(serde_json::to_value(batch)?)
            }))
        }),
        close: None,
    };
    let data = all_meta()
        .into_iter()
        .fold(StatsServerData::<(), ()>::new(), |d, m| d.add_meta(m))
        .add_stats("top", Box::new(move |_, _| publisher.latest().to_json()))
        .add_ops(FRAMES_TARGET, frames);
    let shown = path.display();
    let server = StatsServer::new(data)
        .set_path(path)
        .launch()
        .with_context(|| format!("starting the stats server on {shown}"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(STATS_SOCKET_MODE))
        .with_context(|| format!("making {shown} root-only"))?;
    let inode = std::fs::metadata(path)
        .with_context(|| format!("reading {shown}"))?
        .ino();
    Ok(StatsSocket {
        server: Some(server),
        path: path.to_path_buf(),
        inode,
    })
}

/// A connection to a running scx_gamer's stats socket.
pub struct MonitorClient {
    client: StatsClient,
}

impl MonitorClient {
    /// Connect to the socket at `path` and check that scx_gamer serves it.
    /// Errors say plainly when nothing runs there or access is refused.
    pub fn connect(path: &Path) -> Result<Self> {
        let shown = path.display();
        let mut client = StatsClient::new()
            .set_path(path)
            .connect(Some(CLIENT_TIMEOUT_MS))
            .map_err(|e| match e.downcast_ref::<io::Error>().map(io::Error::kind) {
                Some(io::ErrorKind::NotFound) => {
                    anyhow!("no scx_gamer is running: there is no stats socket at {shown}")
                }
                Some(io::ErrorKind::ConnectionRefused) => anyhow!(
                    "no scx_gamer is running: {shown} is left from an instance that has stopped"
                ),
                Some(io::ErrorKind::PermissionDenied) => anyhow!(
                    "{shown}: permission denied; the stats socket is root-only, so run --monitor as root"
                ),
                _ => e.context(format!("connecting to {shown}")),
            })?;
        let meta: BTreeMap<String, StatsMeta> = client
            .request("stats_meta", vec![])
            .with_context(|| format!("reading the stats metadata from {shown}"))?;
        let top = meta.values().find(|m| m.attrs.top.is_some());
        let tag = top.and_then(|m| m.attrs.user.get(SCHEDULER_TAG.0));
        if tag.map(String::as_str) != Some(SCHEDULER_TAG.1) {
            let theirs = top.map_or("?", |m| m.name.as_str());
            bail!(
                "{shown} is served by another scheduler (its stats are '{theirs}'), not scx_gamer"
            );
        }
        Ok(MonitorClient { client })
    }

    /// The frames presented since this connection last asked (the first
    /// call starts the connection's cursor and returns none).
    pub fn fetch_frames(&mut self) -> Result<FrameBatch> {
        self.client
            .request("stats", vec![("target".into(), FRAMES_TARGET.into())])
            .context(
                "reading frames from scx_gamer (has it stopped, or is it older than --frame-log?)",
            )
    }

    /// The latest snapshot the scheduler published.
    pub fn fetch(&mut self) -> Result<Metrics> {
        self.client
            .request("stats", vec![])
            .context("reading stats from scx_gamer (has it stopped?)")
    }
}
