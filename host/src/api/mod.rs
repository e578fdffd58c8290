//! The HTTP API: the hyper server, the route table, the handlers, what requests name in
//! their paths and queries, JSON views, errors and body limits.

pub mod access_dto;
mod admin;
mod auth;
mod body;
mod connections;
pub mod dto;
mod egress;
mod error;
mod handlers;
mod logs;
mod moves;
mod params;
mod rewind;
mod routes;
mod schedules;
#[cfg(test)]
mod tests;
mod versions;

pub use body::Uploads;
pub use error::ApiError;
pub use handlers::POLICY_HEADER;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::scheduler::Scheduler;

/// How long a connection may take to send a request's headers (and stay silent between
/// requests) before it is closed.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the API on `listener` until the process ends, with at most `max_connections` open
/// (at the cap a newcomer closes the connection idle longest).
pub async fn serve(
    listener: TcpListener,
    scheduler: Scheduler,
    max_connections: usize,
    uploads: Uploads,
) {
    let service = TowerToHyperService::new(routes::router(scheduler, uploads));
    let connections = connections::Connections::new(max_connections);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!("accept failed: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(connection) = connections.admit() else {
            tracing::warn!("refused a connection: all {max_connections} are serving requests");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let connection = std::sync::Arc::new(connection);
            let tracked = {
                let connection = connection.clone();
                hyper::service::service_fn(move |request| {
                    let (service, connection) = (service.clone(), connection.clone());
                    connection.busy();
                    async move {
                        let response = hyper::service::Service::call(&service, request).await;
                        connection.idle();
                        response
                    }
                })
            };
            let mut builder = http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let serving = builder.serve_connection(TokioIo::new(stream), tracked);
            tokio::pin!(serving);
            tokio::select! {
                result = serving.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!("connection ended: {err}");
                    }
                }
                () = connection.closing.notify.notified() => {
                    tracing::debug!("closed an idle connection for a new one");
                }
            }
        });
    }
}
