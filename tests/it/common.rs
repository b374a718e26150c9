//! Running the `stroom` binary and reading its one error line, for the CLI test files.

use std::process::{Command, Output};

/// Runs `stroom` with `args`, without `DATABASE_URL`, and with `envs` set.
pub fn stroom(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stroom"));
    cmd.args(args).env_remove("DATABASE_URL");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The single `stroom: error` line of a failed run, which must come last and without a panic.
pub fn the_error_line(out: &Output) -> String {
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("stroom: error")).collect();
    assert_eq!(errors.len(), 1, "expected one error line, got: {stderr}");
    assert_eq!(stderr.lines().last(), Some(errors[0]), "the error comes last: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    errors[0].to_string()
}
