//! `iscriviti user`: staff accounts from the server's shell.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use clap::Subcommand;

use crate::config::Settings;
use crate::domain::{Lang, Password, Role, SubscriberEmail};
use crate::staff::{self, Actor, NewMember, StaffError};
use crate::startup;

/// The environment variable a password can come from (or else standard input); never a flag,
/// which other users of the machine could read in the process list.
const PASSWORD_VAR: &str = "ISCRIVITI_PASSWORD";

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a staff account. The password (at least 12 characters) comes from the
    /// ISCRIVITI_PASSWORD environment variable or from the first line of standard input.
    Create {
        email: String,
        /// admin (everything) or editor (articles, feeds, digests).
        #[arg(long)]
        role: String,
        /// The language of the account's pages: it or en.
        #[arg(long, default_value = "it")]
        language: String,
    },
    /// Show every staff account.
    Ls,
    /// Disable an account: it cannot sign in, and its sessions end at once.
    Disable { email: String },
    /// Enable a disabled account.
    Enable { email: String },
    /// Set an account's password (from ISCRIVITI_PASSWORD or standard input); its sessions end.
    ResetPassword { email: String },
}

pub async fn user(settings: &Settings, cmd: UserCommand) -> anyhow::Result<()> {
    let ctx = startup::context(settings).await?;
    let actor = Actor::CommandLine;
    match cmd {
        UserCommand::Create {
            email,
            role,
            language,
        } => {
            let new = NewMember {
                email: SubscriberEmail::parse(&email)?,
                role: Role::parse_input(&role)?,
                language: Lang::parse(&language)?,
                password: Some(read_password()?),
            };
            let (member, _) = staff::create(&ctx, new, &actor).await.map_err(explain)?;
            println!(
                "created {} account {} (id {})",
                member.role, member.email, member.id
            );
        }
        UserCommand::Ls => {
            println!(
                "{:<40} {:<7} {:<4} {:<9} LAST SIGN-IN (UTC)",
                "EMAIL", "ROLE", "LANG", "STATE"
            );
            for m in staff::members(&ctx).await? {
                println!(
                    "{:<40} {:<7} {:<4} {:<9} {}",
                    m.email,
                    m.role,
                    m.language.code(),
                    if m.disabled { "disabled" } else { "active" },
                    m.last_login_at
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "never".into()),
                );
            }
        }
        UserCommand::Disable { email } => {
            let m = staff::member(&ctx, &SubscriberEmail::parse(&email)?)
                .await
                .map_err(explain)?;
            staff::set_disabled(&ctx, m.id, true, &actor)
                .await
                .map_err(explain)?;
            println!("disabled {}; their sessions have ended", m.email);
        }
        UserCommand::Enable { email } => {
            let m = staff::member(&ctx, &SubscriberEmail::parse(&email)?)
                .await
                .map_err(explain)?;
            staff::set_disabled(&ctx, m.id, false, &actor)
                .await
                .map_err(explain)?;
            println!("enabled {}", m.email);
        }
        UserCommand::ResetPassword { email } => {
            let m = staff::member(&ctx, &SubscriberEmail::parse(&email)?)
                .await
                .map_err(explain)?;
            let password = read_password()?;
            staff::reset_password(&ctx, m.id, password, &actor)
                .await
                .map_err(explain)?;
            println!(
                "new password set for {}; their sessions have ended",
                m.email
            );
        }
    }
    Ok(())
}

/// A staff error as the command's message.
fn explain(e: StaffError) -> anyhow::Error {
    match e {
        StaffError::Db(e) => e.into(),
        other => anyhow::anyhow!("{other}"),
    }
}

/// The new password: from the environment, else the first line of standard input (with a
/// prompt when it is a terminal).
fn read_password() -> anyhow::Result<Password> {
    let raw = match std::env::var(PASSWORD_VAR) {
        Ok(p) => p,
        Err(_) => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprint!(
                    "password (at least {} characters, shown as you type): ",
                    Password::MIN_CHARS
                );
                std::io::stderr().flush().ok();
            }
            let mut line = String::new();
            stdin
                .lock()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
    };
    Ok(Password::parse(&raw)?)
}
