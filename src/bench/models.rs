//! `vqtex bench`: seconds per training epoch, achieved GFLOP/s against the machine's own f32 matrix
//! multiply measured in the same run, inference throughput and SVM fit times. Speed lives here, not in
//! timed tests.

use std::time::Instant;

use candle_core::{Device, Tensor};
use serde::Serialize;

use crate::data::{Dataset, Label, Side, Split};
use crate::eval;
use crate::model::{roi_tensor, Autoencoder, MaeConfig, ModelConfig};
use crate::train::{self, DataSpec, Event, Job, RunConfig, RunDir, TrainConfig};

#[derive(Debug, Clone, Serialize)]
pub struct ModelBench {
    /// Wall time of an epoch: the training steps, codebook restarts and the test-loss pass.
    pub seconds_per_epoch: f64,
    /// The training steps' share of it (batch, forward, backward, optimizer).
    pub train_seconds_per_epoch: f64,
    /// Training FLOPs per ROI (forward + backward, counted from the layer shapes).
    pub flops_per_roi: f64,
    /// FLOPs of an epoch's training steps over `train_seconds_per_epoch`.
    pub train_gflops: f64,
    /// `train_gflops` over the report's `gemm_gflops`.
    pub gemm_ratio: f64,
    pub inference_rois_per_sec: f64,
    pub epochs_timed: usize,
    /// seconds_per_epoch x 250: the paper-settings run.
    pub paper_run_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub models: std::collections::BTreeMap<String, ModelBench>,
    pub gemm_gflops: f64,
    /// The VQ-VAE's training GFLOP/s over `gemm_gflops` (0 when the VQ-VAE was not benchmarked).
    pub gemm_ratio: f64,
    pub svm_fit_seconds: std::collections::BTreeMap<String, f64>,
    pub threads: usize,
    /// Peak resident memory of this process (Linux; 0 elsewhere), in MB.
    pub peak_rss_mb: f64,
}

/// Peak resident set size of this process in MB, from /proc/self/status (VmHWM).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Gives the heap's free memory back to the system (glibc keeps what is freed, so a model trained
/// after another would peak at its own memory plus what the first left behind). Elsewhere, nothing.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Multiply-accumulates of one forward pass of the VQ-VAE per ROI, from its layer shapes.
pub fn vqvae_macs_per_roi(hidden: usize, latent: usize, codes: usize) -> f64 {
    conv_stack_macs(hidden, latent) + 49.0 * codes as f64 * latent as f64 // distances to the codebook
}

/// Multiply-accumulates of the convolution stack the four convolutional models share, per ROI:
/// 1 -> `hidden` -> `channels` down to 7x7 and back up, 4x4 kernels.
fn conv_stack_macs(hidden: usize, channels: usize) -> f64 {
    let k2 = 16.0;
    let (h, d) = (hidden as f64, channels as f64);
    let enc1 = 14.0 * 14.0 * h * k2; // 1 -> h, 28 -> 14
    let enc2 = 7.0 * 7.0 * d * h * k2; // h -> d, 14 -> 7
    let dec1 = 7.0 * 7.0 * d * h * k2; // d -> h, 7 -> 14 (per input position)
    let dec2 = 14.0 * 14.0 * h * k2; // h -> 1, 14 -> 28
    enc1 + enc2 + dec1 + dec2
}

/// Multiply-accumulates of one forward pass of the MAE per ROI: the patch embedding, attention
/// and MLPs of the encoder on the visible tokens, the bottleneck, and the decoder on every token.
pub fn mae_macs_per_roi(c: &MaeConfig) -> f64 {
    let n = ((28 / c.patch.max(1)) * (28 / c.patch.max(1))) as f64;
    let masked = (n * c.mask_ratio).round();
    let keep = n - masked;
    let pp = (c.patch * c.patch) as f64;
    let block = |tokens: f64, w: f64, ratio: f64| -> f64 {
        // q, k, v and out projections, the MLP, then scores and their weighted sum.
        tokens * (4.0 * w * w + 2.0 * w * ratio * w) + 2.0 * tokens * tokens * w
    };
    let (w, dw, l) = (c.width as f64, c.decoder_width as f64, c.latent_dim as f64);
    let r = c.mlp_ratio as f64;
    keep * pp * w
        + c.depth as f64 * block(keep, w, r)
        + keep * (w * l + l * dw)
        + c.decoder_depth as f64 * block(n, dw, r)
        + n * dw * pp
}

