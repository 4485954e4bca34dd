//! vqtex: parse the command line, set up logging, dispatch. Nothing else.

use std::process::ExitCode;

use clap::Parser;
use vqtex::cli::{Cli, Command};
use vqtex::commands;

/// The system allocator, which also restores the terminal if an allocation fails in the workbench.
#[global_allocator]
static ALLOC: vqtex::tui::RestoringAlloc = vqtex::tui::RestoringAlloc;

fn main() -> ExitCode {
    vqtex::logging::init();
    // A bug must not show the user a raw panic: say what happened and where the log is.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        let trace = std::backtrace::Backtrace::force_capture();
        tracing::error!("panic{location} in thread {thread}: {info}\n{trace}");
        // Quietly: after a hang-up stderr is gone, and `eprintln!` would panic again.
        vqtex::logging::stderr_line(&format!(
            "vqtex: internal error{location}; please report it. Nothing on disk was lost."
        ));
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Synth(a)) => commands::synth(&a),
        Some(Command::Import(c)) => commands::import::import(&c),
        Some(Command::Roi(c)) => commands::import::roi(&c),
        Some(Command::Train(a)) => commands::train(&a),
        Some(Command::Eval(a)) => commands::eval(&a),
        Some(Command::Classify(a)) => commands::classify(&a),
        Some(Command::Traverse(a)) => commands::traverse(&a),
        Some(Command::Codes(a)) => commands::codes::codes(&a),
        Some(Command::Ood(a)) => commands::ood::ood(&a),
        Some(Command::Swap(a)) => commands::swap::swap(&a),
        Some(Command::Sensitivity(a)) => commands::sensitivity::sensitivity(&a),
        Some(Command::Reproduce(a)) => commands::reproduce(&a),
        Some(Command::Cv(a)) => commands::cv::cv(&a),
        Some(Command::Export(vqtex::cli::ExportCommand::Features(a))) => {
            commands::export::export_features(&a)
        }
        Some(Command::Bench(a)) => commands::bench(&a),
        Some(Command::Screenshot(a)) => commands::screenshot(&a),
        Some(Command::Tui(a)) => commands::tui(&a),
        Some(Command::Watch(a)) => commands::watch(&a),
        Some(Command::Runs(a)) => commands::runs(&a),
        None => commands::tui(&cli.tui),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = describe(&e);
            tracing::error!("{text}");
            vqtex::logging::stderr_line(&format!("error: {text}"));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, leaving out a cause whose text the message already shows (errors
/// that print `path: cause` also name the cause as their source).
fn describe(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}
