//! The `conveyor` command line: parses flags and calls one library function per
//! subcommand. Everything it does is testable without spawning it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pipeline::config::{Config, Overrides};
use pipeline::format::thousands;
use pipeline::generate::{FileFormat, GenerateOptions, Shape};
use pipeline::ingest::{IngestOptions, IngestSummary};
use pipeline::query::OutputFormat;

/// mimalloc rather than the system allocator: ingest and the query engine allocate from
/// many threads, where glibc's per-thread arenas keep freed memory and grew peak RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Conveyor: order exports → Parquet warehouse → belt-conveyor CRM marts → ¥1B forecast.
///
/// Start with `conveyor demo`: it generates a messy demo export bucket under ./demo,
/// ingests it and shows what happened. Then point `--source` at your own exports
/// (a folder, s3://bucket/prefix, gs://, az://) or write a conveyor.toml (`conveyor init`).
#[derive(Parser)]
#[command(name = "conveyor", version, about, long_about)]
struct Cli {
    /// Config file (default: ./conveyor.toml if it exists, else built-in defaults).
    #[arg(long, global = true, env = "CONVEYOR_CONFIG")]
    config: Option<PathBuf>,
    /// Where exports are read from (overrides storage.source): a path or object-store URL.
    #[arg(long, global = true)]
    source: Option<String>,
    /// Where the warehouse lives (overrides storage.warehouse): a path or object-store URL.
    #[arg(long, global = true)]
    warehouse: Option<String>,
    /// Log filter (e.g. info, debug, pipeline=trace); also RUST_LOG.
    #[arg(long, global = true, default_value = "warn")]
    log: String,
    /// Logs as JSON lines on stderr, for log collectors.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a commented conveyor.toml with every default spelled out.
    Init {
        /// Where to write it.
        #[arg(default_value = "conveyor.toml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Generate realistic synthetic order exports (deterministic by seed) into the source.
    ///
    /// Example: conveyor generate --orders 1000000 --source ./exports --bad-share 0.001
    Generate {
        /// About this many orders in total.
        #[arg(long, default_value_t = 100_000)]
        orders: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// First month, YYYY-MM.
        #[arg(long, default_value = "2023-01")]
        start: String,
        /// Number of months (one export file each).
        #[arg(long, default_value_t = 36)]
        months: u32,
        /// english: UTF-8 with English headers; japanese: CP932 with Japanese headers.
        #[arg(long, value_enum, default_value = "english")]
        shape: Shape,
        #[arg(long, value_enum, default_value = "csv")]
        format: FileFormat,
        /// Make the last N monthly files Japanese CP932 exports.
        #[arg(long, default_value_t = 0)]
        japanese_last_months: u32,
        /// Share of rows deliberately broken (each kind of bad row in turn).
        #[arg(long, default_value_t = 0.0)]
        bad_share: f64,
        /// Share of rows repeated in the next month's export.
        #[arg(long, default_value_t = 0.0)]
        duplicate_share: f64,
        /// Share of rows re-exported next month with a changed status.
        #[arg(long, default_value_t = 0.0)]
        update_share: f64,
        /// Print the ground-truth summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load new or changed order exports from the source into the warehouse.
    ///
    /// Only objects not yet in the manifest (by key, size and e_tag) are read, so running
    /// it twice changes nothing. Bad rows go to quarantine/orders/ with object, line,
    /// column and reason. Exits 3 if some objects could not be read at all.
    Ingest {
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Build the CRM marts (SQL in sql/marts/) and publish each to marts/<name>/.
    ///
    /// Example: conveyor marts --only cohort_retention,f2_conversion
    Marts {
        /// Build only these marts (and the marts they read), comma-separated.
        #[arg(long, value_delimiter = ',')]
        only: Option<Vec<String>>,
        #[arg(long)]
        json: bool,
    },
    /// Project monthly sales with a Monte Carlo simulation calibrated on the warehouse, and
    /// answer: do annual sales reach the target (¥1B) within 4 years?
    ///
    /// Calibrates the purchase ladder (F2 and later repeat rates, delays), new customers and
    /// order values on the counted orders, applies a scenario ([forecast] scenario, or
    /// --scenario: claim_87 holds F2 at 87 %, baseline keeps what the data says, or your
    /// own under [forecast.scenarios.NAME]), simulates, and publishes forecast_* tables
    /// under forecasts/<run_id>/ (docs/forecast_tables.md): monthly and yearly percentiles,
    /// P(reach), the F2 sweep, the goal seek for new customers, sensitivities, assumptions.
    ///
    /// Before it forecasts, it backtests itself on your own history: at cut-offs every 3
    /// months it calibrates on the months before and compares the existing customers'
    /// projected sales with what they bought (forecast_validation). With --model auto (the
    /// default) the better of the ladder and BG/NBD projects the existing customers, and
    /// the bands are widened by the errors those backtests measured.
    ///
    /// Examples:
    ///   conveyor forecast
    ///   conveyor forecast --scenario baseline --paths 50000 --seed 7
    ///   conveyor forecast --backtest-cutoff 2025-01-01
    Forecast {
        /// Scenario name (default: [forecast] scenario, claim_87).
        #[arg(long)]
        scenario: Option<String>,
        /// Monte Carlo paths (default: [forecast] paths, 10000).
        #[arg(long)]
        paths: Option<usize>,
        /// Seed (default: [forecast] seed).
        #[arg(long)]
        seed: Option<u64>,
        /// Worker threads (default: one per core); results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Backtest: calibrate on the months before this date (first day of a month) and
        /// compare the forecast with what happened after it.
        #[arg(long, value_name = "YYYY-MM-01")]
        backtest_cutoff: Option<chrono::NaiveDate>,
        /// Model of the existing customers: ladder, bgnbd (BG/NBD + Gamma-Gamma) or auto
        /// (the one with the smaller error in the rolling backtests; default: [forecast] model).
        #[arg(long, value_enum)]
        model: Option<pipeline::forecast::ModelChoice>,
        #[arg(long)]
        json: bool,
    },
    /// Run SQL over the warehouse tables (orders, quarantine_orders, marts, forecasts).
    ///
    /// Example: conveyor query "SELECT order_month, count(*) FROM orders GROUP BY 1 ORDER BY 1"
    Query {
        sql: String,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Write the executive forecast report: one self-contained HTML file.
    ///
    /// Goes to <warehouse>/reports/<date>-forecast.html (date in the configured time zone)
    /// and reports/latest-forecast.html; English files end in .en.html. Needs the marts;
    /// without `conveyor forecast` the forecast sections say so.
    ///
    /// Example: conveyor report --lang en
    Report {
        /// Language: ja (Japanese, default) or en (English).
        #[arg(long, value_enum, default_value = "ja")]
        lang: pipeline::report::Lang,
        /// Write the report to this local file instead of the warehouse's reports/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print where it went as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run every stage once (ingest → marts → forecast → report) under the run lock.
    ///
    /// This is what cron, a systemd timer, a Kubernetes CronJob or Airflow calls. Exits 1
    /// naming the failed stage (previous outputs stay intact), 3 if some exports could not
    /// be read, and 4 if another run holds the lock.
    Run {
        /// Print the run record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the pipeline on the cron expressions of [schedule] until SIGINT/SIGTERM.
    Schedule {
        /// Stop after this many runs.
        #[arg(long)]
        max_runs: Option<u64>,
    },
    /// Show recent runs: status, stages, durations, row counts, errors.
    Status {
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Serve the warehouse over the PostgreSQL wire protocol, for BI tools and psql.
    ///
    /// Tables: orders, every mart (customer_summary, cohort_retention, monthly_kpis, …),
    /// run_history and the latest forecast_* tables, in database "conveyor", schema
    /// "public". Read-only: writes and DDL are refused (SQLSTATE 25006). Tables follow each
    /// pipeline run without a restart. Settings live in [serve] of conveyor.toml.
    ///
    /// Log in as a user of [[serve.users]]; each user's password is read from the
    /// environment variable it names (default: user "conveyor", CONVEYOR_SERVE_PASSWORD).
    /// The server does not start if no user has a password.
    ///
    /// Example:
    ///   CONVEYOR_SERVE_PASSWORD=secret conveyor serve --warehouse ./demo/warehouse
    ///   PGPASSWORD=secret psql "host=127.0.0.1 port=5433 user=conveyor dbname=conveyor"
    ///
    /// See docs/bi.md for Metabase, Superset, Tableau, Power BI and Grafana.
    #[command(verbatim_doc_comment)]
    Serve {
        /// Address to listen on (overrides serve.bind; default 127.0.0.1). Anything but
        /// loopback exposes the warehouse to the network: configure TLS then.
        #[arg(long)]
        bind: Option<String>,
        /// Port (overrides serve.port; default 5433; 0 picks a free one).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Generate a demo export bucket under DIR, ingest it, and show what happened.
    Demo {
        #[arg(long, default_value = "demo")]
        dir: PathBuf,
        #[arg(long, default_value_t = 60_000)]
        orders: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

fn init_logging(filter: &str, json: bool) {
    let env = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn print_ingest(s: &IngestSummary) {
    println!(
        "ingest {}: {} objects listed — {} loaded, {} unchanged, {} failed",
        s.dataset,
        thousands(s.objects_listed as i128),
        thousands(s.objects_loaded as i128),
        thousands(s.objects_unchanged as i128),
        thousands(s.objects_failed.len() as i128)
    );
    println!(
        "  rows read {} = loaded {} (of which updated {}) + quarantined {} + duplicates {}",
        thousands(s.rows_read as i128),
        thousands(s.rows_loaded as i128),
        thousands(s.rows_updated as i128),
        thousands(s.rows_quarantined as i128),
        thousands(s.rows_duplicate as i128)
    );
    if let Some(v) = &s.table_version {
        println!(
            "  table {} now has {} rows (version {v}; {} partitions written, {} carried over) in {:.1}s",
            s.dataset,
            thousands(s.table_rows as i128),
            s.partitions_written,
            s.partitions_carried,
            s.seconds
        );
    } else {
        println!(
            "  nothing new: the warehouse is unchanged ({:.1}s)",
            s.seconds
        );
    }
    if let Some(q) = &s.quarantine_file {
        println!(
            "  quarantined rows: {q} (query them as quarantine_{})",
            s.dataset
        );
    }
    for f in &s.objects_failed {
        println!("  FAILED {}", f.error);
    }
}

fn print_marts(s: &pipeline::marts::publish::MartsSummary) {
    println!("marts: {} built in {:.1}s", s.marts.len(), s.seconds);
    for m in &s.marts {
        println!(
            "  {:<20} {:>12} rows {:>7.2}s",
            m.name,
            thousands(m.rows as i128),
            m.seconds
        );
    }
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "n/a".into())
}

fn met(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "met",
        Some(false) => "not met",
        None => "not yet measurable",
    }
}

fn print_headline(h: &pipeline::marts::publish::Headline) {
    println!("headline:");
    println!(
        "  customers {}   orders {}",
        thousands(h.customers as i128),
        thousands(h.orders as i128)
    );
    println!(
        "  F2 rate        {:>9}  target {:.0}%  {}",
        pct(h.f2_rate),
        h.target_f2_rate * 100.0,
        met(h.f2_rate.map(|v| v >= h.target_f2_rate))
    );
    println!(
        "  1-year LTV     {:>9}  target ¥{}  {}",
        h.ltv_1y
            .map(|v| format!("¥{}", thousands(v.round() as i128)))
            .unwrap_or_else(|| "n/a".into()),
        thousands(h.target_ltv_365 as i128),
        met(h.ltv_1y.map(|v| v >= h.target_ltv_365 as f64))
    );
    println!(
        "  repeat rate    {:>9}  target {:.0}%  {}{}",
        pct(h.repeat_rate),
        h.target_repeat_rate * 100.0,
        met(h.repeat_rate.map(|v| v >= h.target_repeat_rate)),
        h.repeat_rate_year
            .map(|y| format!(" ({y})"))
            .unwrap_or_default()
    );
}

fn print_forecast(o: &pipeline::forecast::ForecastOutcome) {
    println!(
        "forecast {} (scenario {}, {} paths, seed {}): calibrated on {} … {}, forecast from {}",
        o.run_id,
        o.scenario,
        thousands(o.paths as i128),
        o.seed,
        o.calibrated_from.format("%Y-%m"),
        o.calibrated_through.format("%Y-%m"),
        o.first_month.format("%Y-%m")
    );
    if o.p_reach.is_some() {
        println!("  {}", pipeline::forecast::answer::sentence_en(o));
        println!("  {}", pipeline::forecast::answer::sentence_ja(o));
        for y in &o.years {
            println!(
                "  year {}: median {}  (P10 {} – P90 {})  P(≥ target) {:.1}%",
                y.year,
                pipeline::format::yen_en(y.p50),
                pipeline::format::yen_en(y.p10),
                pipeline::format::yen_en(y.p90),
                y.p_at_least_target * 100.0
            );
        }
    }
    println!(
        "  existing customers projected by: {} ({} rolling backtests on the history)",
        o.model,
        o.validation.len()
    );
    for v in &o.validation {
        println!(
            "    {:<6} cut-off {}  {} months  error {}  MAPE {}  inside P10–P90 {}",
            v.model,
            v.cutoff.format("%Y-%m"),
            v.months,
            pct(v.total_pct_error),
            pct(v.mape),
            v.coverage_p10_p90
                .map_or("-".to_string(), |c| format!("{:.0}%", c * 100.0))
        );
    }
    for b in &o.backtest {
        println!(
            "  backtest {:<18} {} months  actual {}  forecast {}  error {}  MAPE {}  inside P10–P90 {:.0}%",
            b.kind,
            b.months,
            pipeline::format::yen_en(b.total_actual),
            pipeline::format::yen_en(b.total_forecast),
            pct(b.total_pct_error),
            pct(b.mape),
            b.coverage_p10_p90 * 100.0
        );
    }
    println!(
        "  tables: {}",
        o.tables
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn print_run(r: &pipeline::run::history::RunRecord) {
    println!(
        "run {} ({}) {} — started {}, finished {}",
        r.run_id,
        r.trigger,
        r.status,
        r.started_at,
        r.finished_at.as_deref().unwrap_or("-")
    );
    for s in &r.stages {
        println!(
            "  {:<9} {:>7.1}s {:>12} rows  {}",
            s.stage,
            s.seconds,
            thousands(s.rows as i128),
            s.detail
        );
    }
    if let Some(e) = &r.error {
        println!("  error: {e}");
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        source: cli.source.clone(),
        warehouse: cli.warehouse.clone(),
    };
    let load = || Config::load(cli.config.as_deref(), &overrides);
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    match cli.command {
        Command::Init { path, force } => {
            if path.exists() && !force {
                anyhow::bail!("{} exists; pass --force to overwrite it", path.display());
            }
            std::fs::write(&path, pipeline::config::EXAMPLE)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
        Command::Generate {
            orders,
            seed,
            start,
            months,
            shape,
            format,
            japanese_last_months,
            bad_share,
            duplicate_share,
            update_share,
            json,
        } => {
            let config = load()?;
            let start = chrono::NaiveDate::parse_from_str(&format!("{start}-01"), "%Y-%m-%d")
                .with_context(|| format!("--start {start:?}: expected YYYY-MM"))?;
            for (name, v) in [
                ("--bad-share", bad_share),
                ("--duplicate-share", duplicate_share),
                ("--update-share", update_share),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    anyhow::bail!("{name} {v}: expected a share between 0 and 1");
                }
            }
            let target = pipeline::storage::open_location(&config, &config.storage.source)?;
            let summary = pipeline::generate::generate(
                &target,
                &GenerateOptions {
                    orders,
                    seed,
                    start,
                    months,
                    shape,
                    format,
                    japanese_last_months,
                    bad_share,
                    duplicate_share,
                    update_share,
                    prefix: config.datasets.orders.prefix.clone(),
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                println!(
                    "generated {} rows ({} orders, {} customers) in {} files, {} bytes, under {} in {:.1}s",
                    thousands(summary.rows_written as i128),
                    thousands(summary.orders as i128),
                    thousands(summary.customers as i128),
                    summary.files.len(),
                    thousands(summary.bytes as i128),
                    config.storage.source,
                    summary.seconds
                );
            }
        }
        Command::Ingest { json } => {
            let config = load()?;
            let summary = pipeline::ingest::ingest(
                &config,
                &pipeline::dataset::ORDERS,
                &config.datasets.orders,
                &IngestOptions {
                    progress: interactive && !json,
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print_ingest(&summary);
            }
            if !summary.objects_failed.is_empty() {
                return Ok(ExitCode::from(3));
            }
        }
        Command::Marts { only, json } => {
            let config = load()?;
            let summary = pipeline::marts::publish::run_marts(&config, only.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print_marts(&summary);
            }
        }
        Command::Forecast {
            scenario,
            paths,
            seed,
            threads,
            backtest_cutoff,
            model,
            json,
        } => {
            let config = load()?;
            let outcome = pipeline::forecast::run_forecast(
                &config,
                &pipeline::forecast::ForecastOptions {
                    scenario,
                    paths,
                    seed,
                    threads,
                    backtest_cutoff,
                    model,
                    progress: interactive && !json,
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                print_forecast(&outcome);
            }
        }
        Command::Query { sql, format } => {
            let config = load()?;
            let batches = pipeline::query::run(&config, &sql).await?;
            println!("{}", pipeline::query::render(&batches, format)?);
        }
        Command::Report { lang, out, json } => {
            let config = load()?;
            let outcome =
                pipeline::report::run(&config, &pipeline::report::ReportOptions { lang, out })
                    .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                println!("report ({}): {}", lang.code(), outcome.path);
                if let Some(latest) = &outcome.latest {
                    println!("  latest copy: {latest}");
                }
                if !outcome.has_forecast {
                    println!(
                        "  no forecast yet: run `conveyor forecast`, then `conveyor report` again"
                    );
                }
            }
        }
        Command::Run { json } => {
            let config = load()?;
            let outcome = pipeline::run::run_once(
                &config,
                &pipeline::run::RunOptions {
                    trigger: "manual".into(),
                    progress: interactive && !json,
                },
            )
            .await;
            let outcome = match outcome {
                Ok(o) => o,
                Err(e @ pipeline::Error::Locked { .. }) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(4));
                }
                Err(e) => return Err(e.into()),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                print_ingest(&outcome.ingest);
                print_run(&outcome.record);
            }
            if outcome.record.status != pipeline::run::RunStatus::Succeeded {
                return Ok(ExitCode::from(3));
            }
        }
        Command::Schedule { max_runs } => {
            let config = load()?;
            let runs = pipeline::schedule::schedule(
                &config,
                &pipeline::schedule::ScheduleOptions { max_runs },
            )
            .await?;
            println!("schedule stopped after {runs} run(s)");
        }
        Command::Status { limit, json } => {
            let config = load()?;
            let wh = pipeline::warehouse::Warehouse::new(pipeline::storage::open_location(
                &config,
                &config.storage.warehouse,
            )?);
            let runs = pipeline::run::history::load_all(&wh).await?;
            let runs: Vec<_> = runs.into_iter().take(limit).collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
            } else if runs.is_empty() {
                println!("no runs yet in {}", config.storage.warehouse);
            } else {
                for r in &runs {
                    print_run(r);
                }
            }
        }
        Command::Serve { bind, port } => {
            let mut config = load()?;
            if let Some(b) = bind {
                config.serve.bind = b;
            }
            if let Some(p) = port {
                config.serve.port = p;
            }
            let server = pipeline::serve::Server::bind(&config).await?;
            let addr = server.local_addr();
            // One line on stdout once connections are accepted: scripts wait for it.
            println!(
                "conveyor serve: listening on {addr}{} (database conveyor; Ctrl-C stops)",
                if server.tls() { " with TLS" } else { "" }
            );
            use std::io::Write;
            std::io::stdout().flush()?;
            server.run().await?;
        }
        Command::Demo { dir, orders, seed } => {
            let outcome = pipeline::demo::run(&pipeline::demo::DemoOptions {
                dir: dir.clone(),
                orders,
                seed,
                progress: interactive,
            })
            .await?;
            let g = &outcome.generated;
            println!(
                "demo: generated {} export files under {}/exports ({} rows: {} orders of {} customers, {} broken rows, {} duplicate rows, {} status updates; the last month is a CP932 export with Japanese headers)",
                g.files.len(),
                dir.display(),
                thousands(g.rows_written as i128),
                thousands(g.orders as i128),
                thousands(g.customers as i128),
                g.bad_rows,
                g.duplicate_rows,
                g.update_rows
            );
            print_ingest(&outcome.ingest);
            print_marts(&outcome.marts);
            print_headline(&outcome.headline);
            if !outcome.quarantine_reasons.is_empty() {
                println!("  quarantine by reason:");
                for (reason, n) in &outcome.quarantine_reasons {
                    println!("    {n:>5}  {reason}");
                }
            }
            println!("forecast:");
            println!(
                "  {}",
                pipeline::forecast::answer::sentence_en(&outcome.forecast)
            );
            println!(
                "  {}",
                pipeline::forecast::answer::sentence_ja(&outcome.forecast)
            );
            let wh = dir.join("warehouse");
            println!("\nnext:");
            println!(
                "  conveyor query --warehouse {} \"SELECT order_month, count(*) AS orders, sum(amount) AS sales FROM orders GROUP BY 1 ORDER BY 1\"",
                wh.display()
            );
            println!(
                "  conveyor query --warehouse {} \"SELECT source_object, line, \\\"column\\\", reason FROM quarantine_orders ORDER BY 1, 2\"",
                wh.display()
            );
            println!("\nreport: {}", outcome.report.path);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log, cli.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
