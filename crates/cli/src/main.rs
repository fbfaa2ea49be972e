//! `cachet`: the command line over Cachet's library crates. It parses arguments, reads and
//! writes files, prints results (human-readable or `--json`) and maps failures to exit
//! statuses: 0 success, 1 a verdict that is not valid, 2 usage or input errors. All the
//! work happens in `cachet-service` and the pure crates below it.
#![forbid(unsafe_code)]

mod bench_cmd;
mod capabilities;
mod commands;
mod directory_cmd;
mod doctor_cmd;
mod https_cmd;
mod io;
mod pki_cmd;
mod recovery_cmd;
mod serve_cmd;
mod smime_cmd;
mod stream_io;
mod token_cmd;
mod trust_args;
mod trust_cmd;
mod user_cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    // `serve` uses every core; the other commands one thread.
    let mut builder = if cli.is_server() {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cachet: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cachet: {e}");
            ExitCode::from(2)
        }
    }
}
