//! `idpool`: a self-hosted identity server that speaks Amazon Cognito's protocols.

use clap::{Parser, Subcommand};
use idpool_server::config::ServeArgs;

#[derive(Parser)]
#[command(
    name = "idpool",
    version,
    about = "A self-hosted, Cognito-compatible identity server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (SQLite in ./idpool-data unless --database-url says otherwise).
    Serve(ServeArgs),
    /// Print the messages (codes, temporary passwords) idpool has sent, oldest first.
    Outbox {
        #[command(flatten)]
        args: ServeArgs,
        /// Only this pool.
        #[arg(long)]
        user_pool_id: Option<String>,
        /// Only this username.
        #[arg(long)]
        username: Option<String>,
    },
    /// Print the cognito-idp operations table (implemented or not) as Markdown.
    Operations,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IDPOOL_LOG")
                // s3s logs every refused request (AccessDenied, a bad signature) at
                // ERROR; those are the clients' errors, answered to them, not ours.
                .unwrap_or_else(|_| "info,s3s=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => {
                let config = args.resolve()?;
                let listener = tokio::net::TcpListener::bind(config.listen)
                    .await
                    .map_err(|e| format!("binding {}: {e}", config.listen))?;
                idpool_server::run(config, listener).await
            }
            Command::Outbox {
                args,
                user_pool_id,
                username,
            } => {
                let config = args.resolve()?;
                let state = idpool_server::build_state(config, String::new()).await?;
                let rows = state
                    .store
                    .list_messages(user_pool_id.as_deref(), username.as_deref())
                    .await
                    .map_err(|e| e.to_string())?;
                for m in rows {
                    println!("{}", idpool_server::ops::outbox_json(&m));
                }
                Ok(())
            }
            Command::Operations => {
                print!("{}", idpool_server::api::operations_table());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idpool: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
