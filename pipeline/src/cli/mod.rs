//! The `conveyor` command line as a library: the flags ([`args`]), what each subcommand
//! prints ([`output`]), its exit codes ([`exit`]) and [`run`], which calls one library
//! function per subcommand. The binary only parses, sets up logging and the runtime, and
//! turns the outcome into an exit code.

pub mod args;
pub mod exit;
pub mod output;

use std::process::ExitCode;

use anyhow::Context;

pub use args::{Cli, Command};

use crate::config::{Config, Overrides};
use crate::format::thousands;
use crate::generate::GenerateOptions;
use crate::ingest::IngestOptions;

/// Logs to stderr, filtered by `filter` (or `RUST_LOG`), as JSON lines with `json`.
/// Colours only on a terminal (and not under `NO_COLOR`), so a log piped to a file or a
/// collector holds no escape codes.
pub fn init_logging(filter: &str, json: bool) {
    let env = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Runs one parsed command line; returns the exit code ([`exit`]).
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        source: cli.source.clone(),
        warehouse: cli.warehouse.clone(),
        engine: cli.engine.clone(),
    };
    let load = || Config::load(cli.config.as_deref(), &overrides);
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    match cli.command {
        Command::Init { path, force } => {
            if path.exists() && !force {
                anyhow::bail!("{} exists; pass --force to overwrite it", path.display());
            }
            std::fs::write(&path, crate::config::EXAMPLE)
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
            line_item_share,
            orders_only,
            json,
        } => {
            let config = load()?;
            let start = chrono::NaiveDate::parse_from_str(&format!("{start}-01"), "%Y-%m-%d")
                .map_err(|_| {
                    crate::Error::usage("--start", format!("{start:?}: expected YYYY-MM"))
                })?;
            for (name, v) in [
                ("--bad-share", bad_share),
                ("--duplicate-share", duplicate_share),
                ("--update-share", update_share),
                ("--line-item-share", line_item_share),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(crate::Error::usage(
                        name,
                        format!("{v}: expected a share between 0 and 1"),
                    )
                    .into());
                }
            }
            let target = crate::storage::open_location(&config, &config.storage.source)?;
            let summary = crate::generate::generate(
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
                    line_item_share,
                    prefix: config.datasets.orders.prefix.clone(),
                    orders_only,
                    relation_prefixes: crate::generate::RelationPrefixes::of(&config.datasets),
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
                if let Some(line) = output::line_items(&summary) {
                    println!("  {line}");
                }
                for (name, d) in summary.datasets.iter().filter(|(n, _)| *n != "orders") {
                    println!(
                        "  {name}: {} rows in {} files ({} broken, {} duplicate, {} updated)",
                        thousands(d.rows_written as i128),
                        d.files.len(),
                        d.bad_rows,
                        d.duplicate_rows,
                        d.update_rows
                    );
                }
            }
        }
        Command::Ingest { json } => {
            let config = load()?;
            let run = crate::ingest::ingest_all(
                &config,
                &IngestOptions {
                    progress: interactive && !json,
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&run)?);
            } else {
                print!("{}", output::ingest_run(&run));
            }
            if run.failed().next().is_some() {
                return Ok(ExitCode::from(exit::PARTIAL));
            }
        }
        Command::Marts {
            only,
            explain,
            json,
        } => {
            let config = load()?;
            let options = crate::marts::publish::MartsOptions { only, explain };
            let summary = crate::marts::publish::run_marts_with(&config, &options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{}", output::marts(&summary));
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
            let outcome = crate::forecast::run_forecast(
                &config,
                &crate::forecast::ForecastOptions {
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
                print!("{}", output::forecast(&outcome));
            }
        }
        Command::Query { sql, format } => {
            let config = load()?;
            let batches = crate::query::run(&config, &sql).await?;
            println!("{}", crate::query::render(&batches, format)?);
        }
        Command::Export {
            table,
            out,
            encoding,
            filter,
            limit,
            unmappable,
            json,
        } => {
            let config = load()?;
            let summary = crate::export::export(
                &config,
                &crate::export::ExportOptions {
                    table,
                    out,
                    encoding,
                    filter,
                    limit,
                    unmappable,
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{}", output::export(&summary));
            }
        }
        Command::Report { lang, out, json } => {
            let config = load()?;
            let outcome =
                crate::report::run(&config, &crate::report::ReportOptions { lang, out }).await?;
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
            let outcome = crate::run::run_once(
                &config,
                &crate::run::RunOptions {
                    trigger: "manual".into(),
                    progress: interactive && !json,
                },
            )
            .await?; // A held lock exits LOCKED through exit::of_error.
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                print!("{}", output::ingest_run(&outcome.ingest));
                print!("{}", output::run(&outcome.record));
            }
            if outcome.record.status != crate::run::RunStatus::Succeeded {
                return Ok(ExitCode::from(exit::PARTIAL));
            }
        }
        Command::Schedule { max_runs } => {
            let config = load()?;
            let runs =
                crate::schedule::schedule(&config, &crate::schedule::ScheduleOptions { max_runs })
                    .await?;
            println!("schedule stopped after {runs} run(s)");
        }
        Command::Status { limit, json } => {
            let config = load()?;
            let wh = crate::warehouse::Warehouse::new(crate::storage::open_location(
                &config,
                &config.storage.warehouse,
            )?);
            let runs = crate::run::history::load_all(&wh).await?;
            let runs: Vec<_> = runs.into_iter().take(limit).collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
            } else if runs.is_empty() {
                println!("no runs yet in {}", config.storage.warehouse);
            } else {
                for r in &runs {
                    print!("{}", output::run(r));
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
            let server = crate::serve::Server::bind(&config).await?;
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
        #[cfg(feature = "ballista")]
        Command::Cluster { node } => {
            let config = load()?;
            match node {
                args::ClusterCommand::Scheduler {
                    bind,
                    external_host,
                    executor_timeout_seconds,
                } => {
                    crate::cluster::scheduler::run(
                        &config,
                        &crate::cluster::scheduler::SchedulerOptions {
                            bind,
                            external_host,
                            executor_timeout_seconds,
                        },
                    )
                    .await?;
                }
                args::ClusterCommand::Executor {
                    scheduler,
                    bind,
                    external_host,
                    flight_port,
                    grpc_port,
                    concurrent_tasks,
                    work_dir,
                    memory_limit_mib,
                    heartbeat_seconds,
                    connect_timeout_seconds,
                } => {
                    crate::cluster::executor::run(
                        &config,
                        &crate::cluster::executor::ExecutorOptions {
                            scheduler: crate::cluster::parse_host_port(&scheduler, "--scheduler")?,
                            bind_host: bind,
                            external_host,
                            flight_port,
                            grpc_port,
                            concurrent_tasks,
                            work_dir,
                            memory_limit_mib,
                            heartbeat_seconds,
                            connect_timeout_seconds,
                        },
                    )
                    .await?;
                }
            }
        }
        Command::Demo { dir, orders, seed } => {
            let outcome = crate::demo::run(&crate::demo::DemoOptions {
                dir: dir.clone(),
                orders,
                seed,
                progress: interactive,
            })
            .await?;
            print!(
                "{}",
                output::demo_generated(&outcome.generated, &dir.join("exports"))
            );
            print!("{}", output::ingest_run(&outcome.ingest));
            print!("{}", output::marts(&outcome.marts));
            print!("{}", output::headline(&outcome.headline));
            if !outcome.quarantine_reasons.is_empty() {
                println!("  quarantine by reason:");
                for (reason, n) in &outcome.quarantine_reasons {
                    println!("    {n:>5}  {reason}");
                }
            }
            println!("forecast:");
            println!(
                "  {}",
                crate::forecast::answer::sentence_en(&outcome.forecast)
            );
            println!(
                "  {}",
                crate::forecast::answer::sentence_ja(&outcome.forecast)
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
