//! `schoon admin`: manage tenants, organisations, API keys, hash lists and the audit log
//! directly on a data directory's database, or with `--database` on any SQLite file or
//! PostgreSQL (the server need not run; a running server picks the changes up within its poll
//! interval). Every change is audited as `cli:<user>`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use schoon_core::policy::{DEFAULT_HIT_DEADLINE_HOURS, DEFAULT_MIN_QUALITY, DEFAULT_PDQ_RADIUS};
use schoon_core::{Category, ListKind, SignalType, SignalValue};
use server::listfile::ParseOptions;
use store::{Actor, ListUpdate, NewList, NewTenant, RevokeSelector, SqliteStore, Store};

/// Arguments of `schoon admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Data directory of the service; default `./schoon-data`.
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
    /// Database instead of the data directory's `schoon.db`: a `postgres://…` URL or a SQLite
    /// file. Without `--data` and `--database`, `SCHOON_DATABASE_URL` is used if set.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// What to manage.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Tenants (hotlines / national instances).
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Organisations (providers that check).
    #[command(subcommand)]
    Org(OrgCmd),
    /// Organisations' API keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Instance admin tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Hash lists.
    #[command(subcommand)]
    List(ListCmd),
    /// Recorded hits.
    Hits {
        /// Tenant id.
        #[arg(long)]
        tenant: i64,
        /// Only this organisation.
        #[arg(long)]
        org: Option<i64>,
        /// At most this many, newest first.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Web UI users (the first admin, analysts, providers…).
    #[command(subcommand)]
    User(UserCmd),
    /// Apply pending database migrations and print the applied versions (run before starting
    /// several nodes on a new version).
    Migrate,
    /// Online backup of a SQLite database to DEST (a new file); for PostgreSQL prints the
    /// `pg_dump` command to use and exits 2.
    Backup {
        /// The backup file to create (never overwritten).
        dest: PathBuf,
    },
}

/// Web UI user commands.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user; the password is read from the first line of stdin.
    Add {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// Login name.
        #[arg(long)]
        username: String,
        /// admin, analyst, verifier, police, regulator or provider.
        #[arg(long)]
        role: String,
        /// Name shown in the UI (default: the user name).
        #[arg(long)]
        display_name: Option<String>,
        /// Organisation id (provider users only).
        #[arg(long)]
        org: Option<i64>,
        /// nl or en.
        #[arg(long, default_value = "nl")]
        language: String,
        /// Also set up a TOTP second factor and print its secret once.
        #[arg(long)]
        totp: bool,
    },
    /// List a tenant's users.
    List {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
}

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Create a tenant.
    Create {
        /// Unique short name.
        name: String,
        /// ISO country code.
        #[arg(long)]
        country: Option<String>,
        /// Hours a provider has to act on a hit.
        #[arg(long, default_value_t = DEFAULT_HIT_DEADLINE_HOURS)]
        deadline_hours: i64,
    },
    /// List tenants.
    List,
}

