//! Health checks ([`App::health`]): liveness, and readiness that turns 503 the moment a
//! graceful shutdown starts.
//!
//! The server floor learns nothing of these routes: the app owns a [`Readiness`] flag, the
//! frozen site carries it, and the server clears it when a graceful shutdown begins (before
//! any worker stops accepting), so a load balancer that polls the readiness path stops
//! sending new work while requests in flight finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{Method, StatusCode};

use crate::app::App;
use crate::error::RouteError;
use crate::router::RouteSpec;

/// Whether the app takes new work: true until a graceful shutdown starts. Shared by the app's
/// readiness route and the server that clears it.
#[derive(Debug, Clone)]
pub(crate) struct Readiness(Arc<AtomicBool>);

impl Default for Readiness {
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl Readiness {
    /// A graceful shutdown has begun: readiness answers 503 from now on.
    pub(crate) fn shutting_down(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl App {
    /// Answers health checks: `live_path` with 200 `ok` whenever the process serves
    /// (liveness: if it does not answer, restart it), `ready_path` with 200 `ready` until a
    /// graceful shutdown starts (SIGTERM, [`ServerHandle::shutdown`](crate::ServerHandle)),
    /// then at once with 503 `shutting down` (readiness: send it no new work), while the
    /// requests in flight finish within
    /// [`Config::shutdown_grace`](crate::Config::shutdown_grace). Both are ordinary `GET`
    /// routes (HEAD too), named `carafe_liveness` and `carafe_readiness`; they show in
    /// [`App::routes`]. Kubernetes probes and load balancers poll them (`deploy/` has a
    /// manifest).
    ///
    /// ```
    /// use carafe::App;
    ///
    /// let mut app = App::new();
    /// app.health("/healthz", "/readyz")?;
    /// let server = app.spawn("127.0.0.1:0")?;
    /// # let get = |path: &str| {
    /// #     use std::io::{Read, Write};
    /// #     let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    /// #     write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    /// #     let mut answer = String::new();
    /// #     stream.read_to_string(&mut answer).unwrap();
    /// #     answer
    /// # };
    /// assert!(get("/healthz").starts_with("HTTP/1.1 200"));
    /// assert!(get("/readyz").starts_with("HTTP/1.1 200"));
    /// server.shutdown()?;
    /// # Ok::<(), carafe::Error>(())
    /// ```
    pub fn health(&mut self, live_path: &str, ready_path: &str) -> Result<&mut Self, RouteError> {
        let live = RouteSpec::new(&[Method::GET], live_path)
            .handler_name("carafe_liveness", "carafe::health")
            .name("carafe_liveness");
        self.route(live, |_req| "ok\n")?;
        let readiness = self.readiness.clone();
        let ready = RouteSpec::new(&[Method::GET], ready_path)
            .handler_name("carafe_readiness", "carafe::health")
            .name("carafe_readiness");
        self.route(ready, move |_req| {
            if readiness.is_ready() {
                (StatusCode::OK, "ready\n")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::App;
    use crate::testing::TestClient;

    #[test]
    fn readiness_turns_503_when_shutdown_starts_and_liveness_stays() {
        let mut app = App::new();
        app.health("/healthz", "/readyz").unwrap();
        let readiness = app.readiness.clone();
        let client = TestClient::new(app);
        assert_eq!(client.get("/readyz").send().status(), 200);
        readiness.shutting_down();
        let answer = client.get("/readyz").send();
        assert_eq!(answer.status(), 503);
        assert_eq!(answer.text(), "shutting down\n");
        assert_eq!(client.get("/healthz").send().status(), 200);
        assert!(client.get("/healthz").send().text() == "ok\n");
    }
}
