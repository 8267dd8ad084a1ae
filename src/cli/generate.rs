pub fn run(_a: super::GenArgs) -> anyhow::Result<()> {
    anyhow::bail!("todo")
}
