//! The `rstscope` command. Parses arguments and hands over to the library: `rstscope analyze`
//! for reports, and with no command the desktop app.
//!
//! Exit codes: 0 when every capture was read to its end; 1 when an input problem (a damaged or
//! cut file) left partial results; 2 on a fatal error (a capture that cannot be opened, bad
//! arguments). A closed output pipe (`rstscope analyze x | head`) is not an error.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

use rstscope::flow::FlowConfig;
use rstscope::pipeline::{self, Options};
use rstscope::report;
use rstscope::source::SourceSpec;

mod capture_cmd;

#[derive(Parser)]
#[command(
    name = "rstscope",
    version,
    about = "Who sent each TCP RST in a capture, and why",
    long_about = "Who sent each TCP RST in a capture, and why.\n\nWith no command, opens the desktop app: on the captures named (`-` for a capture stream on standard input), or on the built-in samples.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Captures to open in the desktop app; `-` reads standard input.
    #[arg(value_name = "FILE")]
    files: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Lists every TCP connection in pcap/pcapng captures, with every RST in detail.
    Analyze(AnalyzeArgs),
    /// Captures live on a network interface and prints each reset with its diagnosis as it
    /// happens; every packet is saved to pcapng.
    Capture(capture_cmd::CaptureArgs),
}

#[derive(clap::Args)]
// Command-line switches.
#[allow(clippy::struct_excessive_bools)]
struct AnalyzeArgs {
    /// Capture files (pcap or pcapng, optionally gzip-compressed); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Only connections with at least one RST.
    #[arg(long)]
    resets_only: bool,
    /// Report silences inside a connection at least this long, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    idle_gap: f64,
    /// Indent the JSON even when the output is not a terminal.
    #[arg(long)]
    pretty: bool,
    /// Repeat each cause's explanation and fixes in every reset connection, rather than once
    /// per cause (in the JSON's `causes` table, at the end of the text report).
    #[arg(long)]
    verbose_text: bool,
    /// Print measurements (time, packets, bytes retained per packet) on standard error.
    #[arg(long)]
    stats: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
// Shown by --help as written: no Markdown.
#[allow(clippy::doc_markdown)]
enum Format {
    Text,
    /// One JSON document per capture (schema `rstscope.analysis/2`).
    Json,
    /// One JSON record per line: the source, each connection, each cause, incident and
    /// warning (schema `rstscope.lines/1`), for `jq`, DuckDB and pipes.
    Jsonl,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Analyze(args)) => analyze(&args),
        Some(Command::Capture(args)) => capture_cmd::run(&args),
        None => run_app(cli.files.iter().map(|f| SourceSpec::from_arg(f)).collect()),
    }
}

#[cfg(feature = "gui")]
fn run_app(open: Vec<SourceSpec>) -> ExitCode {
    match rstscope::ui::run(open) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "rstscope: cannot open a window: {e}\n(no display? `rstscope analyze FILE` works without one)"
            );
            ExitCode::from(2)
        }
    }
}

#[cfg(not(feature = "gui"))]
fn run_app(_open: Vec<SourceSpec>) -> ExitCode {
    eprintln!(
        "rstscope: this build has no desktop app (built without the `gui` feature); `rstscope analyze FILE` and `rstscope capture` work"
    );
    ExitCode::from(2)
}

/// What happened to the worst of the inputs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Ok = 0,
    Partial = 1,
    Fatal = 2,
}

