//! MCP for AI agents: the tools a coding agent uses to take part in a channel — post, read,
//! catch up, wait for the next entry, see and ack alerts, look at a rollout, read the brief —
//! over stdio (`warroom mcp`) and at `/mcp` on the relay ([`http`]).
//!
//! It owns the tool definitions, their arguments ([`args`]) and their results ([`reply`]:
//! structured JSON plus a short text). It must not act on the cluster (promote, abort and the
//! like stay with the operator's command line), and it writes only through
//! [`crate::channel::Channel::post`], as every other writer does.
//!
//! # Who is calling
//! Every call acts as one [`Seat`]: a channel and a role. Over stdio the seat is fixed when the
//! server starts (`--channel`, `--as`); over HTTP the bearer token decides it per request,
//! read fresh each time, so a revoked token stops working at once.
//!
//! # Layout
//! - [`args`]: the tools' arguments and their schemas.
//! - [`read`]: `read` and `wait` arguments as a filter; `read` itself.
//! - [`reply`]: results and refusals.
//! - [`rollout`]: `rollout_get`, from a cluster or a directory (read only).
//! - [`http`]: the `/mcp` service and its token guard, for the relay.

pub mod args;
pub mod http;
pub mod read;
pub mod reply;
pub mod rollout;

use std::borrow::Cow;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, Implementation, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::alerts::{self, AlertStatus, QuestionStatus, State};
use crate::catchup::{self, Waited};
use crate::channel::store::PostOptions;
use crate::channel::{Author, Channel, Draft, Entry, Kind};
use args::{AckArgs, AlertsArgs, NoArgs, PostArgs, ReadArgs, RolloutGetArgs, WaitArgs};
use read::ReadQuery;
use reply::{entries_text, ok, refused, store_error};

/// The brief's resource URI.
pub const BRIEF_URI: &str = "warroom://brief";

/// Where a call acts: one channel, as one role.
#[derive(Debug, Clone)]
pub struct Seat {
    pub channel: Channel,
    pub role: Author,
}

/// How calls find their seat.
#[derive(Debug, Clone)]
enum Seats {
    /// Fixed for the whole session (stdio).
    Fixed(Seat),
    /// Put by the HTTP guard into each request's extensions (from its bearer token).
    PerRequest,
}

/// The MCP server: a cheap clone (one per HTTP request, one per stdio session).
#[derive(Debug, Clone)]
pub struct Warroom {
    seats: Seats,
    max_body: usize,
    /// Cancelled when the server shuts down: a `wait` in progress ends then.
    shutdown: CancellationToken,
    /// Where `rollout_get` reads (none: the tool says how to configure one).
    rollouts: Option<rollout::RolloutSource>,
    tool_router: ToolRouter<Self>,
}

/// The instructions a client gives its model with the tool list.
const INSTRUCTIONS: &str = "warroom is the coordination channel of a live operation: observers, \
operators and agents post entries (observation, alert, question, answer, decision, ...) with ids \
like pipeline#3. Read the brief first (tool brief): it names each role's lane. Use catchup to see \
what others wrote since you last looked, wait to block until the next entry you care about, \
alerts to see what is open, and post to write. Post in your lane; address a role with `to`; \
give a `key` to make a retry safe. Cluster actions (promote, abort) are the operator's.";

/// `rollout_get` on a stdio server started without a source.
const STDIO_READS_NO_ROLLOUTS: &str = "this server reads no Rollouts: start it as `warroom mcp --from-dir DIR` (manifests) or with a kubeconfig it can use (`--kubeconfig FILE`, `--context NAME`)";

/// `rollout_get` over the relay's `/mcp`: never served (docs/AGENTS.md, "rollout_get over
/// HTTP"). The relay never talks to Kubernetes, so it holds no cluster credentials to lend a
/// token holder, and it reads no directory a caller names.
const RELAY_READS_NO_ROLLOUTS: &str = "the relay's /mcp reads no Rollouts: the relay never talks to Kubernetes and reads no directory a caller names. For the `rollout get` view, run `warroom mcp --as ROLE` where a kubeconfig reaches the cluster (`--kubeconfig FILE`, `--context NAME`) or with `--from-dir DIR`; for what the pipeline observer saw, use `read` with author `pipeline`";

