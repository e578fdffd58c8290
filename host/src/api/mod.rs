//! The HTTP API (hyper): routing, JSON views, errors and body limits.

mod body;
pub mod dto;
mod error;
mod routes;

pub use error::ApiError;
pub use routes::POLICY_HEADER;

use std::convert::Infallible;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::scheduler::Scheduler;

/// Serves the API on `listener` until the process ends.
pub async fn serve(listener: TcpListener, scheduler: Scheduler) {
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
        let scheduler = scheduler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let scheduler = scheduler.clone();
                async move { Ok::<_, Infallible>(routes::handle(&scheduler, req).await) }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection ended: {err}");
            }
        });
    }
}
