//! The HTTP API: the hyper server, the route table, the handlers, what requests name in
//! their paths and queries, JSON views, errors and body limits.

pub mod access_dto;
mod admin;
mod auth;
mod body;
pub mod dto;
mod error;
mod handlers;
mod params;
mod routes;
#[cfg(test)]
mod tests;

pub use error::ApiError;
pub use handlers::POLICY_HEADER;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::scheduler::Scheduler;

/// Serves the API on `listener` until the process ends.
pub async fn serve(listener: TcpListener, scheduler: Scheduler) {
    let service = TowerToHyperService::new(routes::router(scheduler));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!("accept failed: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection ended: {err}");
            }
        });
    }
}