/// Organisation commands.
#[derive(Debug, Subcommand)]
pub enum OrgCmd {
    /// Create an organisation.
    Create {
        /// Tenant id.
        #[arg(long)]
        tenant: i64,
        /// Name.
        name: String,
    },
    /// List a tenant's organisations.
    List {
        /// Tenant id.
        #[arg(long)]
        tenant: i64,
    },
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Create a check key for an organisation (the secret is printed once).
    Create {
        /// Organisation id.
        #[arg(long)]
        org: i64,
        /// Label.
        #[arg(long, default_value = "api key")]
        label: String,
    },
    /// List a tenant's keys.
    List {
        /// Tenant id.
        #[arg(long)]
        tenant: i64,
    },
    /// Revoke a key.
    Revoke {
        /// Key id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// Admin token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create an instance admin token (printed once).
    Create {
        /// Label.
        #[arg(long, default_value = "admin token")]
        label: String,
    },
}

/// List commands.
#[derive(Debug, Subcommand)]
pub enum ListCmd {
    /// Create a list.
    Create {
        /// Tenant id.
        #[arg(long)]
        tenant: i64,
        /// Name.
        name: String,
        /// `known` or `allow`.
        #[arg(long)]
        kind: String,
        /// PDQ match radius.
        #[arg(long, default_value_t = DEFAULT_PDQ_RADIUS)]
        radius: u32,
        /// Minimum PDQ quality.
        #[arg(long, default_value_t = DEFAULT_MIN_QUALITY)]
        min_quality: u32,
    },
    /// List a tenant's lists.
    List {
        /// Tenant id.
        #[arg(long)]
        tenant: i64,
    },
    /// Change a list's radius or minimum quality.
    Set {
        /// List id.
        id: i64,
        /// PDQ match radius.
        #[arg(long)]
        radius: Option<u32>,
        /// Minimum PDQ quality.
        #[arg(long)]
        min_quality: Option<u32>,
    },
    /// Import a list file (all or nothing; bad lines are reported by number).
    Upload {
        /// List id.
        id: i64,
        /// The file.
        file: PathBuf,
        /// Signal type of a plain one-hash-per-line file.
        #[arg(long = "type")]
        signal_type: Option<String>,
        /// Category for rows without one.
        #[arg(long)]
        category: Option<String>,
        /// Provenance: source.
        #[arg(long)]
        source: Option<String>,
        /// Provenance: assessor.
        #[arg(long)]
        assessor: Option<String>,
    },
    /// Revoke entries by id or by `type:hex` value, with a reason.
    Revoke {
        /// List id.
        id: i64,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Entry ids.
        #[arg(long = "entry")]
        entries: Vec<i64>,
        /// Values as `type:hex`.
        #[arg(long = "value")]
        values: Vec<String>,
    },
}

/// Audit commands.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Re-compute the hash chain (same as `schoon audit verify`).
    Verify,
    /// Print events as JSON lines.
    Show {
        /// After this id.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

fn print<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}

fn print_all<T: serde::Serialize>(v: &[T]) -> anyhow::Result<()> {
    for x in v {
        print(x)?;
    }
    Ok(())
}

/// Runs an admin command.
pub fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    use crate::cmd::dbops::{self, Target};
    let target = Target::resolve(args.database, args.data);
    match &args.command {
        AdminCommand::Migrate => return dbops::migrate(&target),
        AdminCommand::Backup { dest } => return dbops::backup(&target, dest),
        _ => {}
    }
    if let Target::Sqlite(path) = &target
        && let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        match target {
            Target::Sqlite(path) => {
                let store = SqliteStore::open(&path)
                    .await
                    .context("opening the database")?;
                let code = exec(&store, args.command).await;
                store.close().await;
                code
            }
            Target::Postgres(url) => {
                let store = store::PgStore::open(&url)
                    .await
                    .context("opening the database")?;
                let code = exec(&store, args.command).await;
                store.close().await;
                code
            }
        }
    })
}