fn analyze(args: &AnalyzeArgs) -> ExitCode {
    if !(args.idle_gap.is_finite() && args.idle_gap > 0.0) {
        eprintln!("rstscope: --idle-gap must be a positive number of seconds");
        return ExitCode::from(2);
    }
    // Two captures of the same traffic are compared packet by packet; one capture's report
    // needs records only where the diagnosis reads them.
    let two_point = args.files.len() == 2;
    #[allow(clippy::cast_possible_truncation)]
    let options = Options {
        flow: FlowConfig {
            idle_gap_ns: (args.idle_gap * 1e9).round() as i64,
            ..if two_point {
                FlowConfig::every_record()
            } else {
                FlowConfig::default()
            }
        },
        drop_unused_records: !two_point,
        ..Options::default()
    };
    let stdout = io::stdout();
    // Indented JSON for a person at a terminal, one line per capture for a pipe (`| jq`).
    let pretty = stdout.is_terminal() || args.pretty;
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut status = Status::Ok;
    let many_json = args.format == Format::Json && args.files.len() > 1;
    let report_options = report::ReportOptions {
        resets_only: args.resets_only,
        verbose_text: args.verbose_text,
    };
    let mut first = true;
    let result: io::Result<()> = (|| {
        if many_json {
            writeln!(out, "[")?;
        }
        // Two captures are analysed together: when they hold the same connections (a client
        // and a server capture), each serves as proof for the other's diagnoses.
        let mut done: Vec<(&String, pipeline::Outcome)> = Vec::new();
        for (i, name) in args.files.iter().enumerate() {
            let started = Instant::now();
            let outcome = pipeline::analyze(SourceSpec::from_arg(name), options);
            if let (true, Some(a)) = (args.stats, &outcome.analysis) {
                print_stats(a, started.elapsed().as_secs_f64());
            }
            if two_point {
                done.push((name, outcome));
            } else {
                status = status.max(write_one(
                    &mut out,
                    args.format,
                    report_options,
                    name,
                    &outcome,
                    pretty,
                    many_json,
                    &mut first,
                )?);
                if i + 1 == args.files.len() {
                    // The process ends next: freeing a million connections one by one would
                    // take most of a second for nothing.
                    std::mem::forget(outcome);
                }
            }
        }
        if let [(na, oa), (nb, ob)] = &mut done[..]
            && let (Some(a), Some(b)) = (&mut oa.analysis, &mut ob.analysis)
        {
            let check = a.cross_check(b, na, nb);
            if check.paired > 0 {
                eprintln!(
                    "rstscope: two-point capture: {} found in both files; {} proven forged on the path, {} confirmed sent by their endpoint",
                    rstscope::diagnose::words::plural(check.paired as u64, "connection"),
                    rstscope::diagnose::words::plural(check.forged as u64, "RST"),
                    check.confirmed
                );
            }
        }
        for (name, outcome) in &done {
            status = status.max(write_one(
                &mut out,
                args.format,
                report_options,
                name,
                outcome,
                pretty,
                many_json,
                &mut first,
            )?);
        }
        if many_json {
            writeln!(out, "]")?;
        }
        out.flush()
    })();
    match result {
        Ok(()) => {}
        // The reader of our output went away (`| head`): not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rstscope: cannot write the report: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::from(status as u8)
}

/// Writes one capture's report; returns how well its reading went.
#[allow(clippy::too_many_arguments)]
fn write_one(
    out: &mut dyn Write,
    format: Format,
    options: report::ReportOptions,
    name: &str,
    outcome: &pipeline::Outcome,
    pretty: bool,
    many_json: bool,
    first: &mut bool,
) -> io::Result<Status> {
    let error = outcome.error.as_ref();
    let Some(analysis) = &outcome.analysis else {
        let msg = error.map_or_else(
            || "the analysis stopped without a result".to_owned(),
            |e| format!("{e}"),
        );
        eprintln!("rstscope: {name}: {msg}");
        return Ok(Status::Fatal);
    };
    let mut status = Status::Ok;
    if let Some(e) = error {
        eprintln!("rstscope: {name}: {e}; results up to there follow");
        status = Status::Partial;
    }
    match format {
        Format::Json => {
            if many_json && !*first {
                writeln!(out, ",")?;
            }
            report::write_json(out, analysis, error, options, pretty)?;
        }
        Format::Jsonl => report::write_lines(out, analysis, error, options)?,
        Format::Text => {
            if !*first {
                writeln!(out)?;
            }
            report::write_text(out, analysis, error, options)?;
        }
    }
    *first = false;
    Ok(status)
}

#[allow(clippy::cast_precision_loss)]
fn print_stats(a: &rstscope::analysis::Analysis, elapsed_s: f64) {
    let per_packet = if a.stats.tcp_packets > 0 {
        a.stats.retained_packet_bytes as f64 / a.stats.tcp_packets as f64
    } else {
        0.0
    };
    eprintln!(
        "frames={} tcp_packets={} connections={} elapsed_s={elapsed_s:.3} retained_packet_bytes={} retained_bytes_per_packet={per_packet:.1}",
        a.stats.frames,
        a.stats.tcp_packets,
        a.connections.len(),
        a.stats.retained_packet_bytes
    );
}
