//! A real PostgreSQL cluster for the shared store's tests: `initdb` and `pg_ctl` from Debian's
//! `postgresql` package, in a temporary folder, on a free port of 127.0.0.1, as an unprivileged
//! user (`nobody` when the tests run as root, as CI does), stopped when dropped. Without a
//! PostgreSQL binary a test says so and passes outside CI; with `CI=true` it fails.

use std::path::PathBuf;
use std::process::Command;

pub struct Pg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// Run the server's commands as this user (when the tests run as root).
    user: Option<String>,
}

/// The folder of `initdb` and `pg_ctl`: `FULFIL_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("FULFIL_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Pg {
    /// A new cluster, started; `None` (with a note) when PostgreSQL is not installed, unless
    /// `CI=true`, where that fails the test.
    pub fn start() -> Option<Pg> {
        let Some(bin) = bin_dir() else {
            let msg = "PostgreSQL is not installed (Debian: apt-get install postgresql; or set \
                       FULFIL_PG_BIN to the folder of initdb and pg_ctl)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg}: the shared store's tests cannot run");
            }
            eprintln!("skipped: {msg}");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let user = is_root().then(|| "nobody".to_owned());
        if let Some(u) = &user {
            let status = Command::new("chown")
                .arg(u)
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown {u} {}", dir.path().display());
        }
        let port = free_port();
        let pg = Pg {
            dir,
            bin,
            port,
            user,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data().display().to_string(),
                "-U",
                "fulfil",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg.start_server();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// One of the server's programs, run as the cluster's user.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        match &self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        }
    }

    /// Runs one of the server's programs; panics with its output if it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{program} does not start: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server (again, after [`stop`](Self::stop)) and waits until it accepts.
    pub fn start_server(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let data = self.data().display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    /// Stops the server (`fast`: connections are closed, what is committed stays).
    pub fn stop_server(&self) {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }

    pub fn url(&self) -> String {
        format!("postgres://fulfil@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs `sql` and returns every row's columns as text (on a thread of its own: the
    /// blocking client must not run on an async worker).
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let (url, sql) = (self.url(), sql.to_owned());
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
            c.simple_query(&sql)
                .expect("query")
                .into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => {
                        Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                    }
                    _ => None,
                })
                .collect()
        })
        .join()
        .expect("query thread")
    }

    /// One number from `sql`.
    pub fn number(&self, sql: &str) -> i64 {
        self.query(sql)[0][0]
            .as_deref()
            .unwrap_or("0")
            .parse()
            .expect("a number")
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