/// Training FLOPs per ROI of a model, from its layer shapes: 6 per multiply-accumulate of the
/// forward pass (2 forward, 4 backward: the gradients of inputs and of weights).
pub fn train_flops_per_roi(model: &ModelConfig) -> f64 {
    let macs = match model {
        ModelConfig::Vqvae(c) => vqvae_macs_per_roi(c.hidden, c.latent_dim, c.codebook_size),
        ModelConfig::Cae(c) => conv_stack_macs(c.hidden, c.latent_dim),
        ModelConfig::Vae(c) => {
            let flat = 49.0 * c.channels as f64;
            conv_stack_macs(c.hidden, c.channels) + 3.0 * flat * c.latent_dim as f64
        }
        ModelConfig::Vaenf(c) => {
            let flat = 49.0 * c.channels as f64;
            let d = c.latent_dim as f64;
            conv_stack_macs(c.hidden, c.channels) + 3.0 * flat * d + 3.0 * c.flows as f64 * d
        }
        ModelConfig::Mae(c) => mae_macs_per_roi(c),
    };
    6.0 * macs
}

/// The best f32 matrix-multiply rate (GFLOP/s) of candle on this CPU over a few square sizes,
/// each timed in several rounds: on a shared machine one round can land on a busy moment, and the
/// ratio against this peak should not flatter the model because the peak was measured low.
pub fn gemm_gflops(device: &Device) -> candle_core::Result<f64> {
    let mut best: f64 = 0.0;
    for n in [256usize, 512, 1024] {
        let a = Tensor::ones((n, n), candle_core::DType::F32, device)?;
        let b = Tensor::ones((n, n), candle_core::DType::F32, device)?;
        let _ = a.matmul(&b)?; // warm up
        let reps = (1e9 / (2.0 * (n as f64).powi(3))).ceil().max(2.0) as usize;
        for _round in 0..5 {
            let t = Instant::now();
            for _ in 0..reps {
                let c = a.matmul(&b)?;
                c.device().synchronize()?;
            }
            let s = t.elapsed().as_secs_f64();
            best = best.max(2.0 * (n as f64).powi(3) * reps as f64 / s / 1e9);
        }
    }
    Ok(best)
}

