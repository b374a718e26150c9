use clap::Parser;

fn main() -> std::process::ExitCode {
    stroom::main(stroom::Cli::parse())
}
