use clap::Parser;

// mimalloc, not glibc's malloc: stroom allocates per event on many threads (the generator, the
// closed-loop writers, the transactors). Back to back on the quick scenario it generated 31%
// faster, its replay's peak RSS fell from 246 to 83 MB, and every append strategy's closed loop
// gained 6-10% (results/append.md has the per-school A/B on 250 schools).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    stroom::main(stroom::Cli::parse())
}
