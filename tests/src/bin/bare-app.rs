//! An app as a newcomer writes it: no logger, `App::run`, a handler that panics and a
//! template that fails. For `tests/tests/first_hour.rs`.
//!
//! usage: bare-app TEMPLATES_DIR [--own-logger] [--addr ADDR]
//!
//! With `--own-logger` the program installs a logger of its own first (every line prefixed
//! `OWN `, on stderr), which `App::run` must keep. `--addr` defaults to 127.0.0.1:0.

use carafe::{App, context, route};

struct Own;

impl log::Log for Own {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("OWN {} {}", record.level(), record.args());
        }
    }

    fn flush(&self) {}
}

fn slow(_req: &carafe::Request) -> &'static str {
    std::thread::sleep(std::time::Duration::from_millis(150));
    "slow"
}

fn main() -> Result<(), carafe::Error> {
    let mut args = std::env::args().skip(1);
    let templates = args
        .next()
        .expect("usage: bare-app TEMPLATES_DIR [--own-logger] [--addr ADDR]");
    let mut addr = "127.0.0.1:0".to_owned();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--own-logger" => {
                log::set_logger(&Own).expect("the first logger");
                log::set_max_level(log::LevelFilter::Info);
            }
            "--addr" => addr = args.next().expect("--addr ADDR"),
            other => panic!("unknown flag {other}"),
        }
    }
    let mut app = App::new();
    app.config.workers = 1;
    app.templates(templates)?;
    route!(app, GET "/" => |_req| "hello")?;
    route!(app, GET "/panic" => |_req| -> &'static str { panic!("bare-app panics on purpose") })?;
    route!(app, GET "/broken" => |req| req.render("broken.html", context! {}))?;
    // Over the default 100 ms slow-handler threshold: on the loop, and on the pool.
    route!(app, GET "/slow" => slow)?;
    route!(app, GET "/slow-blocking" => slow, blocking, name = "slow_blocking")?;
    app.run(addr)
}
