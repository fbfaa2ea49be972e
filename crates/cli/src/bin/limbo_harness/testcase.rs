//! One x509-limbo testcase read from its JSON (`limbo-schema.json`, `$defs/Testcase`),
//! field by field, so that a hostile or truncated document gives a sentence, not a panic.

use serde_json::Value;

/// `validation_kind`: which side of a TLS handshake validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A client validating a server's certificate.
    Server,
    /// A server validating a client's certificate.
    Client,
}

/// `PeerName.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    Dns,
    Ip,
    Rfc822,
}

/// A `PeerName`: the identity the relying party expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub kind: PeerKind,
    pub value: String,
}

/// The fields of a testcase this harness reads.
#[derive(Debug, Clone)]
pub struct Testcase {
    /// `id`: its namespace (`rfc5280::`, `webpki::`, …) says which profile it tests.
    pub id: String,
    pub features: Vec<String>,
    /// Testcases whose expectation contradicts this one's.
    pub conflicts_with: Vec<String>,
    pub kind: Kind,
    pub trusted_certs: Vec<String>,
    pub untrusted_intermediates: Vec<String>,
    pub peer_certificate: String,
    /// RFC 3339, or `None` for "now".
    pub validation_time: Option<String>,
    pub signature_algorithms: Vec<String>,
    pub key_usage: Vec<String>,
    pub extended_key_usage: Vec<String>,
    /// `expected_peer_name` (SERVER) followed by `expected_peer_names` (CLIENT).
    pub peer_names: Vec<Peer>,
    /// Most intermediates (limbo counts certificates between the anchor and the leaf).
    pub max_chain_depth: Option<u64>,
    pub crls: Vec<String>,
}

/// The `id` of a testcase, for reporting one whose other fields are unusable.
pub fn id_of(case: &Value) -> String {
    case.get("id")
        .and_then(Value::as_str)
        .unwrap_or("<testcase without an id>")
        .to_string()
}

impl Testcase {
    /// Reads a testcase; the error says which field is unusable.
    pub fn from_json(case: &Value) -> Result<Testcase, String> {
        let obj = case
            .as_object()
            .ok_or("the testcase is not a JSON object")?;
        if !obj.get("id").is_some_and(Value::is_string) {
            return Err("the testcase has no string `id`".into());
        }
        let kind = match obj.get("validation_kind").and_then(Value::as_str) {
            Some("SERVER") => Kind::Server,
            Some("CLIENT") => Kind::Client,
            other => {
                return Err(format!(
                    "`validation_kind` is {other:?}, not \"SERVER\" or \"CLIENT\""
                ));
            }
        };
        let mut peer_names = Vec::new();
        match obj.get("expected_peer_name") {
            None | Some(Value::Null) => {}
            Some(v) => peer_names.push(peer(v, "expected_peer_name")?),
        }
        for v in array(case, "expected_peer_names")? {
            peer_names.push(peer(v, "expected_peer_names")?);
        }
        let max_chain_depth = match obj.get("max_chain_depth") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or("`max_chain_depth` is not a non-negative integer")?,
            ),
        };
        let validation_time = match obj.get("validation_time") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err("`validation_time` is not a string".into()),
        };
        Ok(Testcase {
            features: strings(case, "features")?,
            id: id_of(case),
            conflicts_with: strings(case, "conflicts_with")?,
            kind,
            trusted_certs: strings(case, "trusted_certs")?,
            untrusted_intermediates: strings(case, "untrusted_intermediates")?,
            peer_certificate: obj
                .get("peer_certificate")
                .and_then(Value::as_str)
                .ok_or("the testcase has no string `peer_certificate`")?
                .to_string(),
            validation_time,
            signature_algorithms: strings(case, "signature_algorithms")?,
            key_usage: strings(case, "key_usage")?,
            extended_key_usage: strings(case, "extended_key_usage")?,
            peer_names,
            max_chain_depth,
            crls: strings(case, "crls")?,
        })
    }
}

/// An optional array field (absent or null: empty).
fn array<'a>(case: &'a Value, field: &str) -> Result<&'a [Value], String> {
    match case.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("`{field}` is not an array")),
    }
}

/// An optional array of strings.
fn strings(case: &Value, field: &str) -> Result<Vec<String>, String> {
    array(case, field)?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("`{field}` holds something other than a string"))
        })
        .collect()
}

fn peer(v: &Value, field: &str) -> Result<Peer, String> {
    let kind = match v.get("kind").and_then(Value::as_str) {
        Some("DNS") => PeerKind::Dns,
        Some("IP") => PeerKind::Ip,
        Some("RFC822") => PeerKind::Rfc822,
        other => {
            return Err(format!(
                "`{field}` has kind {other:?}, not DNS, IP or RFC822"
            ));
        }
    };
    let value = v
        .get("value")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{field}` has no string `value`"))?
        .to_string();
    Ok(Peer { kind, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_minimal_case_and_refuses_bad_fields() {
        let case = json!({
            "id": "a::b", "validation_kind": "CLIENT", "peer_certificate": "x",
            "expected_peer_names": [{"kind": "RFC822", "value": "a@example.com"}],
            "max_chain_depth": 2
        });
        let t = Testcase::from_json(&case).unwrap();
        assert_eq!(t.kind, Kind::Client);
        assert_eq!(t.max_chain_depth, Some(2));
        assert_eq!(t.peer_names[0].kind, PeerKind::Rfc822);
        assert!(t.trusted_certs.is_empty());

        let bad = json!({"id": "x", "validation_kind": "SERVER", "peer_certificate": "x",
            "max_chain_depth": -1});
        assert!(Testcase::from_json(&bad).is_err());
        let bad = json!({"id": "x", "validation_kind": "SERVER", "peer_certificate": 3});
        assert!(Testcase::from_json(&bad).is_err());
        assert!(Testcase::from_json(&json!([1, 2])).is_err());
        assert_eq!(id_of(&json!(7)), "<testcase without an id>");
    }
}
