//! `casebridge`: run CaseBridge, run one of its components, or act as an agency. The commands
//! live in the library (`src/lib.rs`); the benchmarks are the `casebridge-bench` binary.
#![forbid(unsafe_code)]

use casebridge_cli::{Cli, output};
use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match casebridge_cli::run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", output::failure(&error));
            std::process::ExitCode::from(output::exit_code(&error))
        }
    }
}
