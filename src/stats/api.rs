// SPDX-License-Identifier: GPL-2.0-only
//
// What the debug API answers, with no I/O (http.rs moves the bytes):
// `GET` and `HEAD` of `/metrics` and `/health`; anything else is refused
// with the status that says why. The Host header must name a loopback
// address (127.0.0.1, localhost or [::1]): a browser page from elsewhere
// that resolves its own name to 127.0.0.1 (DNS rebinding) sends its own
// name as Host, and is refused.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::Metrics;

/// A snapshot older than this makes `/health` report the scheduler's event
/// loop as stalled (it publishes once a second).
pub const HEALTH_MAX_AGE: Duration = Duration::from_secs(5);
/// A response status: its code and reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u16, &'static str);

impl Status {
    pub const OK: Status = Status(200, "OK");
    pub const BAD_REQUEST: Status = Status(400, "Bad Request");
    pub const FORBIDDEN: Status = Status(403, "Forbidden");
    pub const NOT_FOUND: Status = Status(404, "Not Found");
    pub const METHOD_NOT_ALLOWED: Status = Status(405, "Method Not Allowed");
    pub const HEADERS_TOO_LARGE: Status = Status(431, "Request Header Fields Too Large");
    pub const UNAVAILABLE: Status = Status(503, "Service Unavailable");
    pub const VERSION_NOT_SUPPORTED: Status = Status(505, "HTTP Version Not Supported");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Metrics,
    Health,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub route: Route,
    /// `HEAD`: the headers of the `GET` response without its body.
    pub head_only: bool,
}

/// Read a request head (up to and including the blank line). On refusal,
/// the status and a short reason for the response body.
pub fn parse(head: &[u8]) -> Result<Request, (Status, &'static str)> {
    let bad = |why| Err((Status::BAD_REQUEST, why));
    let Ok(head) = std::str::from_utf8(head) else {
        return bad("not UTF-8");
    };
    let mut lines = head.split("\r\n");
    let parts: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
    let [method, target, version] = parts[..] else {
        return bad("malformed request line");
    };
    if method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return bad("malformed method");
    }
    if !target.starts_with('/') {
        return bad("the target must be a path");
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        v if v.starts_with("HTTP/") => {
            return Err((Status::VERSION_NOT_SUPPORTED, "HTTP/1.0 or HTTP/1.1 only"))
        }
        _ => return bad("malformed version"),
    };
    let mut host = None;
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return bad("malformed header");
        };
        if name.eq_ignore_ascii_case("host") && host.replace(value.trim()).is_some() {
            return bad("more than one Host header");
        }
    }
    match host {
        Some(h) if !is_loopback_host(h) => {
            let why = "Host must be 127.0.0.1, localhost or [::1]";
            return Err((Status::FORBIDDEN, why));
        }
        None if http11 => return bad("HTTP/1.1 needs a Host header"),
        _ => {}
    }
    let route = match target.split_once('?').map_or(target, |(p, _)| p) {
        "/metrics" => Route::Metrics,
        "/health" => Route::Health,
        _ => return Err((Status::NOT_FOUND, "no such path; try /metrics or /health")),
    };
    match method {
        "GET" | "HEAD" => Ok(Request {
            route,
            head_only: method == "HEAD",
        }),
        _ => Err((Status::METHOD_NOT_ALLOWED, "read-only: GET or HEAD")),
    }
}

/// A Host value naming a loopback address, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    ["127.0.0.1", "localhost", "[::1]"].iter().any(|name| {
        host.strip_prefix(name).is_some_and(|port| {
            port.is_empty()
                || port
                    .strip_prefix(':')
                    .is_some_and(|p| p.parse::<u16>().is_ok())
        })
    })
}

/// The whole response to send: head, then body unless `head_only`.
pub struct Response {
    pub head: Vec<u8>,
    pub body: Arc<[u8]>,
}

impl Response {
    pub fn new(status: Status, body: Arc<[u8]>, head_only: bool) -> Self {
        let allow = if status == Status::METHOD_NOT_ALLOWED {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n{allow}\r\n",
            status.0,
            status.1,
            body.len()
        );
        let body = if head_only { Arc::from(&[][..]) } else { body };
        Response {
            head: head.into_bytes(),
            body,
        }
    }

    fn json(status: Status, body: serde_json::Value, head_only: bool) -> Self {
        Response::new(
            status,
            (body.to_string() + "\n").into_bytes().into(),
            head_only,
        )
    }

    pub fn refusal(status: Status, why: &str) -> Self {
        Response::json(status, json!({ "error": why }), false)
    }
}