/// Seconds per epoch of `model` over `epochs` epochs (the first is a warm-up when there are more
/// than one), trained in a temporary run directory: the whole epoch, its training steps alone, and
/// the number of epochs timed.
fn time_training(
    data: &Dataset,
    split: &Split,
    model: &ModelConfig,
    epochs: usize,
    device: &Device,
) -> anyhow::Result<(f64, f64, usize)> {
    let tmp = std::env::temp_dir().join(format!(
        "vqtex-bench-{}-{}",
        std::process::id(),
        model.name()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let config = RunConfig {
        version: RunConfig::VERSION,
        model: model.clone(),
        train: TrainConfig {
            epochs: epochs.max(1),
            lr: model.paper_lr(),
            checkpoint_every: usize::MAX,
            ..TrainConfig::default()
        },
        data: DataSpec::from_options(data.root.clone(), &Default::default()),
        device: "bench".into(),
        split_seed: 0,
        test_fraction: 0.2,
        created: String::new(),
    };
    let dir = RunDir::new(&tmp);
    let lock = dir.create(&config, &split.to_csv(data))?;
    let handle = train::spawn(Job {
        dir,
        config,
        dataset: data.clone(),
        split: split.clone(),
        device: device.clone(),
        resume: false,
        lock,
    });
    let mut times = Vec::new();
    let mut failed = None;
    for ev in handle.events.iter() {
        match ev {
            Event::Epoch(r) => times.push((r.seconds, r.train_seconds.unwrap_or(r.seconds))),
            Event::Failed { message } => failed = Some(message),
            _ => {}
        }
    }
    let _ = handle.thread.join();
    let _ = std::fs::remove_dir_all(&tmp);
    if let Some(message) = failed {
        anyhow::bail!("benchmark training of {} failed: {message}", model.name());
    }
    let timed = if times.len() > 1 {
        &times[1..]
    } else {
        &times[..]
    };
    let n = timed.len().max(1) as f64;
    let spe = timed.iter().map(|t| t.0).sum::<f64>() / n;
    let train = timed.iter().map(|t| t.1).sum::<f64>() / n;
    Ok((spe, train, timed.len()))
}

/// A stage of [`run`], as it starts and as it ends (what was measured, and the result).
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Start(String),
    Done(String, String),
}

impl Stage {
    /// The line `vqtex bench` prints on stderr for the stage.
    pub fn line(&self) -> String {
        match self {
            Stage::Start(what) => format!("bench: {what}…"),
            Stage::Done(what, result) => format!("bench: {what}: {result}"),
        }
    }
}

/// Reconstructions per second of the test ROIs, by a freshly built model, in batches of the
/// training's size (as the workbench and `eval` run them; all 110 at once would hold the MAE's
/// activations for 110 ROIs, 100 MB more than a training batch).
fn inference_rate(m: &dyn Autoencoder, x: &Tensor) -> anyhow::Result<f64> {
    let n = x.dim(0)?;
    let pass = || eval::batched(x, 64, |b| Ok(m.forward(b, false)?.recon))?.to_device(&Device::Cpu);
    pass()?;
    let t = Instant::now();
    let reps = 20;
    for _ in 0..reps {
        pass()?;
    }
    Ok((reps * n) as f64 / t.elapsed().as_secs_f64())
}

/// Runs the benchmark on a dataset: for each model in `models` (names of
/// [`ModelConfig::NAMES`]; all of them when empty), `epochs` epochs of training and the inference
/// rate; then the SVM fits, on pixels and on the latents of the first model, and the gemm rate.
/// `progress` hears of each stage twice: what it is about to measure, then its result.
pub fn run(
    data: &Dataset,
    epochs: usize,
    models: &[String],
    device: &Device,
    progress: &mut dyn FnMut(Stage),
) -> anyhow::Result<BenchReport> {
    let split = Split::stratified(data, 0.2, 0)?;
    let names: Vec<&str> = match models.is_empty() {
        true => ModelConfig::NAMES.to_vec(),
        false => models.iter().map(|s| s.as_str()).collect(),
    };
    let configs = names
        .iter()
        .map(|n| {
            ModelConfig::from_name(n).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown model '{n}' (expected one of: {})",
                    ModelConfig::NAMES.join(", ")
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let n_train = data.indices(&split, Side::Train).len();
    let pick = |side: Side| -> Vec<&crate::data::Roi> {
        data.indices(&split, side)
            .into_iter()
            .map(|i| &data.rois[i])
            .collect()
    };
    let (train_rois, test_rois) = (pick(Side::Train), pick(Side::Test));
    let x_test = roi_tensor(&test_rois, device)?;

    let mut models = std::collections::BTreeMap::new();
    let mut latent_model = None;
    for model in &configs {
        trim_heap();
        let what = format!("{} training, {} epochs", model.name(), epochs.max(1));
        progress(Stage::Start(what.clone()));
        let (spe, train_spe, timed) = time_training(data, &split, model, epochs, device)?;
        progress(Stage::Done(what, format!("{spe:.3} s/epoch")));
        let flops_per_roi = train_flops_per_roi(model);
        let m = model.build(0, device)?;
        let what = format!("{} inference", model.name());
        progress(Stage::Start(what.clone()));
        let inference = inference_rate(m.as_ref(), &x_test)?;
        progress(Stage::Done(what, format!("{inference:.0} ROIs/s")));
        if latent_model.is_none() {
            latent_model = Some(m);
        }
        models.insert(
            model.name().to_string(),
            ModelBench {
                seconds_per_epoch: spe,
                train_seconds_per_epoch: train_spe,
                flops_per_roi,
                train_gflops: flops_per_roi * n_train as f64 / train_spe.max(1e-12) / 1e9,
                gemm_ratio: 0.0,
                inference_rois_per_sec: inference,
                epochs_timed: timed,
                paper_run_seconds: spe * 250.0,
            },
        );
    }

    // SVM fits on the training ROIs: pixels (784) and latent vectors (32).
    let labels: Vec<Label> = train_rois.iter().map(|r| r.label).collect();
    let mut svm = std::collections::BTreeMap::new();
    let px = eval::pixels(&train_rois);
    let what = format!("SVM fit on pixels ({}x{})", px.nrows(), px.ncols());
    progress(Stage::Start(what.clone()));
    let t = Instant::now();
    eval::svm::fit_predict(&px, &labels, &px.slice(ndarray::s![0..1, ..]).to_owned())?;
    let secs = t.elapsed().as_secs_f64();
    progress(Stage::Done(what, format!("{secs:.3} s")));
    svm.insert(format!("pixels_{}x{}", px.nrows(), px.ncols()), secs);
    if let Some(m) = &latent_model {
        let z = eval::latents(m.as_ref(), &train_rois)?;
        let what = format!(
            "SVM fit on {} latents ({}x{})",
            m.name(),
            z.nrows(),
            z.ncols()
        );
        progress(Stage::Start(what.clone()));
        let t = Instant::now();
        eval::svm::fit_predict(&z, &labels, &z.slice(ndarray::s![0..1, ..]).to_owned())?;
        let secs = t.elapsed().as_secs_f64();
        progress(Stage::Done(what, format!("{secs:.3} s")));
        svm.insert(
            format!("latents_{}_{}x{}", m.name(), z.nrows(), z.ncols()),
            secs,
        );
    }

    progress(Stage::Start("f32 gemm".into()));
    let gemm = gemm_gflops(device)?;
    progress(Stage::Done("f32 gemm".into(), format!("{gemm:.1} GFLOP/s")));
    for m in models.values_mut() {
        m.gemm_ratio = m.train_gflops / gemm;
    }
    let vq_gflops = models.get("vqvae").map_or(0.0, |m| m.train_gflops);
    Ok(BenchReport {
        models,
        gemm_gflops: gemm,
        gemm_ratio: vq_gflops / gemm,
        svm_fit_seconds: svm,
        threads: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        peak_rss_mb: peak_rss_mb(),
    })
}
