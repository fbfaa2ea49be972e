//! `limbo-harness`: runs Cachet's path validator over the x509-limbo conformance suite.
//!
//! Reads the suite (`{"version": 1, "testcases": [...]}`, see
//! `shared/testdata/x509-limbo/limbo-schema.json`) on standard input and writes
//! `{"version": 1, "harness": "cachet", "results": [{"id", "actual_result", "context"}]}` on
//! standard output, one result per testcase in input order. `actual_result` is SUCCESS or
//! FAILURE as Cachet's validator (and, for the expected peer names, RFC 6125 / RFC 8550
//! matching) decides; a certificate that does not parse is FAILURE. SKIPPED marks a testcase
//! tagged with a feature Cachet does not implement (`features.rs` says which and why), one
//! that contradicts a testcase whose behaviour Cachet implements (`conflicts_with`), or one
//! whose fields cannot be used; the context says which.
//!
//! Exit status: 0 when every testcase was evaluated (whatever the results), 2 when standard
//! input cannot be read or is not a limbo suite. Never panics on its input: a testcase
//! whose evaluation panicked is reported as FAILURE with an "internal error" context.
#![forbid(unsafe_code)]

// A crate root looks for its modules beside itself; these live in their own folder.
#[path = "limbo_harness/features.rs"]
mod features;
#[path = "limbo_harness/run.rs"]
mod run;
#[path = "limbo_harness/testcase.rs"]
mod testcase;

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::process::ExitCode;

/// Largest suite read (the full upstream suite, with its BetterTLS cases, fits easily).
const MAX_INPUT: u64 = 1 << 30;

/// Context prefix of a testcase whose evaluation panicked (a bug in Cachet).
const INTERNAL_ERROR: &str = "internal error";

fn main() -> ExitCode {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_INPUT + 1).read_to_end(&mut input) {
        eprintln!("limbo-harness: cannot read standard input: {e}");
        return ExitCode::from(2);
    }
    if input.len() as u64 > MAX_INPUT {
        eprintln!("limbo-harness: standard input is larger than 1 GiB");
        return ExitCode::from(2);
    }
    let suite: Value = match serde_json::from_slice(&input) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("limbo-harness: standard input is not JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(cases) = suite.get("testcases").and_then(Value::as_array) else {
        eprintln!("limbo-harness: standard input is not a limbo suite (no `testcases` array)");
        return ExitCode::from(2);
    };
    if suite.get("version").and_then(Value::as_u64) != Some(1) {
        eprintln!("limbo-harness: the suite is not limbo version 1");
        return ExitCode::from(2);
    }
    let now = now();
    // The default hook would print each caught panic; the context carries it instead.
    std::panic::set_hook(Box::new(|_| {}));
    let results: Vec<Value> = cases.iter().map(|case| evaluate(case, now)).collect();
    let out = json!({ "version": 1, "harness": "cachet", "results": results });
    let mut stdout = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut stdout, &out)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(stdout))
        .and_then(|()| stdout.flush());
    if let Err(e) = written {
        eprintln!("limbo-harness: cannot write standard output: {e}");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// The result object of one testcase.
fn evaluate(case: &Value, now: u64) -> Value {
    let id = testcase::id_of(case);
    let outcome = match testcase::Testcase::from_json(case) {
        Err(why) => run::Outcome::Skipped(format!("unusable testcase: {why}")),
        Ok(tc) => std::panic::catch_unwind(|| run::run(&tc, now)).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            run::Outcome::Failure(format!(
                "{INTERNAL_ERROR}: the validator panicked ({what}); this is a bug in Cachet"
            ))
        }),
    };
    json!({ "id": id, "actual_result": outcome.result(), "context": outcome.context() })
}

/// The current time, for testcases without a `validation_time`.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