/// `/health`: ok while snapshots keep coming, 503 before the first one and
/// when the latest is older than `HEALTH_MAX_AGE`.
pub fn health(latest: &Metrics, age: Option<Duration>, head_only: bool) -> Response {
    let Some(age) = age else {
        return Response::json(
            Status::UNAVAILABLE,
            json!({ "status": "starting" }),
            head_only,
        );
    };
    let fresh = age <= HEALTH_MAX_AGE;
    let body = json!({
        "status": if fresh { "ok" } else { "stale" },
        "seq": latest.seq,
        "age_ms": age.as_millis() as u64,
    });
    let status = if fresh {
        Status::OK
    } else {
        Status::UNAVAILABLE
    };
    Response::json(status, body, head_only)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Result<Request, Status> {
        parse(s.as_bytes()).map_err(|(st, _)| st)
    }

    #[test]
    fn get_and_head_of_the_two_paths() {
        let get = |p: &str| req(&format!("GET {p} HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n"));
        assert_eq!(
            get("/metrics"),
            Ok(Request {
                route: Route::Metrics,
                head_only: false
            })
        );
        assert_eq!(get("/health").unwrap().route, Route::Health);
        assert_eq!(get("/metrics?pretty=1").unwrap().route, Route::Metrics);
        assert!(
            req("HEAD /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap()
                .head_only
        );
        // HTTP/1.0 needs no Host.
        assert!(req("GET /metrics HTTP/1.0\r\n\r\n").is_ok());
    }

    #[test]
    fn refusals_carry_the_right_status() {
        let h = "\r\nHost: 127.0.0.1\r\n\r\n";
        assert_eq!(
            req(&format!("POST /metrics HTTP/1.1{h}")),
            Err(Status::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            req(&format!("DELETE /health HTTP/1.1{h}")),
            Err(Status::METHOD_NOT_ALLOWED)
        );
        assert_eq!(req(&format!("GET / HTTP/1.1{h}")), Err(Status::NOT_FOUND));
        assert_eq!(
            req(&format!("POST /nothing HTTP/1.1{h}")),
            Err(Status::NOT_FOUND)
        );
        assert_eq!(
            req(&format!("GET /metrics HTTP/2.0{h}")),
            Err(Status::VERSION_NOT_SUPPORTED)
        );
        assert_eq!(
            req("GET /metrics HTTP/1.1\r\n\r\n"),
            Err(Status::BAD_REQUEST)
        );
        assert_eq!(req("GET /metrics\r\n\r\n"), Err(Status::BAD_REQUEST));
        assert_eq!(
            req("GET  /metrics HTTP/1.1\r\n\r\n"),
            Err(Status::BAD_REQUEST)
        );
        assert_eq!(
            req(&format!("GET http://x/metrics HTTP/1.1{h}")),
            Err(Status::BAD_REQUEST)
        );
        assert_eq!(
            req("GET /metrics HTTP/1.1\r\nnocolon\r\n\r\n"),
            Err(Status::BAD_REQUEST)
        );
        assert_eq!(
            parse(b"GET /\xff HTTP/1.1\r\n\r\n").map_err(|e| e.0),
            Err(Status::BAD_REQUEST)
        );
    }

    #[test]
    fn only_loopback_hosts_are_served() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]",
            "[::1]:80",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "127.0.0.1:http",
            "[::2]:80",
            "[::1]x",
            "",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
        assert_eq!(
            req("GET /metrics HTTP/1.1\r\nHost: evil.example\r\n\r\n"),
            Err(Status::FORBIDDEN)
        );
        assert_eq!(
            req("GET /metrics HTTP/1.1\r\nHost: localhost\r\nhost: evil\r\n\r\n"),
            Err(Status::BAD_REQUEST)
        );
    }

    #[test]
    fn responses_have_length_and_close() {
        let r = Response::refusal(Status::METHOD_NOT_ALLOWED, "read-only");
        let head = String::from_utf8(r.head.clone()).unwrap();
        assert!(head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(head.contains("Allow: GET, HEAD\r\n"));
        assert!(head.contains(&format!("Content-Length: {}\r\n", r.body.len())));
        assert!(head.contains("Connection: close\r\n"));
        assert!(head.ends_with("\r\n\r\n"));

        let h = Response::new(Status::OK, Arc::from(&b"{}\n"[..]), true);
        assert!(String::from_utf8(h.head)
            .unwrap()
            .contains("Content-Length: 3\r\n"));
        assert!(h.body.is_empty());
    }

    fn status_of(r: &Response) -> u16 {
        let head = std::str::from_utf8(&r.head).unwrap();
        head[9..12].parse().unwrap()
    }

    #[test]
    fn health_follows_the_snapshot_age() {
        let m = Metrics {
            seq: 7,
            ..Default::default()
        };
        assert_eq!(status_of(&health(&m, None, false)), 503);
        let ok = health(&m, Some(Duration::from_millis(800)), false);
        assert_eq!(status_of(&ok), 200);
        let body: serde_json::Value = serde_json::from_slice(&ok.body).unwrap();
        assert_eq!(body["status"], "ok");
        assert_eq!(body["seq"], 7);
        let stale = health(&m, Some(HEALTH_MAX_AGE + Duration::from_secs(1)), false);
        assert_eq!(status_of(&stale), 503);
    }
}
