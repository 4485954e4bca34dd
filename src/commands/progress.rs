//! Training progress for the headless commands: a bar on a terminal, plain lines otherwise.

use std::io::{IsTerminal, Write};

use crate::train::Event;

/// How training progress is shown: a bar on a terminal, plain lines otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// Plain lines go to stderr (when stdout carries JSON) or stdout.
    to_stderr: bool,
    quiet: bool,
}

impl Progress {
    pub fn new(to_stderr: bool, quiet: bool) -> Progress {
        let terminal = if to_stderr {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        Progress {
            bar: (terminal && !quiet).then(indicatif::ProgressBar::hidden),
            to_stderr,
            quiet,
        }
    }

    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        // A bar not yet drawn (before the training starts) prints nothing: write past it.
        if let Some(bar) = self.bar.as_ref().filter(|b| !b.is_hidden()) {
            bar.println(text);
        } else if self.to_stderr {
            // A closed stderr (a lost SSH connection) is no reason to stop the work.
            let _ = writeln!(std::io::stderr(), "{text}");
        } else {
            crate::outln!("{text}");
            let _ = std::io::stdout().flush();
        }
    }

    /// A line about what a long command is doing besides training (evaluating, fitting SVMs,
    /// testing), so that it is never silent for long; above the bar when there is one.
    pub fn stage(&self, text: &str) {
        self.line(text);
    }

    /// Shows one event. Returns an error message for `Failed`.
    pub fn show(&mut self, event: &Event) -> Option<String> {
        match event {
            Event::Started {
                run,
                start_epoch,
                epochs,
                device,
                params,
                ..
            } => {
                if let Some(bar) = &self.bar {
                    let target = if self.to_stderr {
                        indicatif::ProgressDrawTarget::stderr()
                    } else {
                        indicatif::ProgressDrawTarget::stdout()
                    };
                    bar.set_draw_target(target);
                    bar.set_length(*epochs as u64);
                    bar.set_position(*start_epoch as u64);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{bar:30} epoch {pos}/{len} {msg} [{elapsed} < {eta}]",
                        )
                        .expect("valid template"),
                    );
                }
                self.line(&format!(
                    "training {} from epoch {} to {} on {} ({} parameters)",
                    run.display(),
                    start_epoch + 1,
                    epochs,
                    device,
                    params
                ));
            }
            Event::Epoch(r) => {
                let codes = match (r.codes_used, r.perplexity) {
                    (Some(u), Some(p)) => format!("  codes {u} ppl {p:.1}"),
                    _ => String::new(),
                };
                let terms: Vec<String> = r
                    .train
                    .iter()
                    .filter(|(k, _)| k.as_str() != "total")
                    .map(|(k, v)| format!("{k} {v:.5}"))
                    .collect();
                let text = format!(
                    "epoch {}/{}  train {:.5} ({})  test {:.5}{}  {:.2}s",
                    r.epoch,
                    r.epochs,
                    r.train["total"],
                    terms.join(", "),
                    r.test.get("total").copied().unwrap_or(f64::NAN),
                    codes,
                    r.seconds
                );
                if let Some(bar) = &self.bar {
                    bar.set_position(r.epoch as u64);
                    bar.set_message(format!(
                        "loss {:.5} test {:.5}",
                        r.train["total"],
                        r.test.get("total").copied().unwrap_or(f64::NAN)
                    ));
                } else {
                    self.line(&text);
                }
            }
            Event::Checkpoint { .. } | Event::Step { .. } => {}
            Event::Paused => self.line("paused"),
            Event::Resumed => self.line("resumed"),
            Event::Finished {
                epochs,
                stopped,
                seconds,
            } => {
                if let Some(bar) = &self.bar {
                    bar.finish_and_clear();
                }
                self.line(&format!(
                    "{} after epoch {epochs} in {seconds:.1} s",
                    if *stopped { "stopped" } else { "finished" }
                ));
            }
            Event::Failed { message } => {
                if let Some(bar) = &self.bar {
                    bar.abandon();
                }
                return Some(message.clone());
            }
        }
        None
    }
}