impl Warroom {
    /// A server whose every call acts as `seat` (stdio).
    pub fn fixed(seat: Seat, max_body: usize) -> Self {
        Self {
            seats: Seats::Fixed(seat),
            max_body,
            shutdown: CancellationToken::new(),
            rollouts: None,
            tool_router: Self::tool_router(),
        }
    }

    /// A server whose calls act as the seat the HTTP guard put into the request; `shutdown`
    /// ends waits in progress.
    pub fn per_request(max_body: usize, shutdown: CancellationToken) -> Self {
        Self {
            seats: Seats::PerRequest,
            max_body,
            shutdown,
            rollouts: None,
            tool_router: Self::tool_router(),
        }
    }

    /// Lets `rollout_get` read from `source`.
    pub fn with_rollouts(mut self, source: rollout::RolloutSource) -> Self {
        self.rollouts = Some(source);
        self
    }

    fn seat(&self, ctx: &RequestContext<RoleServer>) -> Result<Seat, McpError> {
        match &self.seats {
            Seats::Fixed(seat) => Ok(seat.clone()),
            Seats::PerRequest => ctx
                .extensions
                .get::<axum::http::request::Parts>()
                .and_then(|p| p.extensions.get::<Seat>())
                .cloned()
                .ok_or_else(|| {
                    McpError::internal_error("this request carries no seat (token)", None)
                }),
        }
    }
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, McpError> + Send + 'static,
) -> Result<T, McpError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(McpError::internal_error(format!("task failed: {e}"), None)))
}

/// What `post` and `ack` answer.
#[derive(Serialize)]
struct Posted {
    entry: Entry,
    /// True when the key was already used with this content: nothing was written.
    replayed: bool,
}

/// What `alerts` answers.
#[derive(Serialize)]
struct Alerts {
    alerts: Vec<AlertStatus>,
    questions: Vec<QuestionStatus>,
}

/// What `brief` answers.
#[derive(Serialize)]
struct Brief {
    channel: String,
    role: String,
    brief: String,
}

