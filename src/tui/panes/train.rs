//! Train pane: the hyperparameter form, start/pause/resume/stop, live loss curves (log scale, EMA
//! smoothing, bounded points), codebook usage, a progress gauge and per-epoch reconstructions.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph, Widget};

pub use super::form::Form;
use super::{block, clamp_step, put, Ctx, Effect, PromptKind, TrainOp};
use crate::train::{EpochRecord, Event};
use crate::tui::jobs::Thumbs;
use crate::tui::keymap::Action;
use crate::tui::series::History;
use crate::tui::steps::StepView;
use crate::tui::widgets::chart::{Curve, LossChart};
use crate::tui::widgets::image::{draw_roi, draw_unit_image};

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Idle,
    Starting,
    Running,
    Paused,
    Finished {
        stopped: bool,
        seconds: f64,
    },
    Failed(String),
    /// Curves of a run opened from the Runs pane or followed with `watch`.
    Viewing {
        watching: bool,
    },
}

#[derive(Debug)]
pub struct TrainPane {
    pub form: Form,
    pub status: Status,
    pub run: Option<PathBuf>,
    pub device: Option<String>,
    pub epoch: usize,
    pub epochs: usize,
    pub step: usize,
    pub steps: usize,
    pub records: Vec<EpochRecord>,
    /// Per-step training losses by term (x = fractional epoch), bounded.
    pub step_hist: BTreeMap<String, History>,
    /// The loss term the chart shows (`t` cycles through [`TrainPane::terms`]).
    pub term: String,
    pub log: bool,
    pub smooth: bool,
    pub smooth_weight: f64,
    pub thumbs: Option<Thumbs>,
    /// The reconstructions at the scrubbing cursor, while it is set (`tui/steps.rs`).
    pub scrub: Option<StepView>,
}

impl Default for TrainPane {
    fn default() -> Self {
        TrainPane {
            form: Form::default(),
            status: Status::Idle,
            run: None,
            device: None,
            epoch: 0,
            epochs: 0,
            step: 0,
            steps: 0,
            records: Vec::new(),
            step_hist: BTreeMap::new(),
            term: "total".into(),
            log: true,
            smooth: false,
            smooth_weight: 0.6,
            thumbs: None,
            scrub: None,
        }
    }
}

impl TrainPane {
    /// The loss terms to cycle through: those the shown run recorded (`total` first, the rest in
    /// the order the model declares them, then any other), or the form model's before any record.
    pub fn terms(&self) -> Vec<String> {
        let mut recorded: Vec<&String> = self
            .records
            .iter()
            .flat_map(|r| r.train.keys().chain(r.test.keys()))
            .chain(self.step_hist.keys())
            .collect();
        let declared = crate::model::ModelConfig::from_name(self.form.model())
            .map(|m| m.loss_terms())
            .unwrap_or(&["total"]);
        if recorded.is_empty() {
            return declared.iter().map(|t| t.to_string()).collect();
        }
        recorded.sort();
        recorded.dedup();
        let rank = |t: &str| {
            declared
                .iter()
                .position(|d| *d == t)
                .unwrap_or(declared.len())
        };
        let mut out: Vec<String> = recorded.into_iter().cloned().collect();
        out.sort_by_key(|t| (t != "total", rank(t), t.clone()));
        out
    }

    pub fn is_training(&self) -> bool {
        matches!(
            self.status,
            Status::Starting | Status::Running | Status::Paused
        )
    }

    /// Shows a run's recorded curves (opened or watched).
    pub fn view_run(
        &mut self,
        run: PathBuf,
        records: Vec<EpochRecord>,
        epochs: usize,
        watching: bool,
    ) {
        if self.run.as_ref() != Some(&run) {
            self.step_hist.clear();
            self.thumbs = None;
        }
        self.run = Some(run);
        self.epochs = epochs;
        self.epoch = records.last().map(|r| r.epoch).unwrap_or(0);
        self.records = records;
        self.status = Status::Viewing { watching };
    }

