//! `fulfil token new`: a fresh bearer token and the auth-file entry that admits it.

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Print a fresh random token (give it to the client) and the auth-file entry that admits
    /// it (paste it into the file; it holds the token's SHA-256, never the token).
    New {
        /// The token's name, written in audit lines.
        #[arg(long)]
        name: String,
        /// What the token may do.
        #[arg(long, value_enum)]
        role: fulfil::service::Role,
    },
}

pub fn run(command: TokenCommand) -> anyhow::Result<()> {
    let TokenCommand::New { name, role } = command;
    anyhow::ensure!(!name.trim().is_empty(), "--name: a token needs a name");
    let (token, entry) = fulfil::service::new_token(&name, role);
    println!("# The token (give it to the client once; it is not stored anywhere):");
    println!("{token}");
    println!();
    println!("# Add to the --auth-file, then send SIGHUP to the server:");
    print!("{entry}");
    Ok(())
}
