//! `vqtex bench`, its whole harness: the models' training and inference speed, gemm and SVM
//! timings and peak memory ([`models`]), and with `--tui` the workbench's frame times and bytes
//! per second ([`frames`]); this module runs them and prints the reports.

use anyhow::Result;

pub mod frames;
pub mod models;

use crate::cli::BenchArgs;
use crate::data::{load_folder, LoadOptions};
use crate::paths::sample_data_dir;

pub fn bench(args: &BenchArgs) -> Result<()> {
    if args.tui {
        return bench_tui(args);
    }
    let device = args.device.open().map_err(anyhow::Error::msg)?;
    let dir = args.data.clone().unwrap_or_else(sample_data_dir);
    let data = load_folder(&dir, &LoadOptions::default())?;
    // A minute or more: each stage is announced on stderr, then its result (stdout keeps the
    // report, or the JSON).
    let r = models::run(&data, args.epochs, &args.models, &device, &mut |s| {
        say(&s.line())
    })?;
    if args.json {
        crate::outln!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    crate::outln!("vqtex bench on {}", crate::device::describe(&device));
    for (name, m) in &r.models {
        crate::outln!(
            "{name}: {:.3} s/epoch ({} epochs timed), paper run (250 epochs) about {:.0} s",
            m.seconds_per_epoch,
            m.epochs_timed,
            m.paper_run_seconds
        );
        let flops = match m.flops_per_roi > 0.0 {
            true => format!(
                ": {:.1} GFLOP/s, {:.0}% of the gemm peak ({:.1} MFLOP/ROI)",
                m.train_gflops,
                100.0 * m.gemm_ratio,
                m.flops_per_roi / 1e6
            ),
            false => String::new(),
        };
        crate::outln!(
            "  training steps {:.3} s an epoch{flops}; the rest is the test-loss pass",
            m.train_seconds_per_epoch
        );
        crate::outln!("  inference {:.0} ROIs/s", m.inference_rois_per_sec);
    }
    crate::outln!(
        "f32 gemm: {:.1} GFLOP/s; the VQ-VAE's training steps reach {:.0}% of it",
        r.gemm_gflops,
        100.0 * r.gemm_ratio
    );
    for (k, v) in &r.svm_fit_seconds {
        crate::outln!("SVM fit {k}: {v:.3} s");
    }
    crate::outln!("peak memory: {:.0} MB", r.peak_rss_mb);
    Ok(())
}

/// A progress line on stderr; a closed stderr (a lost SSH connection) is no reason to stop.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn bench_tui(args: &BenchArgs) -> Result<()> {
    say("bench: drawing every pane, then simulated trainings at each size…");
    let r = frames::bench(frames::BenchOptions {
        data: args.data.clone(),
        ..Default::default()
    })?;
    if args.json {
        crate::outln!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    crate::outln!(
        "vqtex bench --tui ({} build): a full frame of each pane at {}x{}, {} images, mean of {} \
         frames",
        r.build,
        r.width,
        r.height,
        r.color,
        r.frames
    );
    crate::outln!(
        "{:<10} {:>10} {:>10} {:>10} {:>14} {:>12}",
        "pane",
        "ms/frame",
        "min ms",
        "max ms",
        "crossterm ms",
        "bytes/frame"
    );
    for p in &r.panes {
        crate::outln!(
            "{:<10} {:>10.3} {:>10.3} {:>10.3} {:>14.3} {:>12}",
            p.pane,
            p.mean_ms,
            p.min_ms,
            p.max_ms,
            p.crossterm_mean_ms,
            p.full_frame_bytes
        );
    }
    crate::outln!("while training (simulated; redraw on change, at most one frame per 66 ms, step updates coalesced to {} ms):", crate::tui::runtime::STEP_FRAME.as_millis());
    for s in &r.streams {
        crate::outln!(
            "{}x{} {} pane: {:.0} s, {} messages, {} frames, {} bytes: {:.2} KB/s (at most {:.2} \
             KB in one second)",
            s.width,
            s.height,
            s.pane,
            s.simulated_seconds,
            s.messages,
            s.frames_drawn,
            s.bytes,
            s.bytes_per_sec / 1e3,
            s.max_bytes_in_a_second as f64 / 1e3
        );
    }
    crate::outln!("goals: under 5 ms a frame, under 20 KB/s");
    Ok(())
}
