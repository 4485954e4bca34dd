//! `vqtex sensitivity`: which latent variable moves the decoded ROI's echogenicity,
//! heterogeneity and granularity (the engine's `eval::sensitivity` computes; this prints a table
//! or JSON).

use anyhow::Result;
use serde_json::json;

use super::open_run;
use crate::cli::SensitivityArgs;
use crate::eval::sensitivity::{self, Measure, Sensitivity};

/// A signed effect, or `-` when undefined.
fn effect(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:+.3}"))
}

/// The table, one line per latent variable, then the 3 variables with the largest effect on
/// each measure.
fn table(s: &Sensitivity) -> String {
    let mut out = format!(
        "{:>4} {:>8} {:>8} {:>8}  {}\n",
        "var", "echo", "hetero", "gran", "dominant"
    );
    for r in &s.rows {
        out.push_str(&format!(
            "{:>4} {:>8} {:>8} {:>8}  {}\n",
            r.dim,
            effect(r.echogenicity),
            effect(r.heterogeneity),
            effect(r.granularity),
            r.dominant.as_str()
        ));
    }
    out.push_str("largest effects:\n");
    for m in Measure::ALL {
        let top: Vec<String> = s
            .top(m, 3)
            .iter()
            .map(|r| format!("var {} ({})", r.dim, effect(r.effect(m))))
            .collect();
        let top = if top.is_empty() {
            "-".to_string()
        } else {
            top.join(", ")
        };
        out.push_str(&format!("  {:<13} {top}\n", m.as_str()));
    }
    out
}

pub fn sensitivity(args: &SensitivityArgs) -> Result<()> {
    let run = open_run(&args.run, args.device)?;
    let s = sensitivity::sensitivity(&run, args.rois)?;
    let model = run.config.model.kind();
    if args.json {
        let v = json!({
            "run": args.run.display().to_string(),
            "model": model.name(),
            "rois": s.rois,
            "training_sd": s.training_sd,
            "rows": s.rows,
        });
        crate::outln!("{v}");
        return Ok(());
    }
    let sd = |m: Measure| {
        s.training_sd
            .get(m)
            .map_or("-".into(), |v| format!("{v:.3}"))
    };
    let latent = if run.model.codebook_size().is_some() {
        "z_e, not re-quantised"
    } else {
        "its latent"
    };
    crate::outln!(
        "{}: the {model}'s {} latent variables, each shifted by -1 and +1 sd ({latent}) in {} \
         test ROIs and decoded",
        args.run.display(),
        s.rows.len(),
        s.rois
    );
    crate::outln!(
        "change per sd in the decoded ROI's texture, in sd of the training ROIs (echogenicity \
         {}, heterogeneity {}, granularity {} px)",
        sd(Measure::Echogenicity),
        sd(Measure::Heterogeneity),
        sd(Measure::Granularity)
    );
    crate::out!("{}", table(&s));
    Ok(())
}
