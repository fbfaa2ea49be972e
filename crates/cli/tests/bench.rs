//! `cachet bench --json` reports every operation with the primitive's rate beside it.

mod common;
use common::*;

/// Runs `cachet bench OPS… --json` (plus `extra`) and checks that every operation, key and
/// size asked for appears exactly once, each with positive rates.
fn check_rows(ops: &[&str], extra: &[&str], keys: &[&str], sizes: &[u64]) {
    let t = scratch();
    let mut args = vec!["bench"];
    args.extend_from_slice(ops);
    args.extend_from_slice(&["--seconds", "0.05", "--json"]);
    args.extend_from_slice(extra);
    let r = cachet(t.path(), &args).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = v.as_array().unwrap();
    let mut seen = Vec::new();
    for row in rows {
        let op = row["operation"].as_str().unwrap();
        let key = row["key"].as_str().unwrap();
        let size = row["size"].as_u64().unwrap();
        assert!(ops.contains(&op), "{row}");
        assert!(keys.contains(&key), "{row}");
        assert!(sizes.contains(&size), "{row}");
        assert!(row["ops_per_sec"].as_f64().unwrap() > 0.0, "{row}");
        assert!(
            row["primitive_ops_per_sec"].as_f64().unwrap() > 0.0,
            "{row}"
        );
        seen.push((op.to_string(), key.to_string(), size));
    }
    let n = rows.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n, "a combination twice: {}", r.stdout);
    assert_eq!(
        n,
        ops.len() * keys.len() * sizes.len(),
        "every combination once: {}",
        r.stdout
    );
}

#[test]
fn bench_json_lists_operations_beside_primitive_rates() {
    let keys = ["rsa-2048", "ecdsa-p256"];
    check_rows(&["sign", "verify"], &[], &keys, &[10240, 1048576]);
    check_rows(&["encrypt", "decrypt"], &[], &keys, &[10240, 1048576]);
    check_rows(
        &["verify-uncached"],
        &["--key-type", "ecdsa-p256", "--size", "4096"],
        &["ecdsa-p256"],
        &[4096],
    );
}

#[test]
fn bad_bench_arguments_are_refused() {
    let t = scratch();
    for args in [
        &["bench", "--seconds", "0"][..],
        &["bench", "sign", "--key-type", "ed25519"],
        &["bench", "sign", "--size", "0"],
    ] {
        let r = cachet(t.path(), args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
}
