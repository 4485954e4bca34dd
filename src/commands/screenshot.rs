//! `vqtex screenshot` (hidden): the workbench's panes as PNG files, for the README and docs.

use anyhow::Result;

use crate::cli::ScreenshotArgs;
use crate::tui::shot::{parse_panes, screenshots, ShotOptions};

pub fn screenshot(args: &ScreenshotArgs) -> Result<()> {
    let (width, height) = args.size;
    let written = screenshots(&ShotOptions {
        panes: parse_panes(&args.pane)?,
        width,
        height,
        out: args.out.clone(),
        data: args.data.clone(),
    })?;
    for path in written {
        crate::outln!("{}", path.display());
    }
    Ok(())
}
