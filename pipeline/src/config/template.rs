//! The commented example that `conveyor init` writes. It states every default, so a user
//! edits what differs; a unit test keeps it in step with [`super::Config::default`].

pub const EXAMPLE: &str = r#"# conveyor.toml — every key is optional; the values shown are the defaults.

[storage]
# Where order exports are read from: a local path or an object-store URL
# (file:///data/exports, s3://bucket/exports, gs://bucket/x, az://container/x, memory://x).
# Credentials come from each cloud's standard environment variables
# (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION, GOOGLE_APPLICATION_CREDENTIALS,
# AZURE_STORAGE_ACCOUNT_NAME / AZURE_STORAGE_ACCOUNT_KEY, ...).
source = "./exports"
# Where the Parquet warehouse is written (same URL forms).
warehouse = "./warehouse"
# Attempts per object-store call on transient errors, and the first backoff (doubling,
# with jitter).
retry_attempts = 5
retry_base_ms = 100

# Extra object-store options; "env:NAME" reads the environment variable NAME.
[storage.options]
# aws_endpoint = "http://127.0.0.1:9000"     # an S3-compatible server (MinIO, moto, ...)
# aws_allow_http = "true"
# aws_secret_access_key = "env:MY_SECRET"

[time]
# Timestamps without an offset are local time here; days, months and years are bucketed here.
zone = "Asia/Tokyo"

[money]
# ISO 4217 code. Amounts are stored exactly as DECIMAL(18, minor_units).
currency = "JPY"
# minor_units = 2                            # needed only for currencies Conveyor does not know

[datasets.orders]
# Key prefix under storage.source.
prefix = "orders/"
# auto (by file name: .csv, .csv.gz, .jsonl, .ndjson, .parquet, .xlsx) | csv | jsonl | parquet | xlsx
format = "auto"
# auto (UTF-8 with or without BOM, else CP932) | utf-8 | cp932
encoding = "auto"
delimiter = ","
# One row per order or per product line: auto (line items where a platform preset's
# headers are recognised) | order | line. Line items fill orders and order_lines.
# grain = "auto"
# preset = "shopify"                         # shopify | rakuten | futureshop | colorme | base

# Map your export's headers to Conveyor's fields. Common Japanese and English headers
# (注文番号, 受注番号, 顧客ID, 会員ID, 注文日時, 合計金額, 請求金額, ステータス, order_id, ...)
# are recognised without this section.
[datasets.orders.columns]
# order_id = "伝票番号"
# customer_id = "お客様番号"
# ordered_at = ["受付日時", "注文日"]
# amount = "税込合計"

[ingest]
# Rows per Parquet row group, and the zstd level of warehouse files. An export's rows of
# one month, when there are a quarter of a row group of them or more, are encoded while
# other exports are still being read, and can become a file of their own.
row_group_rows = 262144
zstd_level = 3
# Rows of one run held in memory; beyond this they are staged in spill files under
# [engine] spill_dir (or the system temporary folder). About 150 MB per million rows.
memory_rows = 1000000

[marts]
# The instant the marts describe; default: the latest counted order.
# as_of = "2025-12-31T23:59:59+09:00"
# Order statuses that do not count (after normalisation: キャンセル → cancelled, 返品 → returned).
excluded_statuses = ["cancelled", "returned"]
# Fan-matrix spend buckets: edges in whole currency units (0–10k, 10k–30k, …, 80k+).
spend_bucket_edges = [10000, 30000, 50000, 80000]
# Fan-matrix movement (customer_movement, fan_matrix_movement): each customer's cell at
# as_of − this many calendar months against their cell at as_of.
movement_period_months = 12
# Care list lapsing_customers: customers at most this many days past their stage's 80th
# percentile time to the next order (0: everyone past it, most of them long gone).
lapsing_window_days = 90
# VIP: total spend ≥ vip_min_amount or ≥ vip_min_orders orders, top vip_top_n by spend.
vip_min_amount = 80000
vip_min_orders = 5
vip_top_n = 100
# Member ranks by total spend; customers below the lowest rank get base_rank.
base_rank = "Regular"
member_ranks = [
  { name = "Gold", min_amount = 30000 },
  { name = "Platinum", min_amount = 80000 },
  { name = "Diamond", min_amount = 200000 },
]
# Subscriptions (subscription_sbg): start cohorts pooled per "month", "quarter" or "year" for
# the sBG fits, and the months of projected survival.
subscription_cohort_group = "quarter"
subscription_projection_months = 24
# Cancellation reasons (cancellation_reasons): the first category with a keyword the reason
# contains (compared after NFKC and lowercasing); no match → other, no reason → unknown.
cancellation_categories = [
  { category = "doesnt_suit_or_no_effect", keywords = ["合わな", "効果", "実感", "効かな", "肌荒れ", "かぶれ"] },
  { category = "product_left_over", keywords = ["余っ", "余る", "余り", "残っ", "在庫", "使い切れ", "溜ま", "たまっ"] },
  { category = "too_expensive", keywords = ["高い", "高額", "価格", "値段", "料金", "金額", "値上", "負担"] },
]
# The method's health targets.
target_f2_rate = 0.87
target_ltv_365 = 18000
target_repeat_rate = 0.6
# The 1-3-2 rule (touchpoint_132, f2_followup): approaches and offers a first-time buyer
# needs within rule_132_window_days of the first order.
rule_132_window_days = 30
rule_132_min_approaches = 3
rule_132_min_offers = 2
# A folder of extra or replacement mart .sql files.
# sql_dir = "./my-marts"
# How the customer state the core marts read is computed: "pass" (one read of the orders,
# each customer walked once in Rust) or "sql" (the definitions in sql/state/; slower).
customer_state = "pass"

