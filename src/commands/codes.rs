//! `vqtex codes`: each VQ-VAE code's use by healthy and steatotic test ROIs and the texture it
//! covers (the engine's `eval::codes` computes; this prints a table or JSON).

use anyhow::{bail, Result};
use serde_json::json;

use super::open_run;
use crate::cli::CodesArgs;
use crate::data::Side;
use crate::eval::codes::{self, CodeStats};

/// A positive number in 3 or 4 significant digits: 0.0123, 1.23, 12.3, 4042, 1.6e-9.
fn num(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        a if a >= 1.0 => format!("{v:.2}"),
        a if a >= 0.01 || a == 0.0 => format!("{v:.3}"),
        _ => format!("{v:.1e}"),
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

/// The table of the used codes, one line each.
fn table(stats: &[CodeStats]) -> String {
    let mut out = format!(
        "{:>4} {:>6} {:>6} {:>5} {:>5} {:>7} {:>17} {:>8} {:>8} {:>6} {:>6} {:>5}\n",
        "code",
        "pos H",
        "pos S",
        "roi H",
        "roi S",
        "OR",
        "OR 95% CI",
        "p",
        "p BH",
        "echo",
        "hetero",
        "gran"
    );
    for s in stats.iter().filter(|s| s.used()) {
        let ci = format!("[{}, {}]", num(s.or_ci95[0]), num(s.or_ci95[1]));
        out.push_str(&format!(
            "{:>4} {:>6} {:>6} {:>5} {:>5} {:>7} {:>17} {:>8} {:>8} {:>6} {:>6} {:>5}\n",
            s.code,
            s.positions[0],
            s.positions[1],
            s.rois[0],
            s.rois[1],
            num(s.odds_ratio),
            ci,
            num(s.p),
            num(s.p_bh),
            opt(s.echogenicity),
            opt(s.heterogeneity),
            s.granularity
                .map_or_else(|| "-".into(), |g| format!("{g:.2}")),
        ));
    }
    out
}

pub fn codes(args: &CodesArgs) -> Result<()> {
    let run = open_run(&args.run, args.device)?;
    if run.model.codebook_size().is_none() {
        bail!(
            "{} is a {} run: codes need a VQ-VAE run",
            args.run.display(),
            run.config.model.kind()
        );
    }
    let mut stats = codes::code_stats(&run)?;
    args.sort.sort(&mut stats);
    let test = run.dataset.indices(&run.split, Side::Test);
    let n_class = |steatotic: bool| {
        test.iter()
            .filter(|&&i| (run.dataset.rois[i].label == crate::data::Label::Steatosis) == steatotic)
            .count()
    };
    if args.json {
        let v = json!({
            "run": args.run.display().to_string(),
            "n_rois": test.len(),
            "codes": stats,
        });
        crate::outln!("{v}");
        return Ok(());
    }
    let used = stats.iter().filter(|s| s.used()).count();
    crate::outln!(
        "{}: {} codes, {used} used by {} test ROIs ({} healthy, {} steatotic); sorted by {}",
        args.run.display(),
        stats.len(),
        test.len(),
        n_class(false),
        n_class(true),
        args.sort.as_str()
    );
    crate::outln!(
        "pos/roi H|S: positions and ROIs using the code; OR: odds of use, steatotic over healthy \
         ROIs; p: Fisher exact, BH over the used codes; texture of the 8x8 patches it covers"
    );
    crate::out!("{}", table(&stats));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_short() {
        assert_eq!(num(4042.06), "4042");
        assert_eq!(num(19.99), "20.0");
        assert_eq!(num(1.4161), "1.42");
        assert_eq!(num(0.0349), "0.035");
        assert_eq!(num(1.6e-9), "1.6e-9");
        assert_eq!(num(0.0), "0.000");
    }
}