    /// Folds a training event in. Returns true when something visible changed.
    pub fn on_event(&mut self, ev: &Event) -> bool {
        match ev {
            Event::Started {
                run,
                start_epoch,
                epochs,
                steps_per_epoch,
                device,
                ..
            } => {
                self.run = Some(run.clone());
                self.epoch = *start_epoch;
                self.epochs = *epochs;
                self.steps = *steps_per_epoch;
                self.step = 0;
                self.device = Some(device.clone());
                self.status = Status::Running;
                self.records.clear();
                self.step_hist.clear();
                self.thumbs = None;
            }
            Event::Step {
                epoch,
                step,
                steps,
                terms,
            } => {
                self.step = *step;
                self.steps = *steps;
                let x = (*epoch - 1) as f64 + *step as f64 / (*steps).max(1) as f64;
                for (k, v) in terms {
                    self.step_hist
                        .entry(k.clone())
                        .or_insert_with(|| History::new(400))
                        .push(x, *v);
                }
            }
            Event::Epoch(r) => {
                self.step = 0;
                self.epoch = r.epoch;
                self.epochs = r.epochs;
                self.records.push(r.clone());
            }
            Event::Checkpoint { .. } => return false,
            Event::Paused => self.status = Status::Paused,
            Event::Resumed => self.status = Status::Running,
            Event::Finished {
                stopped, seconds, ..
            } => {
                self.status = Status::Finished {
                    stopped: *stopped,
                    seconds: *seconds,
                }
            }
            Event::Failed { message } => self.status = Status::Failed(message.clone()),
        }
        true
    }

    pub fn on_action(&mut self, a: Action) -> Effect {
        match a {
            Action::Up => self.form.selected = clamp_step(self.form.selected, self.form.len(), -1),
            Action::Down => self.form.selected = clamp_step(self.form.selected, self.form.len(), 1),
            Action::Left | Action::Right | Action::Select
                if self.form.is_choice(self.form.selected) && !self.is_training() =>
            {
                self.form
                    .cycle_model(if a == Action::Left { -1 } else { 1 });
            }
            Action::Select if !self.is_training() => {
                let i = self.form.selected;
                let value = self.form.fields[i].value.clone();
                return Effect::Prompt(PromptKind::Field(i), value);
            }
            Action::Start => return Effect::Train(TrainOp::Start),
            Action::Pause => return Effect::Train(TrainOp::PauseResume),
            Action::Stop if self.is_training() => {
                return Effect::Confirm(super::ConfirmKind::StopTraining)
            }
            Action::LogScale => self.log = !self.log,
            Action::Smooth => self.smooth = !self.smooth,
            Action::SmoothLess => {
                self.smooth_weight = ((self.smooth_weight - 0.1) * 10.0).round() / 10.0
            }
            Action::SmoothMore => {
                self.smooth_weight = ((self.smooth_weight + 0.1) * 10.0).round() / 10.0
            }
            Action::NextTerm => {
                let terms = self.terms();
                let at = terms.iter().position(|t| *t == self.term);
                let next = at.map(|i| (i + 1) % terms.len()).unwrap_or(0);
                self.term = terms[next].clone();
            }
            _ => return Effect::None,
        }
        self.smooth_weight = self.smooth_weight.clamp(0.0, 0.9);
        Effect::Redraw
    }

    /// Progress in [0, 1], ROIs/s and the ETA in seconds, from the records so far.
    pub fn progress(&self) -> (f64, Option<f64>, Option<f64>) {
        if self.epochs == 0 {
            return (0.0, None, None);
        }
        let done = if matches!(self.status, Status::Running | Status::Paused) && self.steps > 0 {
            self.epoch as f64 + self.step as f64 / self.steps as f64
        } else {
            self.epoch as f64
        };
        let frac = (done / self.epochs as f64).clamp(0.0, 1.0);
        let last = self.records.last();
        let secs: Vec<f64> = self
            .records
            .iter()
            .rev()
            .take(5)
            .map(|r| r.seconds)
            .collect();
        let eta = (!secs.is_empty() && self.is_training()).then(|| {
            secs.iter().sum::<f64>() / secs.len() as f64 * (self.epochs as f64 - done).max(0.0)
        });
        (frac, last.map(|r| r.rois_per_sec), eta)
    }

    /// Whether the shown model has a codebook to chart (a VQ-VAE): what its records say, else
    /// the form's model. An MAE, CAE or VAE has none, and its space goes to the rest.
    pub fn has_codebook(&self) -> bool {
        if !self.records.is_empty() {
            return self
                .records
                .iter()
                .any(|r| r.codes_used.is_some() || r.perplexity.is_some());
        }
        matches!(
            crate::model::ModelConfig::from_name(self.form.model()),
            Some(crate::model::ModelConfig::Vqvae(_))
        )
    }

