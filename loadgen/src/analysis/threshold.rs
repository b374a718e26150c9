//! k6-style thresholds over figures: `append.per-school.p99_ms < 50`,
//! `replay.parallel.events_per_s > 0.7 * calibrate.copy_out.events_per_s`.
//!
//! Each side is a product or quotient of numbers and figure names; names may hold letters,
//! digits, `_`, `.` and `-`. A figure a run did not produce fails the check.

use serde::{Deserialize, Serialize};

use crate::figures::Figures;

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Term {
    Number(f64),
    Figure(String),
}

/// Terms joined by `*` (true) or `/` (false) after the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Expr {
    first: Term,
    rest: Vec<(bool, Term)>,
}

/// One parsed threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// As written.
    pub text: String,
    lhs: Expr,
    op: Op,
    rhs: Expr,
}

/// A threshold's outcome in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The threshold as written.
    pub threshold: String,
    /// Whether it held.
    pub passed: bool,
    /// The left side's value, if every figure it names was measured.
    pub lhs: Option<f64>,
    /// The right side's value, likewise.
    pub rhs: Option<f64>,
    /// Why it failed, in words (empty when it passed).
    pub detail: String,
}

impl Threshold {
    /// Parses `LHS op RHS`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ops = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)];
        let (at, len, op) = ops
            .iter()
            .filter_map(|(s, op)| text.find(s).map(|i| (i, s.len(), *op)))
            .min_by_key(|(i, len, _)| (*i, std::cmp::Reverse(*len)))
            .ok_or_else(|| format!("'{text}' has no comparison (<, <=, > or >=)"))?;
        let (left, right) = (&text[..at], &text[at + len..]);
        if right.contains(['<', '>']) {
            return Err(format!("'{text}' has more than one comparison"));
        }
        Ok(Self { text: text.trim().to_string(), lhs: expr(left, text)?, op, rhs: expr(right, text)? })
    }

    /// Evaluates against a run's figures.
    pub fn check(&self, figures: &Figures) -> Verdict {
        let (lhs, rhs) = (eval(&self.lhs, figures), eval(&self.rhs, figures));
        let (passed, detail) = match (&lhs, &rhs) {
            (Ok(l), Ok(r)) => {
                let ok = match self.op {
                    Op::Lt => l < r,
                    Op::Le => l <= r,
                    Op::Gt => l > r,
                    Op::Ge => l >= r,
                };
                (ok, if ok { String::new() } else { format!("{} is {l:.4}, limit {r:.4}", side(&self.lhs)) })
            }
            (Err(name), _) | (_, Err(name)) => (false, format!("figure '{name}' was not measured")),
        };
        Verdict { threshold: self.text.clone(), passed, lhs: lhs.ok(), rhs: rhs.ok(), detail }
    }

    /// The figure names it reads.
    pub fn figures(&self) -> Vec<&str> {
        [&self.lhs, &self.rhs]
            .into_iter()
            .flat_map(|e| std::iter::once(&e.first).chain(e.rest.iter().map(|(_, t)| t)))
            .filter_map(|t| match t {
                Term::Figure(n) => Some(n.as_str()),
                Term::Number(_) => None,
            })
            .collect()
    }
}

fn side(e: &Expr) -> String {
    match (&e.first, e.rest.is_empty()) {
        (Term::Figure(n), true) => n.clone(),
        _ => "the left side".into(),
    }
}

fn expr(s: &str, whole: &str) -> Result<Expr, String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut ops = Vec::new();
    for c in s.chars() {
        match c {
            '*' | '/' => {
                terms.push(term(&current, whole)?);
                current.clear();
                ops.push(c == '*');
            }
            _ => current.push(c),
        }
    }
    terms.push(term(&current, whole)?);
    let mut it = terms.into_iter();
    let first = it.next().expect("at least one term");
    Ok(Expr { first, rest: ops.into_iter().zip(it).collect() })
}

fn term(s: &str, whole: &str) -> Result<Term, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(format!("'{whole}' has an empty operand"));
    }
    if let Ok(n) = s.parse::<f64>() {
        return Ok(Term::Number(n));
    }
    let valid = s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-@".contains(c)) && s.contains('.');
    if !valid {
        return Err(format!(
            "'{s}' in '{whole}' is neither a number nor a figure name like replay.parallel.events_per_s"
        ));
    }
    Ok(Term::Figure(s.to_string()))
}

fn eval(e: &Expr, figures: &Figures) -> Result<f64, String> {
    let value = |t: &Term| match t {
        Term::Number(n) => Ok(*n),
        Term::Figure(name) => figures.get(name).map(|f| f.value).ok_or_else(|| name.clone()),
    };
    let mut v = value(&e.first)?;
    for (mul, t) in &e.rest {
        let x = value(t)?;
        v = if *mul { v * x } else { v / x };
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Figure;

    fn figures() -> Figures {
        let mut f = Figures::new();
        f.insert("append.per-school.p99_ms".into(), Figure::from_repetitions("ms", vec![40.0]));
        f.insert("replay.parallel.events_per_s".into(), Figure::from_repetitions("events/s", vec![300.0]));
        f.insert("calibrate.copy_out.events_per_s".into(), Figure::from_repetitions("events/s", vec![500.0]));
        f
    }

    #[test]
    fn comparisons_against_numbers_and_figures() {
        let f = figures();
        assert!(Threshold::parse("append.per-school.p99_ms < 50").unwrap().check(&f).passed);
        assert!(!Threshold::parse("append.per-school.p99_ms <= 39.9").unwrap().check(&f).passed);
        let ratio = Threshold::parse("replay.parallel.events_per_s > 0.7 * calibrate.copy_out.events_per_s").unwrap();
        let v = ratio.check(&f);
        assert!(!v.passed);
        assert_eq!((v.lhs, v.rhs), (Some(300.0), Some(350.0)));
        assert_eq!(v.detail, "replay.parallel.events_per_s is 300.0000, limit 350.0000");
        assert!(
            Threshold::parse("replay.parallel.events_per_s / calibrate.copy_out.events_per_s >= 0.6")
                .unwrap()
                .check(&f)
                .passed
        );
    }

    #[test]
    fn a_missing_figure_fails() {
        let v = Threshold::parse("append.rill.events_per_s > 1").unwrap().check(&figures());
        assert!(!v.passed);
        assert_eq!(v.detail, "figure 'append.rill.events_per_s' was not measured");
    }

    #[test]
    fn malformed_thresholds_are_refused() {
        assert!(Threshold::parse("append.x.p99_ms = 3").unwrap_err().contains("no comparison"));
        assert!(Threshold::parse("a.b < 1 < 2").unwrap_err().contains("more than one"));
        assert!(Threshold::parse("p99 < 50").unwrap_err().contains("neither a number nor a figure name"));
        assert!(Threshold::parse(" < 50").unwrap_err().contains("empty operand"));
    }
}