#[tool_router]
impl Warroom {
    #[tool(
        description = "Post an entry to the channel as your role. Returns the entry (its id, e.g. terminal-1#4). Give `key` to make a retry safe."
    )]
    async fn post(
        &self,
        Parameters(args): Parameters<PostArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let seat = self.seat(&ctx)?;
        let draft = match args.draft() {
            Ok(d) => d,
            Err(e) => return store_error(e),
        };
        self.write(seat, draft).await
    }

    #[tool(
        description = "Read entries in timeline order, optionally since a cursor, entry id or time, filtered by author, kind and text. Returns entries and the cursor to read on from."
    )]
    async fn read(
        &self,
        Parameters(args): Parameters<ReadArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let seat = self.seat(&ctx)?;
        let query = match ReadQuery::new(args) {
            Ok(q) => q,
            Err(message) => return Ok(refused(message)),
        };
        blocking(move || match query.unknown_role(&seat.channel) {
            Ok(Some(why)) => Ok(refused(why)),
            Err(e) => store_error(e),
            Ok(None) => match query.run(&seat.channel) {
                Ok(read) => {
                    let mut text = entries_text(&read.entries);
                    if read.entries.is_empty() {
                        text.push_str("no entries\n");
                    }
                    text.push_str(&format!(
                        "cursor: {}{}\n",
                        read.cursor,
                        if read.more {
                            " (more: read again from it)"
                        } else {
                            ""
                        }
                    ));
                    ok(&read, text)
                }
                Err(e) => store_error(e),
            },
        })
        .await
    }

    #[tool(
        description = "What the others wrote since you last caught up: entries addressed to you first, then the rest. Marks them read."
    )]
    async fn catchup(
        &self,
        Parameters(_): Parameters<NoArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let seat = self.seat(&ctx)?;
        blocking(move || {
            let (pending, news) =
                match catchup::catchup(&seat.channel, &seat.role, |p| tracing::warn!("{p}")) {
                    Ok(c) => c,
                    Err(e) => return store_error(e),
                };
            if let Err(e) = pending.mark_read() {
                return store_error(e);
            }
            let text = catchup_text(&news);
            ok(&news, text)
        })
        .await
    }

    #[tool(
        description = "Block until an entry matching the filter is posted (or exists after `cursor`), or `timeout` seconds (default 60, at most 300) pass. Returns the entries and the cursor for the next wait."
    )]
    async fn wait(
        &self,
        Parameters(args): Parameters<WaitArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let seat = self.seat(&ctx)?;
        let wait = match read::wait(args) {
            Ok(w) => w,
            Err(message) => return Ok(refused(message)),
        };
        tracing::debug!("wait pending: {} in {}", seat.role, seat.channel.name());
        let waited = tokio::select! {
            // Shutdown first: when the server stops, the agent is told to wait again.
            biased;
            _ = self.shutdown.cancelled() => {
                return Ok(refused("the server is shutting down; call wait again once it is back, with the cursor you had"));
            }
            _ = ctx.ct.cancelled() => {
                return Err(McpError::internal_error("the wait was cancelled", None));
            }
            w = catchup::wait(&seat.channel, wait) => w,
        };
        match waited {
            Ok(w) => {
                let text = waited_text(&w);
                ok(&w, text)
            }
            Err(catchup::WaitError::Store(e)) => store_error(e),
            Err(e) => Ok(refused(e.to_string())),
        }
    }

    #[tool(
        description = "Open alerts and unanswered questions (state: open, acked, resolved or all)."
    )]
    async fn alerts(
        &self,
        Parameters(args): Parameters<AlertsArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let seat = self.seat(&ctx)?;
        let wanted = match args.state.as_deref().map(str::trim) {
            None | Some("") | Some("open") => Some(State::Open),
            Some("acked") => Some(State::Acked),
            Some("resolved") => Some(State::Resolved),
            Some("all") => None,
            Some(other) => {
                return Ok(refused(format!(
                    "\"state\" {other:?} is not a state: use open, acked, resolved or all"
                )));
            }
        };
        blocking(move || {
            let book = match alerts::load(&seat.channel, |p| tracing::warn!("{p}")) {
                Ok(b) => b,
                Err(e) => return store_error(e),
            };
            let result = Alerts {
                alerts: book
                    .alerts()
                    .into_iter()
                    .filter(|a| wanted.is_none_or(|w| a.state == w))
                    .collect(),
                questions: book.unanswered(),
            };
            let text = alerts_text(&result);
            ok(&result, text)
        })
        .await
    }

    #[tool(
        description = "Acknowledge alerts (ids like pipeline#7) as your role, with what you are doing about it."
    )]
    async fn ack(
        &self,
        Parameters(args): Parameters<AckArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let seat = self.seat(&ctx)?;
        let refs = match args::ids(&args.ids) {
            Ok(r) => r,
            Err(e) => return store_error(e),
        };
        let draft = Draft {
            kind: Kind::Ack,
            refs,
            body: args
                .message
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| alerts::DEFAULT_ACK_TEXT.to_owned()),
            ..Draft::default()
        };
        self.write(seat, draft).await
    }

    #[tool(
        description = "The `warroom rollout get` view of an Argo Rollout (phase, step, weights, ReplicaSets, pods, analysis). Read only: promote, abort and the like stay with the operator. Served over stdio (`warroom mcp`) only: the relay's /mcp reads no cluster."
    )]
    async fn rollout_get(
        &self,
        Parameters(args): Parameters<RolloutGetArgs>,
    ) -> Result<CallToolResult, McpError> {
        let Some(source) = &self.rollouts else {
            return Ok(refused(match self.seats {
                Seats::Fixed(_) => STDIO_READS_NO_ROLLOUTS,
                Seats::PerRequest => RELAY_READS_NO_ROLLOUTS,
            }));
        };
        match source
            .get(args.name.trim(), args.namespace.as_deref())
            .await
        {
            Ok((view, text)) => ok(&view, text),
            Err(e) => Ok(refused(e.to_string())),
        }
    }

    #[tool(
        description = "The channel's brief: what the operation is, each role's lane, how to post. Read it first."
    )]
    async fn brief(
        &self,
        Parameters(_): Parameters<NoArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let seat = self.seat(&ctx)?;
        let brief = read_brief(&seat).await?;
        let text = brief.brief.clone();
        ok(&brief, text)
    }
}

