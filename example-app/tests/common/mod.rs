//! What the example app's process tests share: starting the binary and reading the address
//! its banner (` * Running on http://127.0.0.1:PORT (...)`) names.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const APP: &str = env!("CARGO_BIN_EXE_example-app");

/// The example app, running; stopped when dropped.
pub struct Running {
    child: Child,
    /// What the banner says it listens on (`http://127.0.0.1:PORT`, `https://...`), if it
    /// printed one before its stderr closed.
    pub url: Option<String>,
    /// The stderr lines before the banner, for a failure's message.
    pub before_banner: Vec<String>,
}

/// Starts the app with `args` and `env` (without the caller's `PORT`) and waits for its
/// banner.
pub fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(APP)
        .args(args)
        .env_remove("PORT")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example app");
    let stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut before_banner = Vec::new();
    let mut url = None;
    for line in stderr.lines().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix(" * Running on ") {
            url = rest.split(' ').next().map(str::to_owned);
            break;
        }
        before_banner.push(line);
    }
    Running {
        child,
        url,
        before_banner,
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
