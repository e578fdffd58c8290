//! The OTLP/HTTP exporter: spans in batches, as the protocol's JSON encoding, POSTed to a
//! collector's `/v1/traces`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value as Json, json};
use tokio::sync::mpsc;

use super::{Span, Value};

/// Most spans in one request.
const BATCH: usize = 512;
/// How long a batch waits for more spans after its first.
const LINGER: Duration = Duration::from_millis(200);
/// How often a batch is sent before it is dropped, and the pause before each retry.
const RETRIES: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(5),
];

/// An endpoint that is not `http://HOST:PORT[/PATH]`.
#[derive(Debug, thiserror::Error)]
#[error("the OTLP endpoint must be an http:// URL such as http://127.0.0.1:4318, got `{0}`")]
pub struct BadEndpoint(String);

/// Sends batches of spans to one collector.
pub(super) struct Exporter {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    service: String,
}

impl Exporter {
    /// An exporter to `endpoint` (its `/v1/traces` when it has no path of its own).
    pub(super) fn new(endpoint: &str, service: &str) -> Result<Self, BadEndpoint> {
        let bad = || BadEndpoint(endpoint.to_string());
        let uri: Uri = endpoint.parse().map_err(|_| bad())?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(bad());
        }
        let uri = match uri.path() {
            "" | "/" => format!("{}/v1/traces", endpoint.trim_end_matches('/'))
                .parse()
                .map_err(|_| bad())?,
            _ => uri,
        };
        Ok(Exporter {
            client: Client::builder(TokioExecutor::new()).build_http(),
            uri,
            service: service.to_string(),
        })
    }

    /// Sends what arrives on `spans` until every sender is gone, counting in `dropped` what
    /// the collector would not take.
    pub(super) async fn run(self, mut spans: mpsc::Receiver<Span>, dropped: Arc<AtomicU64>) {
        while let Some(first) = spans.recv().await {
            let mut batch = vec![first];
            let linger = tokio::time::sleep(LINGER);
            tokio::pin!(linger);
            while batch.len() < BATCH {
                tokio::select! {
                    more = spans.recv() => match more {
                        Some(span) => batch.push(span),
                        None => break,
                    },
                    () = &mut linger => break,
                }
            }
            if !self.send(&batch).await {
                dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
        }
    }

    /// Sends `batch`, retrying a few times; whether the collector took it.
    async fn send(&self, batch: &[Span]) -> bool {
        let body = Bytes::from(encode(&self.service, batch).to_string());
        for pause in RETRIES {
            let request = Request::post(self.uri.clone())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone()));
            let Ok(request) = request else { return false };
            match self.client.request(request).await {
                Ok(answer) if answer.status().is_success() => return true,
                Ok(answer) => {
                    tracing::warn!(status = %answer.status(), "the OTLP collector refused spans");
                }
                Err(err) => tracing::warn!("cannot reach the OTLP collector: {err}"),
            }
            tokio::time::sleep(pause).await;
        }
        false
    }
}

/// An `ExportTraceServiceRequest` in OTLP's JSON encoding.
fn encode(service: &str, spans: &[Span]) -> Json {
    json!({"resourceSpans": [{
        "resource": {"attributes": [attribute("service.name", &Value::Text(service.to_string()))]},
        "scopeSpans": [{
            "scope": {"name": "reprise", "version": env!("CARGO_PKG_VERSION")},
            "spans": spans.iter().map(span).collect::<Vec<_>>(),
        }],
    }]})
}

fn span(s: &Span) -> Json {
    let status = match &s.error {
        Some(message) => json!({"code": 2, "message": message}),
        None => json!({"code": 1}),
    };
    json!({
        "traceId": format!("{:032x}", s.trace),
        "spanId": format!("{:016x}", s.id),
        "parentSpanId": s.parent.map(|p| format!("{p:016x}")).unwrap_or_default(),
        "name": s.name,
        "kind": 1,
        "startTimeUnixNano": s.start_ns.to_string(),
        "endTimeUnixNano": s.end_ns.to_string(),
        "attributes": s.attributes.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
        "status": status,
    })
}

fn attribute(key: &str, value: &Value) -> Json {
    let value = match value {
        Value::Text(text) => json!({"stringValue": text}),
        // OTLP's JSON encodes 64-bit integers as strings.
        Value::Int(n) => json!({"intValue": n.to_string()}),
    };
    json!({"key": key, "value": value})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_encoded_as_otlp_json() {
        let span = Span {
            trace: 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
            id: 0x42,
            parent: Some(0x7),
            name: "step 2 http".into(),
            start_ns: 1_700_000_000_000_000_000,
            end_ns: 1_700_000_000_500_000_000,
            attributes: vec![("reprise.step", Value::Int(2))],
            error: Some("503".into()),
        };
        let body = encode("reprise", &[span]);
        let s = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["traceId"], "0123456789abcdef0123456789abcdef");
        assert_eq!(s["spanId"], "0000000000000042");
        assert_eq!(s["parentSpanId"], "0000000000000007");
        assert_eq!(s["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(s["attributes"][0]["value"]["intValue"], "2");
        assert_eq!(s["status"]["code"], 2);
        let service = &body["resourceSpans"][0]["resource"]["attributes"][0];
        assert_eq!(service["value"]["stringValue"], "reprise");
    }

    #[test]
    fn an_endpoint_is_an_http_url_and_gets_the_traces_path() {
        let exporter = |e: &str| Exporter::new(e, "s").map(|x| x.uri.to_string());
        assert_eq!(
            exporter("http://127.0.0.1:4318").ok().as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(
            exporter("http://c:4318/custom").ok().as_deref(),
            Some("http://c:4318/custom")
        );
        for bad in ["https://c:4318", "127.0.0.1:4318", "not a url", ""] {
            assert!(exporter(bad).is_err(), "{bad}");
        }
    }
}
