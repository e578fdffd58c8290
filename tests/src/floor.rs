//! The durable floor of an HTTP round trip on this machine, for one client at a time: a bare
//! server that, for each request, writes the request's body to a preallocated file and syncs
//! it (`fdatasync`) before answering. A durable API that persists this way (Reprise's log
//! does) cannot answer a sequential call faster on the same disk and loopback, so the `api`
//! benchmark prints its round trip beside Reprise's. (It is not a floor for concurrent
//! clients, which group commit serves with one sync for many, nor for disks with power-loss
//! protection, where a sync does not flush a volatile cache.)

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::server::{Reply, TestServer};

/// Bytes preallocated in the file; writes wrap around inside them.
const FILE_BYTES: u64 = 8 << 20;

/// A running floor server, on its own two-thread runtime (as the host's).
pub struct DurableFloor {
    /// Base URL, e.g. `http://127.0.0.1:PORT`.
    pub url: String,
    /// Serves on `runtime`; stopped when dropped, before it.
    server: Option<TestServer>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// The file and where the next write goes.
struct Log {
    file: File,
    offset: u64,
}

impl DurableFloor {
    /// Starts the server on a free loopback port, writing to a new file at `path`.
    pub fn start(path: &Path) -> anyhow::Result<DurableFloor> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        // Allocated and synced in full first, so a sync never has to change the file's size.
        file.write_all_at(&vec![0u8; FILE_BYTES as usize], 0)?;
        file.sync_all()?;
        let log = Arc::new(Mutex::new(Log { file, offset: 0 }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let server = TestServer::start_on(runtime.handle(), listener, move |req| {
            answer(log.clone(), req)
        })?;
        Ok(DurableFloor {
            url: server.url(),
            server: Some(server),
            runtime: Some(runtime),
        })
    }
}

impl Drop for DurableFloor {
    fn drop(&mut self) {
        drop(self.server.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Writes the body of `req` durably: 200 once it is on the disk, 500 if it could not be.
async fn answer(log: Arc<Mutex<Log>>, req: Request<Incoming>) -> Reply {
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let status = match body.map(|b| write_durably(&log, &b)) {
        Ok(Ok(())) => StatusCode::OK,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// Writes `bytes` at the next place in the file and waits until they are on the disk.
fn write_durably(log: &Mutex<Log>, bytes: &[u8]) -> std::io::Result<()> {
    let mut log = log.lock().map_err(|_| std::io::Error::other("poisoned"))?;
    let len = bytes.len() as u64;
    if log.offset + len > FILE_BYTES {
        log.offset = 0;
    }
    log.file.write_all_at(bytes, log.offset)?;
    log.file.sync_data()?;
    log.offset += len;
    Ok(())
}
