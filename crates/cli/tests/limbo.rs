//! The x509-limbo conformance suite (`shared/testdata/x509-limbo/limbo.json`, 207 cases)
//! through the `limbo-harness` binary: prints the pass rate with every skipped and every
//! unexpected result (also written to `target/limbo-report.txt`), and fails when
//!
//! - a testcase gets no result, or the harness panics or misreports one;
//! - any of the 10 `rfc5280::nc::*` CLIENT (RFC 822 name constraint) cases fails;
//! - a case that expects FAILURE yields SUCCESS;
//! - fewer than [`MIN_PASSED`] cases pass.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/x509-limbo/limbo.json"
);
const HARNESS: &str = env!("CARGO_BIN_EXE_limbo-harness");

/// The pass count reached; a regression below it fails the test.
const MIN_PASSED: usize = 180;

/// One testcase with the harness's answer.
struct Row {
    id: String,
    kind: String,
    expected: String,
    actual: String,
    context: String,
}

fn run_harness(input: &[u8]) -> (i32, Vec<u8>, String) {
    let mut child = Command::new(HARNESS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start limbo-harness");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The harness may stop reading early on bad input; a broken pipe is fine.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("limbo-harness output");
    writer.join().expect("writer thread");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rows() -> Vec<Row> {
    let suite_bytes = std::fs::read(SUITE).unwrap_or_else(|e| {
        panic!("cannot read the x509-limbo suite at {SUITE} ({e}): it lives in shared/testdata beside the repository")
    });
    let suite: Value = serde_json::from_slice(&suite_bytes).expect("limbo.json is JSON");
    let cases = suite["testcases"].as_array().expect("testcases");
    let (code, stdout, stderr) = run_harness(&suite_bytes);
    assert_eq!(code, 0, "limbo-harness failed: {stderr}");
    let out: Value = serde_json::from_slice(&stdout).expect("the harness writes JSON");
    assert_eq!(out["version"], 1);
    assert_eq!(out["harness"], "cachet");
    let results = out["results"].as_array().expect("results");
    assert_eq!(results.len(), cases.len(), "one result per testcase");
    cases
        .iter()
        .zip(results)
        .map(|(case, result)| {
            let row = Row {
                id: case["id"].as_str().expect("id").to_string(),
                kind: case["validation_kind"].as_str().unwrap_or("").to_string(),
                expected: case["expected_result"]
                    .as_str()
                    .expect("expected")
                    .to_string(),
                actual: result["actual_result"].as_str().unwrap_or("").to_string(),
                context: result["context"].as_str().unwrap_or("").to_string(),
            };
            assert_eq!(
                result["id"].as_str(),
                Some(row.id.as_str()),
                "results in order"
            );
            assert!(
                ["SUCCESS", "FAILURE", "SKIPPED"].contains(&row.actual.as_str()),
                "{}: actual_result {:?}",
                row.id,
                row.actual
            );
            assert!(
                !row.context.starts_with("internal error"),
                "{}: {}",
                row.id,
                row.context
            );
            row
        })
        .collect()
}

/// Where cargo puts the harness's target directory (`target/` unless CARGO_TARGET_DIR says
/// otherwise): the binary is `<target>/<profile>/limbo-harness`.
fn target_dir() -> Option<PathBuf> {
    Path::new(HARNESS)
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
}

#[test]
fn limbo_suite_pass_rate() {
    let rows = rows();
    let passed = rows.iter().filter(|r| r.actual == r.expected).count();
    let skipped: Vec<&Row> = rows.iter().filter(|r| r.actual == "SKIPPED").collect();
    let unexpected: Vec<&Row> = rows
        .iter()
        .filter(|r| r.actual != "SKIPPED" && r.actual != r.expected)
        .collect();

    let mut report = format!(
        "x509-limbo: {passed}/{} passed, {} skipped, {} unexpected (harness: limbo-harness)\n",
        rows.len(),
        skipped.len(),
        unexpected.len()
    );
    report.push_str("skipped:\n");
    for r in &skipped {
        report.push_str(&format!("  {}: {}\n", r.id, r.context));
    }
    report.push_str("unexpected results:\n");
    for r in &unexpected {
        report.push_str(&format!(
            "  {}: expected {}, got {}: {}\n",
            r.id, r.expected, r.actual, r.context
        ));
    }
    println!("{report}");
    let report_path = target_dir().map(|t| t.join("limbo-report.txt"));
    if let Some(p) = &report_path {
        // The report is a convenience; a read-only target directory is not a failure.
        let _ = std::fs::write(p, &report);
    }
    // libtest captures println!/eprintln! of passing tests, not writes to the stderr handle:
    // this line shows in every test log.
    let _ = writeln!(
        std::io::stderr(),
        "x509-limbo: {passed}/{} passed, {} skipped, {} unexpected; full report in {}",
        rows.len(),
        skipped.len(),
        unexpected.len(),
        report_path.map_or("the test's standard output".into(), |p| p
            .display()
            .to_string())
    );

    // The RFC 822 name-constraint cases, the ones that matter most for S/MIME.
    let client_nc: Vec<&Row> = rows
        .iter()
        .filter(|r| r.id.starts_with("rfc5280::nc::") && r.kind == "CLIENT")
        .collect();
    assert_eq!(client_nc.len(), 10, "the suite has 10 CLIENT nc cases");
    for r in &client_nc {
        assert_eq!(
            r.actual, r.expected,
            "{}: RFC 822 name constraints: {}",
            r.id, r.context
        );
    }

    // Nothing that should be refused is accepted.
    let false_accepts: Vec<String> = rows
        .iter()
        .filter(|r| r.expected == "FAILURE" && r.actual == "SUCCESS")
        .map(|r| format!("{}: {}", r.id, r.context))
        .collect();
    assert!(
        false_accepts.is_empty(),
        "cases that should be refused are accepted:\n{}",
        false_accepts.join("\n")
    );

    assert!(
        passed >= MIN_PASSED,
        "x509-limbo pass count fell to {passed}, below {MIN_PASSED}:\n{report}"
    );
}

#[test]
fn hostile_input_gets_a_message_not_a_crash() {
    for input in [
        &b"not json"[..],
        b"",
        b"{\"version\": 1}",
        b"{\"version\": 2, \"testcases\": []}",
        &[0xff; 64],
    ] {
        let (code, stdout, stderr) = run_harness(input);
        assert_eq!(code, 2, "{input:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.starts_with("limbo-harness: "), "{stderr}");
    }
    // Bad testcases are reported, one result each, and never stop the run.
    let suite = serde_json::json!({"version": 1, "testcases": [
        {"id": "garbage-pem", "validation_kind": "SERVER", "features": [],
         "peer_certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
         "trusted_certs": ["not even PEM"]},
        {"id": "unknown-feature", "validation_kind": "SERVER", "peer_certificate": "x",
         "features": ["some-future-feature"]},
        {"id": "wrong-types", "validation_kind": "SERVER", "peer_certificate": 7},
        17,
    ]});
    let (code, stdout, stderr) = run_harness(suite.to_string().as_bytes());
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_json::from_slice(&stdout).unwrap();
    let got: Vec<(&str, &str)> = out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap(),
                r["actual_result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("garbage-pem", "FAILURE"),
            ("unknown-feature", "SKIPPED"),
            ("wrong-types", "SKIPPED"),
            ("<testcase without an id>", "SKIPPED"),
        ]
    );
}
