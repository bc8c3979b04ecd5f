//! `weir broker`: placeholder until the broker command is merged.

/// Flags of `weir broker`.
#[derive(Debug, clap::Args)]
pub struct BrokerArgs {}

/// Runs the broker until it is told to stop.
pub async fn run(args: BrokerArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("broker not merged yet")
}
