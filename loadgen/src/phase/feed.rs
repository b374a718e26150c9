//! Feeds generated events to the append phase as one-event appends, in time order across
//! schools, from a generator thread that stays ahead of any writer.

use std::thread::JoinHandle;

use stroom_reference::Append;
use tokio::sync::mpsc;

use crate::generator::{Generator, GeneratorConfig};

/// A source of appends whose stream versions follow on from each other.
#[derive(Debug)]
pub struct Feed {
    rx: mpsc::Receiver<Append>,
    thread: Option<JoinHandle<()>>,
    /// The first append, taken by [`Feed::ready`] before any clock starts.
    first: Option<Append>,
}

impl Feed {
    /// Starts generating with `config` (history begins at day 0, versions at 1).
    pub fn start(config: GeneratorConfig) -> Self {
        let (tx, rx) = mpsc::channel(8192);
        let thread = std::thread::Builder::new()
            .name("stroom-feed".into())
            .spawn(move || {
                let mut generator = Generator::new(config);
                loop {
                    let day = generator.next_day();
                    let mut events: Vec<_> = day.schools.into_iter().flat_map(|(_, e)| e).collect();
                    events.sort_by_key(|e| e.recorded_at_us);
                    for e in events {
                        let append = e.to_append();
                        if tx.blocking_send(append).is_err() {
                            return;
                        }
                    }
                }
            })
            .expect("spawn the feed thread");
        Self { rx, thread: Some(thread), first: None }
    }

    /// Waits until the first day is generated, so a measured step does not wait for it.
    pub async fn ready(&mut self) {
        if self.first.is_none() {
            self.first = Some(self.recv().await);
        }
    }

    /// The next append.
    pub async fn next(&mut self) -> Append {
        match self.first.take() {
            Some(a) => a,
            None => self.recv().await,
        }
    }

    async fn recv(&mut self) -> Append {
        self.rx.recv().await.expect("the feed thread runs until the feed is dropped")
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
