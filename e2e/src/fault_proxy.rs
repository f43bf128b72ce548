//! A fault-injecting HTTP proxy in front of moto, for the chaos tests: every AWS query-protocol
//! call (EC2, ELBv2: a form body with `Action=`) may be throttled (AWS's own error code for the
//! service), refused with a 503, delayed, or forwarded and then answered with a 500 as if the
//! answer had been lost after the write took effect. Everything else is forwarded untouched.
//! The faults are drawn from a seeded generator; rates can be changed (and faults stopped)
//! while the proxy runs; it counts what it did.
//!
//! It listens on a loopback port only, and knows nothing about what the calls mean.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often each fault strikes, as a fraction of query calls, and the latency added to each.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultRates {
    pub throttled: f64,
    pub unavailable: f64,
    pub lost_answer: f64,
    /// Each call waits a random time up to this before anything else.
    pub max_latency: Duration,
}

/// What the proxy did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyTally {
    pub calls: u64,
    pub throttled: u64,
    pub unavailable: u64,
    pub lost_answer: u64,
}

impl ProxyTally {
    pub fn faulted(&self) -> u64 {
        self.throttled + self.unavailable + self.lost_answer
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Throttled,
    Unavailable,
    LostAnswer,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    state: Mutex<ProxyState>,
}

struct ProxyState {
    rates: FaultRates,
    random: u64,
    tally: ProxyTally,
}

impl ProxyState {
    /// xorshift64*: a number in [0, 1).
    fn next_fraction(&mut self) -> f64 {
        self.random ^= self.random >> 12;
        self.random ^= self.random << 25;
        self.random ^= self.random >> 27;
        let mixed = self.random.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (mixed >> 11) as f64 / (1u64 << 53) as f64
    }

    fn draw(&mut self) -> (Option<Fault>, Duration) {
        self.tally.calls += 1;
        let latency = self.rates.max_latency.mul_f64(self.next_fraction());
        let roll = self.next_fraction();
        let rates = self.rates;
        let fault = if roll < rates.throttled {
            self.tally.throttled += 1;
            Some(Fault::Throttled)
        } else if roll < rates.throttled + rates.unavailable {
            self.tally.unavailable += 1;
            Some(Fault::Unavailable)
        } else if roll < rates.throttled + rates.unavailable + rates.lost_answer {
            self.tally.lost_answer += 1;
            Some(Fault::LostAnswer)
        } else {
            None
        };
        (fault, latency)
    }
}

/// A running proxy; it stops with the test's runtime.
pub struct FaultProxy {
    pub endpoint: String,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (e.g. moto's endpoint) on a free loopback port.
    pub async fn start(upstream: &str, rates: FaultRates, seed: u64) -> Self {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            state: Mutex::new(ProxyState {
                rates,
                random: seed.max(1),
                tally: ProxyTally::default(),
            }),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the fault proxy");
        let endpoint = format!(
            "http://{}",
            listener.local_addr().expect("the proxy's address")
        );
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { endpoint, shared }
    }

    pub fn set_rates(&self, rates: FaultRates) {
        self.lock().rates = rates;
    }

    /// No more faults or latency from now on.
    pub fn stop_faults(&self) {
        self.set_rates(FaultRates::default());
    }

    pub fn tally(&self) -> ProxyTally {
        self.lock().tally
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProxyState> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The query-protocol service of a request body: `Some(true)` for EC2, `Some(false)` for the
/// others (ELBv2), `None` when it is not a query call.
fn query_service(body: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.split('&').any(|pair| pair.starts_with("Action=")) {
        return None;
    }
    Some(text.split('&').any(|pair| pair == "Version=2016-11-15"))
}

/// An AWS error answer in the service's own XML shape.
fn aws_error(status: StatusCode, ec2: bool, code: &str) -> Response {
    let body = if ec2 {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>injected by the fault proxy</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>")
    } else {
        format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected by the fault proxy</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>")
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
}

async fn send_upstream(
    shared: &Shared,
    method: axum::http::Method,
    path: &str,
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, reqwest::Error> {
    let mut request = shared
        .client
        .request(method, format!("{}{path}", shared.upstream))
        .body(body);
    for (name, value) in headers {
        if name != axum::http::header::HOST && name != axum::http::header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let answer = request.send().await?;
    let status = answer.status();
    let answer_headers = answer.headers().clone();
    let bytes = answer.bytes().await?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &answer_headers {
        if name != axum::http::header::TRANSFER_ENCODING
            && name != axum::http::header::CONTENT_LENGTH
        {
            response.headers_mut().insert(name, value.clone());
        }
    }
    Ok(response)
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let Ok(body) = to_bytes(body, 64 << 20).await else {
        return aws_error(StatusCode::BAD_REQUEST, false, "ProxyBodyTooLarge");
    };
    let (fault, ec2) = match query_service(&body) {
        Some(ec2) => {
            let (fault, latency) = shared
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .draw();
            tokio::time::sleep(latency).await;
            (fault, ec2)
        }
        None => (None, false),
    };
    let throttle_code = if ec2 {
        "RequestLimitExceeded"
    } else {
        "Throttling"
    };
    match fault {
        Some(Fault::Throttled) => aws_error(StatusCode::BAD_REQUEST, ec2, throttle_code),
        Some(Fault::Unavailable) => {
            aws_error(StatusCode::SERVICE_UNAVAILABLE, ec2, "ServiceUnavailable")
        }
        Some(Fault::LostAnswer) => {
            let _ = send_upstream(&shared, parts.method, &path, &parts.headers, body).await;
            aws_error(StatusCode::INTERNAL_SERVER_ERROR, ec2, "InternalFailure")
        }
        None => match send_upstream(&shared, parts.method, &path, &parts.headers, body).await {
            Ok(response) => response,
            Err(_) => aws_error(StatusCode::BAD_GATEWAY, ec2, "ProxyUpstreamUnreachable"),
        },
    }
}
