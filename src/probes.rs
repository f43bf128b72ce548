//! The HTTP endpoints a cluster scrapes and probes: `/metrics` (Prometheus text) on
//! `--metrics-bind-addr`, `/healthz` (alive while the process runs) and `/readyz` (ready once
//! `crate::lifecycle` says so) on `--health-probe-bind-addr`.
//!
//! It serves state; it does not compute it.

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;

/// Upstream's address syntax: `:8080` means every interface.
pub fn parse_bind_address(text: &str) -> Result<SocketAddr, String> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    full.parse()
        .map_err(|_| format!("{text:?} is not an address such as :8080 or 127.0.0.1:8080"))
}

async fn metrics_text() -> ([(&'static str, &'static str); 1], String) {
    (
        [("content-type", "text/plain; version=0.0.4")],
        crate::metrics::metrics().render(),
    )
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz() -> (StatusCode, String) {
    match crate::lifecycle::waiting_for() {
        None => (StatusCode::OK, "ok".to_string()),
        Some(waiting) => (StatusCode::SERVICE_UNAVAILABLE, waiting),
    }
}

/// The routes of both servers (one router: each server gets all routes, which is harmless and
/// lets one address serve both when the flags name the same one).
pub fn router() -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Binds both addresses (failing at once when one is taken) and returns the task serving them.
pub async fn serve(
    metrics_address: SocketAddr,
    health_address: SocketAddr,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let bind = |address: SocketAddr| async move {
        tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| format!("cannot listen on {address}: {e}"))
    };
    let metrics_listener = bind(metrics_address).await?;
    let health_listener = if health_address == metrics_address {
        None
    } else {
        Some(bind(health_address).await?)
    };
    Ok(tokio::spawn(async move {
        let metrics = axum::serve(metrics_listener, router());
        match health_listener {
            Some(listener) => {
                let health = axum::serve(listener, router());
                let _ = tokio::join!(metrics, health);
            }
            None => {
                let _ = metrics.await;
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_address_syntax_is_accepted() {
        assert_eq!(
            parse_bind_address(":8080").unwrap(),
            "0.0.0.0:8080".parse().unwrap()
        );
        assert_eq!(
            parse_bind_address("127.0.0.1:61779").unwrap(),
            "127.0.0.1:61779".parse().unwrap()
        );
        assert!(parse_bind_address("eighty").is_err());
    }
}
