//! What [`App::run`](crate::App::run) shows a person at a terminal: where the app listens,
//! and, when the program installed no logger, `env_logger` at `info`, so that a handler's
//! panic, a template error and the access log are not lost. An app that set up its own
//! logger keeps it; [`App::bind`](crate::App::bind) and [`App::spawn`](crate::App::spawn)
//! stay silent, for programs that embed carafe.

use std::net::SocketAddr;

/// Installs `env_logger` (filtered by `RUST_LOG`, `info` by default) unless the program has
/// installed a logger already, which `try_init` finds out: only one logger can be set.
/// Returns whether this installed one.
pub(super) fn ensure_logger() -> bool {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .try_init()
        .is_ok()
}

/// The line `App::run` prints once it listens, as Flask's development server does.
pub(super) fn banner(scheme: &str, addr: SocketAddr, workers: usize) -> String {
    let workers = match workers {
        1 => "1 worker".to_owned(),
        n => format!("{n} workers"),
    };
    if addr.ip().is_unspecified() {
        let local = SocketAddr::new(
            match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            },
            addr.port(),
        );
        return format!(
            " * Running on all addresses ({addr}), e.g. {scheme}://{local} ({workers}, Ctrl-C to stop)"
        );
    }
    format!(" * Running on {scheme}://{addr} ({workers}, Ctrl-C to stop)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_says_where_and_how_many() {
        assert_eq!(
            banner("http", "127.0.0.1:8080".parse().unwrap(), 2),
            " * Running on http://127.0.0.1:8080 (2 workers, Ctrl-C to stop)"
        );
        assert_eq!(
            banner("https", "[::1]:80".parse().unwrap(), 1),
            " * Running on https://[::1]:80 (1 worker, Ctrl-C to stop)"
        );
        assert_eq!(
            banner("http", "0.0.0.0:5000".parse().unwrap(), 4),
            " * Running on all addresses (0.0.0.0:5000), e.g. http://127.0.0.1:5000 (4 workers, \
             Ctrl-C to stop)"
        );
    }
}
