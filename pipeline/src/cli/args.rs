//! The command line's flags and subcommands (clap), with the help text `--help` shows.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::exit;
use crate::generate::{FileFormat, Shape};
use crate::query::OutputFormat;

/// Conveyor: order exports → Parquet warehouse → belt-conveyor CRM marts → ¥1B forecast.
///
/// Start with `conveyor demo`: it generates a messy demo export bucket under ./demo,
/// ingests it and shows what happened. Then point `--source` at your own exports
/// (a folder, s3://bucket/prefix, gs://, az://) or write a conveyor.toml (`conveyor init`).
#[derive(Parser)]
#[command(name = "conveyor", version, about, long_about, after_long_help = exit::HELP)]
pub struct Cli {
    /// Config file (default: ./conveyor.toml if it exists, else built-in defaults).
    #[arg(long, global = true, env = "CONVEYOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where exports are read from (overrides storage.source): a path or object-store URL.
    #[arg(long, global = true)]
    pub source: Option<String>,
    /// Where the warehouse lives (overrides storage.warehouse): a path or object-store URL.
    #[arg(long, global = true)]
    pub warehouse: Option<String>,
    /// Where the marts and `conveyor query` run (overrides engine.url): ballista://host:port
    /// for an Apache DataFusion Ballista cluster (docs/scale.md); "" for in-process.
    #[arg(long, global = true, env = "CONVEYOR_ENGINE")]
    pub engine: Option<String>,
    /// Log filter (e.g. info, debug, pipeline=trace); also RUST_LOG.
    #[arg(long, global = true, default_value = "warn")]
    pub log: String,
    /// Logs as JSON lines on stderr, for log collectors.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write a commented conveyor.toml with every default spelled out.
    Init {
        /// Where to write it.
        #[arg(default_value = "conveyor.toml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Generate realistic synthetic exports of the five datasets (deterministic by seed) into
    /// the source; --json prints the ground truth.
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
        /// Share of rows re-exported in a later month with a changed value (an order's
        /// status, a customer's prefecture or e-mail opt-in).
        #[arg(long, default_value_t = 0.0)]
        update_share: f64,
        /// Share of the orders exported line by line instead, in a Shopify-style order
        /// export (orders/shopify_orders_export_YYYY-MM.csv) beside the month's file.
        #[arg(long, default_value_t = 0.0)]
        line_item_share: f64,
        /// Write orders/ only; by default customers/, touchpoints/, nps_responses/ and
        /// subscription_events/ are written too, consistent with the orders.
        #[arg(long)]
        orders_only: bool,
        /// Print the ground-truth summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load new or changed exports from the source into the warehouse.
    ///
    /// Reads orders/ (required) and, when their prefixes hold exports, customers/,
    /// touchpoints/, nps_responses/ and subscription_events/ (docs/datasets.md). Only
    /// objects not yet in a dataset's manifest (by key, size and e_tag) are read, so
    /// running it twice changes nothing. Bad rows go to quarantine/<dataset>/ with object,
    /// line, column and reason; each dataset's summary balances read = loaded +
    /// quarantined + duplicates. Exits 3 if some objects could not be read at all.
    Ingest {
        /// Print the summaries as JSON: {"datasets": [one summary per dataset]}.
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
        /// Also print how each mart was run: DataFusion's physical plan and, on a cluster
        /// ([engine] url), the distributed plan with its stages and the shuffles between
        /// them. The marts are still built and published.
        #[arg(long)]
        explain: bool,
        /// Print the summary as JSON: {"marts": [{name, rows, seconds, skipped?, plan?}],
        /// "seconds"}.
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
        model: Option<crate::forecast::ModelChoice>,
        #[arg(long)]
        json: bool,
    },
    /// Run SQL over the warehouse tables (orders, customers, touchpoints, nps_responses,
    /// subscription_events, quarantine_<dataset>, marts, forecasts).
    ///
    /// Example: conveyor query "SELECT order_month, count(*) FROM orders GROUP BY 1 ORDER BY 1"
    Query {
        sql: String,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Write a table as a CSV file that Excel and Japanese CRM tools open as it is.
    ///
    /// TABLE is any table `conveyor query` sees: a mart (vip_birthdays, lapsing_customers,
    /// customer_movement, …), a dataset (orders, customers, …), quarantine_<dataset> or a
    /// forecast_* table. The file has a header row and CRLF line ends; timestamps are in
    /// the configured zone as YYYY-MM-DD HH:MM:SS, money is a plain decimal (12000), NULL
    /// is an empty field. It is written under a temporary name beside FILE and renamed
    /// over it when complete, so FILE is never half-written.
    ///
    /// Encodings: utf-8-bom (default) opens in Excel, Google Sheets, Shopify and LINE;
    /// cp932 (Shift_JIS) is for tools that read only that, such as many Japanese
    /// cart and CRM uploads (カラーミー). CP932 lacks some characters (𠮷, emoji): by default
    /// such a value stops the export naming its row and column; --unmappable replace
    /// writes '?' instead and counts the values changed.
    ///
    /// Examples:
    ///   conveyor export vip_birthdays --out vip_birthdays.csv
    ///   conveyor export lapsing_customers --out lapsing.csv --encoding cp932 --where "is_vip"
    ///   conveyor export customer_movement --out moved_up.csv --where "movement = 'up'"
    ///   conveyor export orders --out march.csv --where "order_month = '2025-03'" --limit 1000
    #[command(verbatim_doc_comment)]
    Export {
        /// The table to write.
        table: String,
        /// The CSV file to write (replaced if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// utf-8-bom or cp932.
        #[arg(long, value_enum, default_value = "utf-8-bom")]
        encoding: crate::export::Encoding,
        /// Only rows meeting this SQL condition on the table's columns.
        #[arg(long = "where", value_name = "CONDITION")]
        filter: Option<String>,
        /// At most this many rows.
        #[arg(long)]
        limit: Option<usize>,
        /// A character the encoding cannot write: error (stop, naming row and column) or
        /// replace (write '?').
        #[arg(long, value_enum, default_value = "error")]
        unmappable: crate::export::Unmappable,
        /// Print what was written as JSON: {table, path, encoding, rows, columns, bytes,
        /// replaced_values, seconds}.
        #[arg(long)]
        json: bool,
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
        lang: crate::report::Lang,
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
    /// Tables: the datasets (orders, customers, touchpoints, nps_responses,
    /// subscription_events) and their quarantine_<dataset> tables, every mart
    /// (customer_summary, cohort_retention, monthly_kpis, …),
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
    /// Run a node of an Apache DataFusion Ballista cluster for `[engine] url` (docs/scale.md).
    ///
    /// The same binary is the scheduler, every executor and the client, so their versions
    /// match and every executor knows the marts' functions (exact_percentile, sbg_fit, …).
    /// Executors read the warehouse themselves: a folder all machines mount at the same
    /// path, or an object store reached with each process's own environment (AWS_*,
    /// GOOGLE_*, AZURE_*) and the [storage.options] of its --config.
    ///
    /// Examples:
    ///   conveyor cluster scheduler --bind 0.0.0.0:50050
    ///   conveyor cluster executor --scheduler scheduler:50050 --concurrent-tasks 8
    ///   conveyor marts --engine ballista://scheduler:50050
    #[cfg(feature = "ballista")]
    Cluster {
        #[command(subcommand)]
        node: ClusterCommand,
    },
}

/// `conveyor cluster …`.
#[cfg(feature = "ballista")]
#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Ballista's scheduler: plans each client's queries and hands their tasks to the
    /// executors. Prints one line once it listens.
    Scheduler {
        /// Listen address; port 0 picks a free port (printed).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
        /// Host name executors and clients reach it by, if not the bind address.
        #[arg(long)]
        external_host: Option<String>,
        /// An executor without a heartbeat for this long is lost: its tasks run elsewhere.
        #[arg(long, default_value_t = 60)]
        executor_timeout_seconds: u64,
    },
    /// Ballista's executor: runs tasks the scheduler gives it, serves their results to the
    /// other executors and the client. Prints one line with its ports.
    Executor {
        /// The scheduler, host:port.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: String,
        /// Listen address of its two services.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Host name the scheduler, the other executors and the client reach it by, if
        /// not the bind address (in Kubernetes, the pod's DNS name).
        #[arg(long)]
        external_host: Option<String>,
        /// Arrow Flight port (results and shuffles); 0 picks a free one.
        #[arg(long, default_value_t = 50051)]
        flight_port: u16,
        /// gRPC port (tasks from the scheduler); 0 picks a free one.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks at once (default: one per core).
        #[arg(long, default_value_t = 0)]
        concurrent_tasks: usize,
        /// Folder for shuffle and spill files (default: a temporary folder, removed on exit).
        #[arg(long)]
        work_dir: Option<String>,
        /// Memory pool in MiB, shared by its tasks (default: 70 % of the machine's or
        /// container's memory; 0: no limit).
        #[arg(long)]
        memory_limit_mib: Option<u64>,
        /// Seconds between heartbeats to the scheduler.
        #[arg(long, default_value_t = 15)]
        heartbeat_seconds: u64,
        /// Keep trying to reach the scheduler at start for this long.
        #[arg(long, default_value_t = 60)]
        connect_timeout_seconds: u16,
    },
}
