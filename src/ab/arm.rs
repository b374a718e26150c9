//! One arm of `stroom ab`: a stroom binary, given as a path or built from a git revision in a
//! worktree (release, cached by commit under `target/ab/`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use stroom_loadgen::ab::ArmInfo;

/// An arm ready to run.
#[derive(Debug, Clone)]
pub struct Arm {
    /// What the result records of it.
    pub info: ArmInfo,
    /// The binary.
    pub binary: PathBuf,
    /// Its environment, parsed.
    pub env: Vec<(String, String)>,
}

/// Resolves `spec` (a stroom binary's path, or a git revision to build) with `env` (`K=V`).
/// Returns the arm and the seconds spent building it.
pub fn resolve(spec: &str, env: &[String]) -> anyhow::Result<(Arm, f64)> {
    let pairs = env
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("{kv:?} is not K=V (e.g. STROOM_SLOWDOWN=fold=0.1)"),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let path = Path::new(spec);
    let started = Instant::now();
    let (binary, commit) = if path.is_file() {
        (path.canonicalize().with_context(|| format!("resolving {spec}"))?, None)
    } else {
        let commit = rev_parse(spec)?;
        (build(&commit)?, Some(commit))
    };
    let info = ArmInfo { spec: spec.to_string(), commit, binary: binary.display().to_string(), env: env.to_vec() };
    Ok((Arm { info, binary, env: pairs }, started.elapsed().as_secs_f64()))
}

fn git(args: &[&str], dir: Option<&Path>) -> anyhow::Result<String> {
    let mut c = Command::new("git");
    c.args(args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let out = c.output().with_context(|| format!("running git {}", args.join(" ")))?;
    if !out.status.success() {
        bail!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn rev_parse(spec: &str) -> anyhow::Result<String> {
    git(&["rev-parse", "--verify", "--quiet", &format!("{spec}^{{commit}}")], None)
        .map_err(|_| anyhow::anyhow!("{spec:?} is neither a stroom binary nor a git revision of this repository"))
}

/// Where builds and cached binaries go: `$CARGO_TARGET_DIR/ab`, else `target/ab` at the top of
/// the repository.
fn ab_dir() -> anyhow::Result<PathBuf> {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t),
        None => PathBuf::from(git(&["rev-parse", "--show-toplevel"], None)?).join("target"),
    };
    Ok(target.join("ab"))
}

/// The release binary of `commit`, built once and kept.
fn build(commit: &str) -> anyhow::Result<PathBuf> {
    let ab = ab_dir()?;
    let cached = ab.join("bin").join(commit).join("stroom");
    if cached.is_file() {
        stroom_loadgen::note(format_args!("ab: {} is built already ({})", &commit[..7], cached.display()));
        return Ok(cached);
    }
    let tree = ab.join("src").join(commit);
    if tree.exists() {
        // A build an interrupted run left: start over.
        let _ = git(&["worktree", "remove", "--force", &tree.display().to_string()], None);
        let _ = std::fs::remove_dir_all(&tree);
    }
    git(&["worktree", "add", "--detach", "--force", &tree.display().to_string(), commit], None)?;
    stroom_loadgen::note(format_args!(
        "ab: building {} (release) in {}; its output goes to {}",
        &commit[..7],
        tree.display(),
        ab.join("build.log").display()
    ));
    seed(&ab);
    let log = std::fs::File::create(ab.join("build.log")).context("creating the build log")?;
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--locked", "--bin", "stroom"])
        .env("CARGO_TARGET_DIR", ab.join("build"))
        .current_dir(&tree)
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .status()
        .context("running cargo build")?;
    let built = ab.join("build/release/stroom");
    let kept = status.success().then(|| -> anyhow::Result<()> {
        std::fs::create_dir_all(cached.parent().expect("a parent"))?;
        let partial = cached.with_extension("partial");
        std::fs::copy(&built, &partial)?;
        std::fs::rename(&partial, &cached)?;
        Ok(())
    });
    let _ = git(&["worktree", "remove", "--force", &tree.display().to_string()], None);
    match kept {
        Some(Ok(())) => Ok(cached),
        Some(Err(e)) => Err(e).context("keeping the built binary"),
        None => bail!("building {} failed ({status}); see {}", &commit[..7], ab.join("build.log").display()),
    }
}

/// Starts a first build in `ab/build` from a copy of this tree's compiled release dependencies
/// (`target/release/{deps,build,.fingerprint}`): cargo then compiles only what differs, mostly
/// stroom's own crates, instead of every dependency again (CI's gate built its base in 256 s
/// from nothing). A failed copy is removed and the build starts from nothing, only slower.
fn seed(ab: &Path) {
    let (from, to) = (ab.parent().expect("ab is under the target directory").join("release"), ab.join("build/release"));
    if ab.join("build").exists() || !from.join("deps").is_dir() {
        return;
    }
    stroom_loadgen::note(format_args!("ab: copying this tree's compiled release dependencies to start the build …"));
    let copied = std::fs::create_dir_all(&to).is_ok()
        && ["deps", "build", ".fingerprint"].iter().all(|d| {
            !from.join(d).is_dir()
                || Command::new("cp")
                    .args(["-a", "--reflink=auto"])
                    .arg(from.join(d))
                    .arg(&to)
                    .status()
                    .is_ok_and(|s| s.success())
        });
    if !copied {
        stroom_loadgen::note(format_args!("ab: the copy failed; building from nothing"));
        let _ = std::fs::remove_dir_all(ab.join("build"));
    }
}
