//! The `orderhub` command: serve, migrate, check, schema, seed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use orderhub::{Application, Config, store};

/// mimalloc instead of glibc's malloc: checkout's path allocates small, short-lived buffers on
/// many threads (tokio's and SQLite's), where glibc spends a tenth of the CPU (measured with the
/// load_checkout scenario: 840 to 950 checkouts/s when the CPU is the limit).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "orderhub",
    version,
    about = "The order service of a food-trading platform (GraphQL subgraph + DFC API)"
)]
struct Cli {
    /// TOML configuration file (default: ./orderhub.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (migrating the database first).
    Serve {
        /// Load this catalogue seed file before serving.
        #[arg(long)]
        seed: Option<PathBuf>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Compare the kept sums of what producers hold with the orders themselves; exits non-zero
    /// and names each product where they differ.
    Check,
    /// Print the federation SDL (what schema.graphql holds).
    Schema,
    /// Load a catalogue seed file into the database and exit.
    Seed { file: PathBuf },
    /// Print a development token signed with `auth.hs256_secret` (`ORDERHUB_AUTH_HS256_SECRET`).
    Token {
        /// Who the token is for (the subject claim).
        #[arg(long)]
        subject: String,
        /// A role, e.g. customer, trader_staff, producer_staff, operator (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// An enterprise the person works for (repeatable).
        #[arg(long = "enterprise")]
        enterprises: Vec<String>,
        /// How long the token is valid, in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_secs: u64,
    },
    /// Run a trader and two producer platforms on loopback, talking DFC to each other.
    Demo {
        /// The trader's port; the producers take the next two (0: any free ports).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Where the three SQLite databases live.
        #[arg(long, default_value = "data/demo")]
        data_dir: PathBuf,
        /// The producers' catalogues (enterprises green-acres and hillside-mill); by default the
        /// demo catalogue built into the binary.
        #[arg(long)]
        seed: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Schema = cli.command {
        use std::io::Write;
        return match std::io::stdout().write_all(orderhub::graphql::sdl().as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("orderhub: writing the schema: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("orderhub: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Token { subject, roles, enterprises, ttl_secs } = &cli.command {
        use std::io::Write;
        let Some(secret) = &config.auth.hs256_secret else {
            eprintln!("orderhub: set auth.hs256_secret (or ORDERHUB_AUTH_HS256_SECRET) to mint development tokens");
            return ExitCode::FAILURE;
        };
        return match orderhub::auth::dev_token(secret, &config.auth, subject, roles, enterprises, *ttl_secs)
            .map_err(|e| e.to_string())
            .and_then(|token| writeln!(std::io::stdout(), "{token}").map_err(|e| e.to_string()))
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("orderhub: {e}");
                ExitCode::FAILURE
            }
        };
    }
    orderhub::telemetry::init(config.log_format);
    match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "orderhub failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { seed } => {
            if seed.is_some() {
                config.seed_file = seed;
            }
            if config.clients.is_empty() {
                tracing::warn!(
                    "no DFC clients configured: every DFC API call will be refused (see README, ORDERHUB_CLIENTS)"
                );
            }
            let app = Application::build(config).await?;
            tracing::info!(
                address = %app.address(),
                graphql = format!("{}/graphql", app.base_url()),
                dfc = format!("{}/api/dfc/enterprises", app.base_url()),
                "orderhub listening"
            );
            app.serve(orderhub::shutdown_signal()).await
        }
        Command::Migrate => {
            let store = store::Store::connect_with(&config.database_url, config.database_max_connections).await?;
            store.migrate().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Check => {
            let store = store::Store::connect_with(&config.database_url, config.database_max_connections).await?;
            store.migrate().await?;
            let drift = store.held_demand_drift().await?;
            for d in &drift {
                tracing::error!(
                    session = %d.sales_session_id,
                    peer = %d.peer_id,
                    product = %d.product_iri,
                    offer = %d.offer_iri,
                    kept = d.kept,
                    recomputed = d.recomputed,
                    "held demand differs from the orders"
                );
            }
            anyhow::ensure!(drift.is_empty(), "{} held sum(s) differ from the orders", drift.len());
            tracing::info!("held sums agree with the orders");
            Ok(())
        }
        Command::Seed { file } => {
            let store = store::Store::connect_with(&config.database_url, config.database_max_connections).await?;
            store.migrate().await?;
            let count = store::seed::load_file(&store, &file).await?;
            tracing::info!(products = count, "seed loaded");
            Ok(())
        }
        Command::Demo { port, data_dir, seed } => {
            orderhub::demo::run(orderhub::demo::DemoOptions { port, data_dir, seed_file: seed }).await
        }
        Command::Schema | Command::Token { .. } => Ok(()),
    }
}
