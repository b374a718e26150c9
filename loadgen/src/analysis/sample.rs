//! The read model's learning analytics over a `stroom generate --sample` file's events, so a
//! reader can check each figure by hand against the lines of the sample.

use stroom_reference::read_model::{fold, Envelope, Handlers, ReadModel};

/// Lines describing the v2 analytics of `events` (a sample, in the order written): per
/// section that someone mastered or made a mistake in, the time to master and what followed
/// the mistakes. At most `max_sections` sections, those with the most students first.
pub fn describe(events: &[Envelope], max_sections: usize) -> Vec<String> {
    let model = fold(Handlers::V2, ReadModel::default(), events);
    let mut sections: Vec<_> = model
        .students
        .values()
        .flat_map(|s| s.sections.keys().copied())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|sec| (model.students.values().filter(|s| s.sections.contains_key(&sec)).count(), sec))
        .collect();
    sections.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let minutes = |us: i64| us as f64 / 60e6;
    let mut lines = Vec::new();
    for (students, sec) in sections.into_iter().take(max_sections) {
        let mut line = format!("section {sec}: {students} students");
        match model.mastery(sec) {
            Some(m) => line.push_str(&format!(
                "; {} mastered it: quick learners within {:.1} min, median {:.1} min, slow learners past {:.1} min",
                m.students,
                minutes(m.quick_us),
                minutes(m.median_us),
                minutes(m.slow_us)
            )),
            None => line.push_str("; nobody mastered it in the sample"),
        }
        if let Some(a) = model.after_mistakes.get(&sec) {
            let (explained, unexplained) = a.right_shares();
            line.push_str(&format!(
                "; {} answers after a mistake, {} with the explanation read first ({:.0}% right) and {} without ({:.0}% right)",
                a.answers,
                a.explained,
                explained * 100.0,
                a.answers - a.explained,
                unexplained * 100.0
            ));
        }
        lines.push(line);
    }
    lines
}
