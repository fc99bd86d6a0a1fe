//! Progress on stderr: an indicatif bar on a terminal, else one plain line per second.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::args::Args;
use crate::engine::Live;

/// Starts the display; it ends by itself once the senders are done (abort it to stop
/// earlier).
#[must_use]
pub fn spawn(args: &Args, live: Arc<Live>) -> JoinHandle<()> {
    let terminal = std::io::stderr().is_terminal();
    let length = args
        .count
        .or_else(|| args.duration.map(|d| d.as_secs().max(1)))
        .unwrap_or(0);
    let by_count = args.count.is_some();
    tokio::spawn(async move {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(length);
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        let started = Instant::now();
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.tick().await;
        let mut previous = 0;
        loop {
            ticker.tick().await;
            let sent = live.sent.load(Ordering::Relaxed);
            let messages = live.messages.load(Ordering::Relaxed);
            let ok = live.resp_ok.load(Ordering::Relaxed);
            let err = live.resp_err.load(Ordering::Relaxed);
            let per_second = sent - previous;
            previous = sent;
            let text = format!("sent {sent} ok {ok} err {err} {per_second}/s");
            if let Some(bar) = &bar {
                bar.set_position(if by_count {
                    messages
                } else {
                    started.elapsed().as_secs()
                });
                bar.set_message(text);
            } else {
                eprintln!("[{:>4}s] {text}", started.elapsed().as_secs());
            }
            if live.done.load(Ordering::Relaxed) {
                break;
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    })
}
