//! The `goflix` command: parses the command line and hands over to the
//! library. No logic lives here.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Goflix: upload masters, transcode them to HLS and DASH, serve them.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every role in one process on embedded defaults.
    Serve,
    /// Run the control plane (API, event follower, outbox relay); needs RabbitMQ.
    ControlApi,
    /// Run the origin (manifests and media from object storage).
    Origin,
    /// Run a transcoding worker; needs RabbitMQ and object storage, no database.
    Transcoder {
        /// Jobs transcoded at the same time (also the RabbitMQ prefetch).
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
    },
    /// Run a remote transcoding runner: jobs and media over control-api's
    /// gRPC port only (registers with GOFLIX_RUNNER_TOKEN_FILE on first start).
    Runner {
        /// The control API's gRPC address, e.g. https://goflix.example:443.
        #[arg(long)]
        server: String,
        /// The name admins see in the runner list; the host name by default.
        #[arg(long)]
        name: Option<String>,
        /// Jobs transcoded at the same time.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
    },
    /// Run the database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Exit 0 when URL answers 2xx within 5 seconds (for container health checks).
    Healthcheck {
        /// The URL to probe, e.g. http://127.0.0.1:8080/healthz.
        url: String,
    },
    /// Internal: one job's media work, started by a transcoder worker.
    #[command(name = "transcode-child", hide = true)]
    TranscodeChild {
        /// The video whose master is transcoded (for `ps` and errors).
        #[arg(long)]
        video: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        /// The user's e-mail address (the login name).
        #[arg(long)]
        email: String,
        /// admin, uploader or viewer.
        #[arg(long)]
        role: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // No runtime: the child is one blocking transcode.
        Command::TranscodeChild { video } => goflix::cli::transcode_child(&video),
        command => run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("goflix: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve => goflix::cli::serve().await,
        Command::ControlApi => goflix::cli::control_api().await,
        Command::Origin => goflix::cli::origin().await,
        Command::Transcoder { concurrency } => goflix::cli::transcoder(concurrency).await,
        Command::Runner {
            server,
            name,
            concurrency,
        } => goflix::cli::runner(server, name, concurrency).await,
        Command::Migrate => goflix::cli::migrate().await,
        Command::User {
            command: UserCommand::Create { email, role },
        } => goflix::cli::create_user(&email, &role).await,
        Command::Healthcheck { url } => goflix::healthcheck::probe(&url).await,
        Command::TranscodeChild { video } => goflix::cli::transcode_child(&video),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;
    use std::collections::BTreeMap;

    /// `docs/interface.md`, whose CLI section lists every command.
    const INTERFACE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/interface.md"));

    /// Each command without subcommands, as `goflix user create`, with its
    /// arguments: `--long` flags and upper-case positionals (`URL`).
    fn commands(command: &clap::Command, path: String, out: &mut BTreeMap<String, Vec<String>>) {
        if command.has_subcommands() {
            for sub in command.get_subcommands() {
                commands(sub, format!("{path} {}", sub.get_name()), out);
            }
            return;
        }
        let arguments = command
            .get_arguments()
            .filter(|a| !["help", "version"].contains(&a.get_id().as_str()))
            .map(|a| match a.get_long() {
                Some(long) => format!("--{long}"),
                None => a.get_id().as_str().to_uppercase(),
            });
        out.insert(path, arguments.collect());
    }

    #[test]
    fn the_cli_section_lists_every_subcommand_and_argument() {
        let section = INTERFACE
            .split_once("<!-- cli -->\n")
            .and_then(|(_, rest)| rest.split_once("<!-- end of cli -->"))
            .expect("docs/interface.md has a table between <!-- cli --> and <!-- end of cli -->")
            .0;
        let mut documented = BTreeMap::new();
        for row in section.lines().skip(2) {
            let cells: Vec<&str> = row.split('|').collect();
            let spans = |cell: &str| -> Vec<String> {
                let spans = cell.split('`').skip(1).step_by(2);
                spans
                    .map(|s| s.split(' ').next().unwrap_or("").to_owned())
                    .collect()
            };
            let command = cells[1].trim().trim_matches('`').to_owned();
            documented.insert(command, spans(cells[2]));
        }
        let mut defined = BTreeMap::new();
        commands(&Cli::command(), "goflix".into(), &mut defined);
        assert_eq!(
            documented, defined,
            "docs/interface.md (CLI) must list every subcommand of src/main.rs with its arguments, and no other"
        );
    }
}