    pub fn draw(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        // Every panel keeps a place down to the smallest screen (80x24 leaves 22 rows: the
        // form and the loss chart get 10 of them, the form scrolling to its selected field);
        // scrubbing shows the reconstructions whatever the height.
        let bottom_h = if area.height >= 18 || self.scrub.is_some() {
            9
        } else {
            0
        };
        let [gauge, middle, bottom] = area.layout(&Layout::vertical([
            Constraint::Length(3),
            Constraint::Min(6),
            Constraint::Length(bottom_h),
        ]));
        self.draw_gauge(gauge, buf, ctx);
        let [form, chart] = middle.layout(&Layout::horizontal([
            Constraint::Length(30),
            Constraint::Min(20),
        ]));
        self.draw_form(form, buf, ctx);
        self.draw_loss(chart, buf, ctx);
        if bottom_h > 0 && self.has_codebook() {
            let [usage, thumbs] = bottom.layout(&Layout::horizontal([
                Constraint::Percentage(35),
                Constraint::Min(20),
            ]));
            self.draw_usage(usage, buf, ctx);
            self.draw_thumbs(thumbs, buf, ctx);
        } else if bottom_h > 0 {
            self.draw_thumbs(bottom, buf, ctx);
        }
    }

    fn draw_gauge(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let (frac, rate, eta) = self.progress();
        let (status, style) = match &self.status {
            Status::Idle => ("idle · s: start".to_string(), ctx.theme.muted()),
            Status::Starting => ("starting…".into(), ctx.theme.warn()),
            Status::Running => ("training".into(), ctx.theme.good()),
            Status::Paused => ("paused · space: resume".into(), ctx.theme.warn()),
            Status::Finished {
                stopped: true,
                seconds,
            } => (format!("stopped after {seconds:.1}s"), ctx.theme.warn()),
            Status::Finished {
                stopped: false,
                seconds,
            } => (format!("finished in {seconds:.1}s"), ctx.theme.good()),
            Status::Failed(m) => (format!("failed: {m}"), ctx.theme.bad()),
            Status::Viewing { watching: true } => ("watching".into(), ctx.theme.accent()),
            Status::Viewing { watching: false } => {
                ("viewing a saved run".into(), ctx.theme.accent())
            }
        };
        let mut label = format!("epoch {}/{}", self.epoch, self.epochs);
        if self.is_training() && self.steps > 0 && self.epoch < self.epochs {
            label = format!(
                "epoch {}/{} step {}/{}",
                self.epoch + 1,
                self.epochs,
                self.step,
                self.steps
            );
        }
        if let Some(r) = rate {
            label.push_str(&format!(" · {r:.0} ROIs/s"));
        }
        if let Some(e) = eta {
            label.push_str(&format!(" · ETA {}", fmt_secs(e)));
        }
        let name = self
            .run
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| format!(" · {}", n.to_string_lossy()))
            .unwrap_or_default();
        let title = Line::from(vec![
            Span::raw("Progress · "),
            Span::styled(status, style),
            Span::raw(name),
        ]);
        Gauge::default()
            .block(block(title, ctx, false))
            .gauge_style(ctx.theme.accent())
            .ratio(frac)
            .label(label)
            .render(area, buf);
    }

    fn draw_form(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let mut lines = Vec::new();
        for (i, f) in self.form.fields.iter().enumerate() {
            let style = if i == self.form.selected {
                ctx.theme.selection()
            } else {
                ctx.theme.base()
            };
            let value = if self.form.is_choice(i) {
                format!("◀ {} ▶", f.value)
            } else {
                f.value.clone()
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{:<14}", f.label()), ctx.theme.muted()),
                Span::styled(value, style),
            ]));
        }
        lines.push(Line::from(""));
        lines.push(Line::styled("←→ model · enter edit", ctx.theme.muted()));
        lines.push(Line::styled("s start · space pause", ctx.theme.muted()));
        lines.push(Line::styled("x stop", ctx.theme.muted()));
        // Scroll so that the selected field stays in view.
        let rows = area.height.saturating_sub(2) as usize;
        let top = (self.form.selected + 1).saturating_sub(rows);
        Paragraph::new(lines)
            .scroll((top as u16, 0))
            .block(block("Hyperparameters", ctx, true))
            .render(area, buf);
    }

    fn draw_loss(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        // A term the shown run did not record (another model's) falls back to the total.
        let term = if self.terms().contains(&self.term) {
            self.term.as_str()
        } else {
            "total"
        };
        let per_epoch = |test: bool| -> Vec<(f64, f64)> {
            self.records
                .iter()
                .filter_map(|r| {
                    let t = if test { &r.test } else { &r.train };
                    t.get(term).map(|v| (r.epoch as f64, *v))
                })
                .collect()
        };
        let (train, test) = (per_epoch(false), per_epoch(true));
        let steps = self.step_hist.get(term).map(|h| h.points()).unwrap_or(&[]);
        let mut curves = Vec::new();
        if !steps.is_empty() {
            curves.push(Curve {
                name: "step".into(),
                points: steps,
                color: ctx.theme.curve_extra,
            });
        }
        curves.push(Curve {
            name: "train".into(),
            points: &train,
            color: ctx.theme.curve_train,
        });
        curves.push(Curve {
            name: "test".into(),
            points: &test,
            color: ctx.theme.curve_test,
        });
        let smooth = self.smooth.then_some(self.smooth_weight);
        let title = format!(
            "Loss: {term} · {} · {} (t L e [ ])",
            if self.log { "log" } else { "linear" },
            smooth
                .map(|w| format!("EMA {w:.1}"))
                .unwrap_or_else(|| "raw".into())
        );
        let last = self.records.last().map(|r| {
            format!(
                " train {:.5} test {:.5} ",
                r.train.get(term).copied().unwrap_or(f64::NAN),
                r.test.get(term).copied().unwrap_or(f64::NAN)
            )
        });
        let b = block(title, ctx, false).title_bottom(last.unwrap_or_default());
        LossChart {
            curves,
            log: self.log,
            smooth,
            block: b,
            axis_style: ctx.theme.muted(),
            x_title: "epoch",
            y_title: "loss",
            plain: ctx.theme.plain,
            x_span: (self.epochs > 0).then_some(self.epochs as f64),
        }
        .render(area, buf);
    }

    fn draw_usage(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let used: Vec<(f64, f64)> = self
            .records
            .iter()
            .filter_map(|r| r.codes_used.map(|u| (r.epoch as f64, u as f64)))
            .collect();
        let ppl: Vec<(f64, f64)> = self
            .records
            .iter()
            .filter_map(|r| r.perplexity.map(|p| (r.epoch as f64, p)))
            .collect();
        let last = self.records.last();
        let title = format!(
            "Codebook: {} used · ppl {}",
            last.and_then(|r| r.codes_used)
                .map(|u| u.to_string())
                .unwrap_or_else(|| "-".into()),
            last.and_then(|r| r.perplexity)
                .map(|p| format!("{p:.1}"))
                .unwrap_or_else(|| "-".into())
        );
        LossChart {
            curves: vec![
                Curve {
                    name: "used codes".into(),
                    points: &used,
                    color: ctx.theme.curve_train,
                },
                Curve {
                    name: "perplexity".into(),
                    points: &ppl,
                    color: ctx.theme.curve_test,
                },
            ],
            log: false,
            smooth: None,
            block: block(title, ctx, false),
            axis_style: ctx.theme.muted(),
            x_title: "epoch",
            y_title: "codes",
            plain: ctx.theme.plain,
            x_span: (self.epochs > 0).then_some(self.epochs as f64),
        }
        .render(area, buf);
    }

    fn draw_thumbs(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        if let Some(v) = &self.scrub {
            return v.draw_pairs(area, buf, ctx);
        }
        let title = match &self.thumbs {
            Some(t) => format!("Reconstructions · epoch {} (original | model)", t.epoch),
            None => "Reconstructions (after the first epoch)".into(),
        };
        let mut b = block(title, ctx, false);
        let inner = b.inner(area);
        // Pairs of 14 + 1 + 14 columns, two apart: say how many do not fit.
        if let Some(t) = &self.thumbs {
            let fit = if inner.width >= 29 {
                ((inner.width - 29) / 31 + 1) as usize
            } else {
                0
            };
            let n = t.originals.len().min(t.recons.len());
            if fit < n {
                b = b.title_bottom(
                    Line::from(format!(" +{} more: widen the terminal ", n - fit)).right_aligned(),
                );
            }
        }
        b.render(area, buf);
        let Some(t) = &self.thumbs else { return };
        for (i, (orig, rec)) in t.originals.iter().zip(&t.recons).enumerate() {
            let x = inner.x + i as u16 * 31;
            if x + 29 > inner.x + inner.width {
                break;
            }
            let r = Rect::new(x, inner.y, 14, 7).intersection(inner);
            draw_roi(buf, r, orig, 0, ctx.mode);
            draw_unit_image(
                buf,
                Rect::new(x + 15, inner.y, 14, 7).intersection(inner),
                rec,
                0,
                ctx.mode,
            );
            if let Some(l) = t.labels.get(i) {
                put(buf, inner, x, inner.y + 7, l.as_str(), ctx.theme.muted());
            }
        }
    }
}

/// `95` -> `1m35s`.
pub fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}
