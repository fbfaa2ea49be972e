//! Counters exposed at `/metrics` in the Prometheus text exposition format (version
//! 0.0.4): HTTP requests by route template and status, OCSP SingleResponses by status and
//! error responses by OCSPResponseStatus (RFC 6960 §4.2.1), CRLs published by this process,
//! and the process uptime.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// The counters. Each update takes one uncontended lock for a map look-up.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<HashMap<String, HashMap<u16, u64>>>,
    ocsp: Mutex<BTreeMap<&'static str, u64>>,
    crls: Mutex<BTreeMap<String, u64>>,
}

fn add<K: Ord>(m: &Mutex<BTreeMap<K, u64>>, k: K, n: u64) {
    let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
    *g.entry(k).or_insert(0) += n;
}

/// A label value with `\`, `"` and newlines escaped, as the exposition format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts one request answered with `status` on `route` (the route template, e.g.
    /// `/crl/{file}`, so that the label set stays bounded whatever clients ask for).
    pub fn request(&self, route: &str, status: u16) {
        let mut g = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(by_status) = g.get_mut(route) {
            *by_status.entry(status).or_insert(0) += 1;
        } else {
            g.insert(route.to_string(), HashMap::from([(status, 1)]));
        }
    }

    /// Counts OCSP outcomes: `good`, `revoked`, `unknown` per SingleResponse, or the name
    /// of an error status.
    pub fn ocsp(&self, status: &'static str, n: u64) {
        if n > 0 {
            add(&self.ocsp, status, n);
        }
    }

    /// Counts a CRL published by this process for CA `ca`.
    pub fn crl_published(&self, ca: &str) {
        add(&self.crls, ca.to_string(), 1);
    }

    /// The exposition text.
    pub fn render(&self, uptime: Duration) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP cachet_http_requests_total HTTP requests answered, by route and status.\n",
        );
        out.push_str("# TYPE cachet_http_requests_total counter\n");
        {
            let g = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            let mut rows: Vec<(&String, u16, u64)> = g
                .iter()
                .flat_map(|(r, m)| m.iter().map(move |(s, n)| (r, *s, *n)))
                .collect();
            rows.sort();
            for (route, status, n) in rows {
                let _ = writeln!(
                    out,
                    "cachet_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    label(route)
                );
            }
        }
        out.push_str("# HELP cachet_ocsp_responses_total OCSP answers: SingleResponses by certificate status, or error responses by OCSPResponseStatus.\n");
        out.push_str("# TYPE cachet_ocsp_responses_total counter\n");
        for (status, n) in self.ocsp.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "cachet_ocsp_responses_total{{status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP cachet_crl_publications_total CRLs published by this process, by CA.\n",
        );
        out.push_str("# TYPE cachet_crl_publications_total counter\n");
        for (ca, n) in self.crls.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "cachet_crl_publications_total{{ca=\"{}\"}} {n}",
                label(ca)
            );
        }
        out.push_str("# HELP cachet_process_uptime_seconds Seconds since the server started.\n");
        out.push_str("# TYPE cachet_process_uptime_seconds gauge\n");
        let _ = writeln!(
            out,
            "cachet_process_uptime_seconds {:.3}",
            uptime.as_secs_f64()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_escaped_labels() {
        let m = Metrics::default();
        m.request("/crl/{file}", 200);
        m.request("/crl/{file}", 200);
        m.request("/crl/{file}", 304);
        m.request("a\"b", 404);
        m.ocsp("good", 2);
        m.ocsp("revoked", 0);
        m.crl_published("issuing");
        let t = m.render(Duration::from_millis(1500));
        assert!(
            t.contains("cachet_http_requests_total{route=\"/crl/{file}\",status=\"200\"} 2\n"),
            "{t}"
        );
        assert!(t.contains("status=\"304\"} 1\n"));
        assert!(t.contains("route=\"a\\\"b\""));
        assert!(t.contains("cachet_ocsp_responses_total{status=\"good\"} 2\n"));
        assert!(!t.contains("revoked"));
        assert!(t.contains("cachet_crl_publications_total{ca=\"issuing\"} 1\n"));
        assert!(t.contains("cachet_process_uptime_seconds 1.500\n"));
    }
}