[schedule]
# When `conveyor schedule` runs the pipeline, in time.zone (5 fields, or 6 with seconds).
cron = ["0 3 * * *"]
# A run lock older than this is treated as left by a dead run.
lock_stale_minutes = 360
# Retries of a failed scheduled run, the first after retry_delay_secs, then doubling.
retries = 2
retry_delay_secs = 300

[forecast]
# Scenario used when `conveyor forecast` gets no --scenario: claim_87 (built in: F2 held
# at 87 %, everything else calibrated), baseline (calibrated values only), or one of yours.
scenario = "claim_87"
# Monte Carlo paths, seed and threads (0 = one per core). The same seed and data give
# bit-identical results on any number of threads.
paths = 10000
seed = 42
threads = 0
# Horizon and the target: annual sales (major currency units) within target_years.
horizon_months = 48
target_annual_sales = 1000000000.0
target_years = 4
# Draw parameter uncertainty per path (false: process noise only).
uncertainty = true
# Purchase-ladder stages (orders 1..max_stages; higher stages are pooled).
max_stages = 5
# The goal seek: new customers per month needed for these probabilities of reaching the
# target, searched up to goal_seek_max_multiplier × the scenario's acquisition.
goal_seek_probabilities = [0.5, 0.8]
goal_seek_max_multiplier = 1000.0
# Paths of the F2 sweep and the goal seek (their probabilities are precise to about
# ±0.4 points at 20,000, whatever `paths` is).
analysis_paths = 20000
# The model of the existing customers: ladder, bgnbd (BG/NBD + Gamma-Gamma) or auto (the
# one with the smaller error in the rolling backtests below; BG/NBD when there are fewer
# than two). docs/forecast_validation.md says how they did on real logs.
model = "auto"
# Rolling backtests on your own history: up to validation_origins cut-offs,
# validation_step_months apart, each with validation_min_training_months of history
# before it, compared over up to validation_horizon_months months (forecast_validation).
validation_origins = 4
validation_step_months = 3
validation_horizon_months = 9
validation_min_training_months = 9
# Which existing first-time buyers an F2 override reaches: those whose first order is less
# than this many months old (0: none, only customers acquired in the forecast, so the
# first forecast month continues from the history).
f2_window_months = 0
# The ladder: a slow latent class per stage (off: it overfitted short real histories), and
# month-of-year factors from 24+ months of history (kept only when significant).
slow_class = false
seasonality = true
# Where the history begins: "auto" (decided from the data), "launch" (every customer's
# first order in the data is their first) or "mid_life" (an export of the last N years: the
# first month's customers may have bought before, so they are projected but do not
# calibrate the ladder).
history_start = "auto"

# Your own scenarios override calibrated values; every key is optional:
# f2_rate, repeat_rates, hazards, base_new_customers, growth, acquisition, dispersion,
# first_aov, repeat_aov, horizon_months, target_annual_sales, target_years, uncertainty,
# compliance_132 (instead of f2_rate: the share of first-time buyers given the 1-3-2
# follow-up; F2 then moves with the F2 of compliant and non-compliant buyers measured in
# touchpoint_132_summary, an observational difference, not a proven effect).
# [forecast.scenarios.push_acquisition]
# f2_rate = 0.87
# base_new_customers = 12000
# growth = 0.01
# [forecast.scenarios.follow_up_80]
# compliance_132 = 0.8

[engine]
# Memory the query engine may hold per command, in MiB. Unset (the default): half of the
# machine's memory (the physical memory, or the container's cgroup limit when smaller);
# 0 = no limit. Sorts and aggregations share it fairly and spill to temporary files past
# their share; what cannot spill (hash-join build sides) fails with "Resources exhausted"
# instead of growing. For `serve`, it keeps one heavy BI query from taking the machine down.
# memory_limit_mib = 6144
# Where spill files go (default: the system's temporary folder).
# spill_dir = "/var/tmp/conveyor"
# Where the marts and `conveyor query` run: unset (the default) in this process, or an
# Apache DataFusion Ballista cluster started with `conveyor cluster scheduler|executor`
# from a binary built with the `ballista` feature (docs/scale.md). Also --engine URL.
# url = "ballista://scheduler.internal:50050"
# Settings for the cluster's sessions (DataFusion's datafusion.* and Ballista's ballista.*
# keys), applied after Conveyor's own; docs/scale.md says which Conveyor sets and why.
# On a cluster, the longest one mart's job may run before the run fails naming the mart
# (default 3600 s; 0 = no limit): Ballista 55 can leave a job waiting forever after it
# loses an executor.
# mart_timeout_seconds = 3600
# [engine.settings]
# "ballista.shuffle.compression.codec" = "zstd"

[serve]
# `conveyor serve`: the warehouse over the PostgreSQL wire protocol, for BI tools and psql.
# Listen address: loopback by default; "0.0.0.0" exposes it to the network (use TLS then).
bind = "127.0.0.1"
port = 5433
# A statement running longer than this is cancelled; a result larger than this is refused.
query_timeout_secs = 300
max_rows = 1000000
# TLS: a PEM certificate chain and a PKCS#8 PEM private key.
# tls_cert = "/etc/conveyor/server.crt"
# tls_key = "/etc/conveyor/server.key"

# Who may connect. Passwords are never written here: each user's password is read from the
# environment variable it names when the server starts; a user whose variable is unset
# cannot log in, and the server does not start if no user has a password.
[[serve.users]]
name = "conveyor"
password_env = "CONVEYOR_SERVE_PASSWORD"
# [[serve.users]]
# name = "bi"
# password_env = "CONVEYOR_BI_PASSWORD"
"#;
