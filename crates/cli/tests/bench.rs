//! `cachet bench --json` reports every operation with the primitive's rate beside it.

mod common;
use common::*;

#[test]
fn bench_json_lists_operations_beside_primitive_rates() {
    let t = scratch();
    let r = cachet(
        t.path(),
        &["bench", "sign", "verify", "--seconds", "0.05", "--json"],
    )
    .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(
        rows.len(),
        8,
        "2 operations x 2 keys x 2 sizes: {}",
        r.stdout
    );
    for row in rows {
        assert!(["sign", "verify"].contains(&row["operation"].as_str().unwrap()));
        assert!(["rsa-2048", "ecdsa-p256"].contains(&row["key"].as_str().unwrap()));
        assert!([10240, 1048576].contains(&row["size"].as_u64().unwrap()));
        assert!(row["ops_per_sec"].as_f64().unwrap() > 0.0);
        assert!(row["primitive_ops_per_sec"].as_f64().unwrap() > 0.0);
    }
    let r = cachet(t.path(), &["bench", "--seconds", "0"]);
    assert_eq!(r.code, 2);
}

#[test]
fn bench_json_lists_encrypt_and_decrypt_for_each_key_and_size() {
    let t = scratch();
    let r = cachet(
        t.path(),
        &["bench", "encrypt", "decrypt", "--seconds", "0.05", "--json"],
    )
    .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(
        rows.len(),
        8,
        "2 operations x 2 keys x 2 sizes: {}",
        r.stdout
    );
    let mut seen = Vec::new();
    for row in rows {
        let op = row["operation"].as_str().unwrap();
        let key = row["key"].as_str().unwrap();
        let size = row["size"].as_u64().unwrap();
        assert!(["encrypt", "decrypt"].contains(&op), "{row}");
        assert!(["rsa-2048", "ecdsa-p256"].contains(&key), "{row}");
        assert!([10240, 1048576].contains(&size), "{row}");
        assert!(row["ops_per_sec"].as_f64().unwrap() > 0.0, "{row}");
        assert!(
            row["primitive_ops_per_sec"].as_f64().unwrap() > 0.0,
            "{row}"
        );
        seen.push((op.to_string(), key.to_string(), size));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 8, "every combination once: {}", r.stdout);
}
