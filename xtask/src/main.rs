//! `cargo xtask`: the project's automation, in Rust instead of shell scripts.
//!
//! xtask never links Burn: anything that trains or benchmarks is a `--release`
//! cargo invocation spawned through `$CARGO`, so `cargo xtask` stays quick to
//! build and never trains in the dev profile.

mod data;
mod advise;
mod flags;
mod gpu;
mod publish;
mod util;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    match run(flags::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One line with the whole chain, as the experiment binary prints it.
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: flags::Cli) -> anyhow::Result<()> {
    match cli.command {
        flags::Command::Test(cmd) => cmd.run(),
        flags::Command::Bench(cmd) => cmd.run(),
        flags::Command::Reproduce(cmd) => cmd.run(),
        flags::Command::ReproduceAll(cmd) => cmd.run(),
        flags::Command::Data(cmd) => cmd.run(),
        flags::Command::Report(cmd) => cmd.run(),
        flags::Command::Advise(cmd) => cmd.run(),
        flags::Command::GpuCheck(cmd) => cmd.run(),
        flags::Command::GpuReport(cmd) => cmd.run(),
    }
}
