//! A one-line progress bar on stderr, for long runs on a terminal only: pipes, cron mail and
//! log files never see it.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Below this many steps a run is quick enough to need no bar.
const WORTH_SHOWING: usize = 500;
/// Redraw at most this often, so drawing never costs more than the work.
const REDRAW: Duration = Duration::from_millis(100);
const WIDTH: usize = 30;

pub struct Progress {
    label: &'static str,
    total: usize,
    done: usize,
    drawn: Option<Instant>,
    enabled: bool,
}

impl Progress {
    pub fn new(label: &'static str, total: usize) -> Progress {
        Progress {
            label,
            total,
            done: 0,
            drawn: None,
            enabled: total >= WORTH_SHOWING && std::io::stderr().is_terminal(),
        }
    }

    /// One more step done.
    pub fn step(&mut self) {
        self.done += 1;
        if self.enabled && self.drawn.is_none_or(|t| t.elapsed() >= REDRAW) {
            self.draw();
        }
    }

    fn draw(&mut self) {
        let filled = WIDTH * self.done.min(self.total) / self.total.max(1);
        eprint!(
            "\r{} [{}{}] {}/{}",
            self.label,
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            self.done,
            self.total
        );
        let _ = std::io::stderr().flush();
        self.drawn = Some(Instant::now());
    }
}

impl Drop for Progress {
    /// Clears the bar, so the next line of output starts clean.
    fn drop(&mut self) {
        if self.enabled && self.drawn.is_some() {
            eprint!("\r{}\r", " ".repeat(self.label.len() + WIDTH + 30));
        }
    }
}
