//! Compiles proto/ with protox (pure Rust, no protoc needed) and generates the tonic services;
//! records the git revision the binary is built from (`fulfil --version`, `fulfil_build_info`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["fulfil/v1/fulfil.proto"], ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("fulfil_v1_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    println!("cargo:rustc-env=FULFIL_GIT_REVISION={}", git_revision());
    Ok(())
}

/// The short commit hash of HEAD, `FULFIL_GIT_REVISION` when
/// set (a build without `.git`, as the Docker build's context), else `unknown`.
fn git_revision() -> String {
    println!("cargo:rerun-if-env-changed=FULFIL_GIT_REVISION");
    if let Ok(r) = std::env::var("FULFIL_GIT_REVISION")
        && !r.trim().is_empty()
    {
        return r.trim().to_owned();
    }
    for f in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(f).exists() {
            println!("cargo:rerun-if-changed={f}");
        }
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) if !rev.is_empty() => rev,
        _ => "unknown".to_owned(),
    }
}
