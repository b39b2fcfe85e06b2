//! `warroom mcp`: serves the MCP tools ([`crate::mcp`]) over stdio to one agent, as one role in
//! one channel. Glue: resolves the channel and the role, then runs the server until the client
//! closes stdin. Stdout carries only MCP messages; what a person should read goes to stderr.

use std::path::Path;

use clap::Args;
use rmcp::ServiceExt;

use super::channel::ChannelArg;
use crate::channel::entry::DEFAULT_MAX_BODY;
use crate::channel::{Author, Store};
use crate::mcp::rollout::RolloutSource;
use crate::mcp::{Seat, Warroom};

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    /// The role the agent posts as (on the channel's roster).
    #[arg(long = "as", value_name = "ROLE", env = "WARROOM_ROLE")]
    pub role: String,
    /// Where `rollout_get` reads Rollouts: manifests in this directory instead of a cluster.
    #[arg(long, value_name = "DIR")]
    pub from_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub kube: super::kubeconfig::KubeArgs,
    /// Largest body the agent may post, in bytes.
    #[arg(long, env = "WARROOM_MAX_BODY", default_value_t = DEFAULT_MAX_BODY)]
    pub max_body: usize,
}

pub fn run(root: &Path, args: McpArgs) -> anyhow::Result<u8> {
    let role = Author::new(&args.role)?;
    let store = Store::open(root)?;
    let target = args.channel.resolve(&store)?;
    let channel = target.channel;
    let roster = channel.roster()?;
    if !roster.contains(&role) {
        // Still serve: reading works, and each post says how to fix it (the agent can relay
        // that to its human, which a server that died at start cannot do).
        eprintln!(
            "warning: {role} is not on the roster of {} (roster: {}); posts will be refused until the operator runs `warroom roster add {role} --channel {}`",
            channel.name(),
            roster.names(),
            channel.name()
        );
    }
    eprintln!(
        "warroom mcp: {} as {role} over stdio (tools: {})",
        channel.name(),
        crate::mcp::tool_names().join(", ")
    );
    let server = Warroom::fixed(Seat { channel, role }, args.max_body);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let server = match args.from_dir {
            Some(dir) => server.with_rollouts(RolloutSource::Dir(dir)),
            None => match args.kube.connect().await {
                Ok(c) => server.with_rollouts(RolloutSource::Cluster {
                    client: c.client,
                    namespace: c.namespace,
                }),
                // Asked for by name: say why not. Otherwise the tool says how to configure one.
                Err(e) if args.kube.kubeconfig.is_some() || args.kube.context.is_some() => {
                    eprintln!("warning: rollout_get reads no cluster: {e:#}");
                    server
                }
                Err(_) => server,
            },
        };
        let service = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| anyhow::anyhow!("MCP over stdio could not start: {e}"))?;
        service
            .waiting()
            .await
            .map_err(|e| anyhow::anyhow!("MCP over stdio ended: {e}"))?;
        anyhow::Ok(())
    })?;
    Ok(0)
}