async fn exec(store: &dyn Store, cmd: AdminCommand) -> anyhow::Result<ExitCode> {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let actor = Actor(format!("cli:{user}"));
    match cmd {
        AdminCommand::Tenant(TenantCmd::Create {
            name,
            country,
            deadline_hours,
        }) => print(
            &store
                .create_tenant(
                    &actor,
                    NewTenant {
                        name,
                        country,
                        hit_deadline_hours: deadline_hours,
                    },
                )
                .await?,
        )?,
        AdminCommand::Tenant(TenantCmd::List) => print_all(&store.tenants().await?)?,
        AdminCommand::Org(OrgCmd::Create { tenant, name }) => {
            print(&store.create_org(&actor, tenant, &name).await?)?
        }
        AdminCommand::Org(OrgCmd::List { tenant }) => print_all(&store.orgs(tenant).await?)?,
        AdminCommand::Key(KeyCmd::Create { org, label }) => {
            print(&server::ops::create_check_key(store, &actor, org, &label).await?)?
        }
        AdminCommand::Key(KeyCmd::List { tenant }) => {
            print_all(&store.api_keys(Some(tenant)).await?)?
        }
        AdminCommand::Key(KeyCmd::Revoke { id, reason }) => {
            print(&store.revoke_api_key(&actor, &id, &reason).await?)?
        }
        AdminCommand::Token(TokenCmd::Create { label }) => {
            print(&server::ops::create_admin_token(store, &actor, &label).await?)?
        }
        AdminCommand::List(ListCmd::Create {
            tenant,
            name,
            kind,
            radius,
            min_quality,
        }) => {
            let kind: ListKind = kind.parse()?;
            print(
                &store
                    .create_list(
                        &actor,
                        NewList {
                            tenant_id: tenant,
                            name,
                            kind,
                            pdq_radius: radius,
                            min_quality,
                        },
                    )
                    .await?,
            )?
        }
        AdminCommand::List(ListCmd::List { tenant }) => print_all(&store.lists(tenant).await?)?,
        AdminCommand::List(ListCmd::Set {
            id,
            radius,
            min_quality,
        }) => print(
            &store
                .update_list(
                    &actor,
                    id,
                    ListUpdate {
                        pdq_radius: radius,
                        min_quality,
                    },
                )
                .await?,
        )?,
        AdminCommand::List(ListCmd::Upload {
            id,
            file,
            signal_type,
            category,
            source,
            assessor,
        }) => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let opts = ParseOptions {
                signal_type: signal_type
                    .as_deref()
                    .map(str::parse::<SignalType>)
                    .transpose()?,
                category: category
                    .as_deref()
                    .map(str::parse::<Category>)
                    .transpose()?,
                source,
                assessor,
            };
            let label = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match server::ops::import_list_file(store, &actor, id, &bytes, &opts, &label).await {
                Ok(report) => print(&report)?,
                Err(problem) => {
                    eprintln!("schoon: {}", problem.detail);
                    for e in &problem.errors {
                        match e.line {
                            Some(l) => eprintln!("{}:{l}: {}", file.display(), e.detail),
                            None => eprintln!("{}: {}", file.display(), e.detail),
                        }
                    }
                    return Ok(ExitCode::from(1));
                }
            }
        }
        AdminCommand::List(ListCmd::Revoke {
            id,
            reason,
            entries,
            values,
        }) => {
            let which = match (entries.is_empty(), values.is_empty()) {
                (false, true) => RevokeSelector::Ids(entries),
                (true, false) => {
                    let mut v = Vec::new();
                    for s in values {
                        let Some((t, h)) = s.split_once(':') else {
                            bail!("--value must be type:hex, got {s:?}");
                        };
                        v.push(SignalValue::parse(t.parse()?, h)?);
                    }
                    RevokeSelector::Values(v)
                }
                _ => bail!("give either --entry or --value"),
            };
            let revoked = store.revoke_entries(&actor, id, which, &reason).await?;
            print(&serde_json::json!({"revoked": revoked}))?;
        }
        AdminCommand::Hits { tenant, org, limit } => {
            print_all(&store.hits(tenant, org, limit).await?)?
        }
        AdminCommand::User(cmd) => user_cmd(store, &actor, cmd).await?,
        // Alias of `schoon audit verify`.
        AdminCommand::Audit(AuditCmd::Verify) => {
            return crate::cmd::audit::verify_and_print(store).await;
        }
        AdminCommand::Audit(AuditCmd::Show { after, limit }) => {
            print_all(&store.audit_events(after, limit).await?)?
        }
        // Dispatched in `run` before a store is opened (they choose their own database).
        AdminCommand::Migrate | AdminCommand::Backup { .. } => {
            bail!("migrate and backup are handled before opening the store")
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn tenant_id(store: &dyn Store, tenant: &str) -> anyhow::Result<i64> {
    let tenants = store.tenants().await?;
    tenants
        .iter()
        .find(|t| t.name == tenant || t.id.to_string() == tenant)
        .map(|t| t.id)
        .with_context(|| format!("no tenant {tenant:?}"))
}

async fn user_cmd(store: &dyn Store, actor: &Actor, cmd: UserCmd) -> anyhow::Result<()> {
    use store::accounts::{Language, NewUser, Role};
    match cmd {
        UserCmd::Add {
            tenant,
            username,
            role,
            display_name,
            org,
            language,
            totp,
        } => {
            let tenant_id = tenant_id(store, &tenant).await?;
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let language: Language = language.parse().map_err(anyhow::Error::msg)?;
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            if password.chars().count() < server::ui::session::MIN_PASSWORD {
                bail!(
                    "the password must be at least {} characters",
                    server::ui::session::MIN_PASSWORD
                );
            }
            let password_hash =
                tokio::task::spawn_blocking(move || server::ui::session::hash_password(&password))
                    .await?
                    .map_err(anyhow::Error::msg)?;
            let user = store
                .create_user(
                    actor,
                    NewUser {
                        tenant_id,
                        org_id: org,
                        display_name: display_name.unwrap_or_else(|| username.clone()),
                        username,
                        role,
                        password_hash,
                        language,
                    },
                )
                .await?;
            if totp {
                let secret = server::ui::totp::new_secret();
                store.set_totp(actor, user.id, Some(&secret)).await?;
                eprintln!(
                    "TOTP secret (shown once): {secret}\n{}",
                    server::ui::totp::uri("schoon", &user.username, &secret)
                );
            }
            print(&user)?;
        }
        UserCmd::List { tenant } => {
            let tenant_id = tenant_id(store, &tenant).await?;
            print_all(&store.users(tenant_id).await?)?;
        }
    }
    Ok(())
}