impl Warroom {
    /// Posts `draft` as the seat's role; the store checks everything and writes nothing when
    /// it refuses.
    async fn write(&self, seat: Seat, draft: Draft) -> Result<CallToolResult, McpError> {
        let opts = PostOptions {
            max_body: self.max_body,
            sync: true,
        };
        blocking(
            move || match seat.channel.post(&seat.role, &draft, &opts) {
                Ok(posted) => {
                    let mut text = entries_text(std::slice::from_ref(&posted.entry));
                    if posted.replayed {
                        text.push_str(
                            "(already posted with this key: this is the first entry; nothing was written)\n",
                        );
                    }
                    ok(
                        &Posted {
                            entry: posted.entry,
                            replayed: posted.replayed,
                        },
                        text,
                    )
                }
                Err(e) => reply::write_error(&seat.channel, e),
            },
        )
        .await
    }
}

/// The brief (the channel's `README.md`).
async fn read_brief(seat: &Seat) -> Result<Brief, McpError> {
    let path = seat.channel.dir().join("README.md");
    let text = tokio::fs::read_to_string(&path).await.map_err(|e| {
        McpError::internal_error(
            format!(
                "cannot read the brief {}: {e}; the operator writes it (it is the channel's README.md, made by `warroom open`)",
                path.display()
            ),
            None,
        )
    })?;
    Ok(Brief {
        channel: seat.channel.name().to_string(),
        role: seat.role.to_string(),
        brief: text,
    })
}

fn catchup_text(news: &catchup::Catchup) -> String {
    if news.is_empty() {
        return format!("nothing new for {} in {}\n", news.reader, news.channel);
    }
    let mut out = format!("{} new for {} in {}", news.len(), news.reader, news.channel);
    if !news.addressed.is_empty() {
        out.push_str(&format!(
            "; {} addressed to {}, shown first:\n",
            news.addressed.len(),
            news.reader
        ));
        out.push_str(&entries_text(&news.addressed));
        if !news.others.is_empty() {
            out.push_str("the others:\n");
        }
    } else {
        out.push_str(":\n");
    }
    out.push_str(&entries_text(&news.others));
    out
}

fn waited_text(w: &Waited) -> String {
    match w {
        Waited::Entries { entries, cursor } => {
            format!("{}cursor: {cursor}\n", entries_text(entries))
        }
        Waited::TimedOut { cursor } => {
            format!("timed out: nothing matching arrived; wait again from cursor {cursor}\n")
        }
        Waited::Sealed { cursor } => {
            format!("the channel was sealed: nothing more will come (cursor {cursor})\n")
        }
    }
}

fn alerts_text(a: &Alerts) -> String {
    let mut out = String::new();
    if a.alerts.is_empty() {
        out.push_str("no alerts\n");
    }
    for al in &a.alerts {
        out.push_str(&format!(
            "{}  {}  {}  {}\n",
            al.id,
            al.state.as_str(),
            al.ts,
            al.headline
        ));
        for k in &al.acks {
            out.push_str(&format!("    acked by {} ({})\n", k.author, k.id));
        }
    }
    if a.questions.is_empty() {
        out.push_str("no unanswered questions\n");
    } else {
        out.push_str("unanswered questions:\n");
        for q in &a.questions {
            out.push_str(&format!("{}  {}  {}\n", q.id, q.ts, q.headline));
        }
    }
    out
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Warroom {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("warroom", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS);
        info.server_info = Implementation::new("warroom", env!("CARGO_PKG_VERSION"));
        info
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new(BRIEF_URI, "brief")
                .with_description("The channel's brief: the operation, each role's lane")
                .with_mime_type("text/markdown"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        if request.uri != BRIEF_URI {
            return Err(McpError::resource_not_found(
                format!(
                    "no resource {:?}: the one resource is {BRIEF_URI}",
                    request.uri
                ),
                None,
            ));
        }
        let brief = read_brief(&self.seat(&ctx)?).await?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(brief.brief, BRIEF_URI).with_mime_type("text/markdown"),
        ])
        .into())
    }
}

/// The tools' names, for docs and tests.
pub fn tool_names() -> Vec<Cow<'static, str>> {
    Warroom::tool_router()
        .list_all()
        .into_iter()
        .map(|t| t.name)
        .collect()
}
