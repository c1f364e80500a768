//! HTTPS: [rustls](https://docs.rs/rustls)'s sans-IO `ServerConnection` between the socket
//! and the HTTP/1.1 [`Connection`](crate::h1::conn::Connection), on the same event loop (no
//! thread per connection). The protocol floor never knows: bytes read from the socket go
//! through `read_tls` and `process_new_packets`, and the plaintext that comes out of
//! `reader()` is what the connection reads; the connection's output goes in through
//! `writer()` and out through `write_tls`. Every limit and timeout of plain HTTP applies
//! unchanged to the plaintext; a handshake has a deadline of its own
//! ([`Config::tls_handshake_timeout`](crate::Config::tls_handshake_timeout)).
//!
//! TLS 1.2 and 1.3 only, ALPN `http/1.1`, cryptography from rustls's *ring* provider. The
//! certificate sits behind a lock that [`Tls::reload`] swaps (on SIGHUP under
//! [`App::run_tls`](crate::App::run_tls)): new handshakes get the new certificate, open
//! connections keep going. The public face is [`Tls`], whose docs have the examples.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, ServerConfig, ServerConnection};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::meter::Meter;
use super::socket::{Next, Socket, TURN_BUDGET};
use crate::error::Error;
use crate::h1::conn::Ctx;
use crate::site::WorkerSite;

/// Certificates and settings for serving HTTPS (the `tls` Cargo feature): give it to
/// [`App::bind_tls`](crate::App::bind_tls) or [`App::spawn_tls`](crate::App::spawn_tls);
/// [`App::run_tls`](crate::App::run_tls) makes one from PEM files.
///
/// Connections speak TLS 1.2 or 1.3 (rustls, with the *ring* provider) and offer ALPN
/// `http/1.1`; underneath, every limit and timeout of plain HTTP holds unchanged, and a
/// client must finish its handshake within
/// [`Config::tls_handshake_timeout`](crate::Config::tls_handshake_timeout). A plain-HTTP
/// request to the port is answered with a 400 that says to use `https://`.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use carafe::{App, Tls, route};
///
/// // A certificate for the example (in production: your CA's chain and key, as PEM).
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
/// let tls = Tls::from_pem(cert.cert.pem(), cert.signing_key.serialize_pem())?;
///
/// let mut app = App::new();
/// route!(app, GET "/" => |_req| "Hello over TLS")?;
/// let server = app.spawn_tls("127.0.0.1:0", tls)?;
/// assert!(server.url("/").starts_with("https://127.0.0.1:"));
/// // `curl --cacert cert.pem https://localhost:PORT/` answers "Hello over TLS".
/// server.shutdown()?;
/// # Ok(())
/// # }
/// ```
///
/// A clone shares the certificate: [`reload`](Self::reload) or [`set_pem`](Self::set_pem) on
/// any clone changes what the server's new handshakes get.
///
/// ```no_run
/// # fn main() -> Result<(), carafe::Error> {
/// let tls = carafe::Tls::from_pem_files("/etc/ssl/example/fullchain.pem", "/etc/ssl/example/key.pem")?;
/// // After the files are renewed (what SIGHUP does under `App::run_tls`):
/// tls.reload()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Tls {
    shared: Arc<Shared>,
}

struct Shared {
    config: Arc<ServerConfig>,
    resolver: Arc<Resolver>,
    provider: Arc<CryptoProvider>,
    /// Where the chain and key were read from, for [`Tls::reload`].
    files: Option<(PathBuf, PathBuf)>,
}

impl Tls {
    /// From a PEM certificate chain (the server's certificate first, then intermediates) and
    /// a PEM private key (PKCS#8, PKCS#1 or SEC1). Fails, naming the problem, when either
    /// does not parse or the key does not belong to the certificate.
    pub fn from_pem(
        cert_chain_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
    ) -> Result<Self, Error> {
        Self::build(cert_chain_pem.as_ref(), key_pem.as_ref(), None)
    }

    /// From PEM files, as [`from_pem`](Self::from_pem); [`reload`](Self::reload) reads them
    /// again.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, Error> {
        let files = (cert_chain.as_ref().to_owned(), key.as_ref().to_owned());
        let (chain, key) = read_files(&files)?;
        Self::build(&chain, &key, Some(files))
    }

    /// Reads the files given to [`from_pem_files`](Self::from_pem_files) again and serves
    /// the new certificate to every handshake from now on; connections already open keep
    /// theirs. On an error (a missing file, a key that does not match) the old certificate
    /// stays.
    pub fn reload(&self) -> Result<(), Error> {
        let Some(files) = &self.shared.files else {
            return Err(Error::Tls(
                "reload: this certificate was not read from files".into(),
            ));
        };
        let (chain, key) = read_files(files)?;
        self.set_pem(chain, key)
    }

    /// Replaces the certificate and key, as [`reload`](Self::reload) does, from PEM.
    pub fn set_pem(
        &self,
        cert_chain_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        let key = certified_key(
            &self.shared.provider,
            cert_chain_pem.as_ref(),
            key_pem.as_ref(),
        )?;
        *self
            .shared
            .resolver
            .key
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(())
    }

    fn build(chain: &[u8], key: &[u8], files: Option<(PathBuf, PathBuf)>) -> Result<Self, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let resolver = Arc::new(Resolver {
            key: RwLock::new(Arc::new(certified_key(&provider, chain, key)?)),
        });
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|error| Error::Tls(error.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            shared: Arc::new(Shared {
                config: Arc::new(config),
                resolver,
                provider,
                files,
            }),
        })
    }

    pub(super) fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.shared.config)
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("files", &self.shared.files)
            .finish_non_exhaustive()
    }
}

fn read_files((chain, key): &(PathBuf, PathBuf)) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let read = |path: &PathBuf| {
        std::fs::read(path)
            .map_err(|error| Error::Tls(format!("cannot read {}: {error}", path.display())))
    };
    Ok((read(chain)?, read(key)?))
}

fn certified_key(
    provider: &CryptoProvider,
    chain: &[u8],
    key: &[u8],
) -> Result<CertifiedKey, Error> {
    let chain = CertificateDer::pem_slice_iter(chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| Error::Tls(format!("certificate chain: {error}")))?;
    if chain.is_empty() {
        return Err(Error::Tls(
            "certificate chain: no CERTIFICATE block in the PEM".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|error| Error::Tls(format!("private key: {error}")))?;
    CertifiedKey::from_der(chain, key, provider)
        .map_err(|error| Error::Tls(format!("certificate and key: {error}")))
}

/// Hands every handshake the current certificate, whatever name the client asked for (one
/// certificate per server; a client that asked for another name refuses it itself).
#[derive(Debug)]
struct Resolver {
    key: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.key.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// The answer to a plain-HTTP request on the TLS port (nginx answers one too), so that
/// `curl http://` says what is wrong instead of printing an alert's bytes.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 48\r\nConnection: close\r\n\r\nThis port speaks HTTPS: use https:// to reach it";

/// Most plaintext bytes read and dropped before answering a plain-HTTP request, so that the
/// close does not reset the answer away.
const PLAIN_HTTP_DRAIN: usize = 64 * 1024;

/// The TLS state of one socket.
pub(super) struct TlsConn {
    session: ServerConnection,
    /// `process_new_packets` reported plaintext (or the end of it) not yet taken by the
    /// connection.
    plaintext: bool,
    /// The first byte was looked at (a TLS handshake record, or plain HTTP?).
    sniffed: bool,
    /// The connection asked for the write side to be shut: after the `close_notify` is out.
    shutdown_due: bool,
    /// The connection is done: `close_notify` is queued, the socket closes once it is out.
    closing: bool,
    /// A deadline for the last flush was asked of the worker already.
    flush_deadline_set: bool,
}

impl TlsConn {
    pub(super) fn new(config: &Arc<ServerConfig>) -> Result<Box<Self>, rustls::Error> {
        Ok(Box::new(Self {
            session: ServerConnection::new(Arc::clone(config))?,
            plaintext: false,
            sniffed: false,
            shutdown_due: false,
            closing: false,
            flush_deadline_set: false,
        }))
    }

    pub(super) fn wants_write(&self) -> bool {
        self.session.wants_write()
    }
}

/// What a TLS deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Deadline {
    /// The handshake must be over.
    Handshake,
    /// A finished connection's last records (and `close_notify`) must be out.
    Flush,
}

/// What a worker keeps for TLS: the server's settings for new sessions, and the deadlines of
/// handshakes and of last flushes (a client that stalls either is cut).
pub(super) struct Edge {
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
    flush_timeout: Duration,
    /// `(deadline, slab key, socket id, what)`, earliest first. Stale entries (a socket since
    /// closed, or done with its handshake) are dropped when they come due; at most two
    /// entries per connection accepted within the longer timeout.
    deadlines: BinaryHeap<Reverse<(Instant, usize, u64, Deadline)>>,
}

impl Edge {
    pub(super) fn new(tls: &Tls, handshake_timeout: Duration, flush_timeout: Duration) -> Self {
        Self {
            config: tls.server_config(),
            handshake_timeout,
            flush_timeout,
            deadlines: BinaryHeap::new(),
        }
    }

    /// A new session for an accepted socket, whose handshake must end by the deadline.
    pub(super) fn accept(&mut self, key: usize, id: u64, now: Instant) -> Option<Box<TlsConn>> {
        match TlsConn::new(&self.config) {
            Ok(tls) => {
                self.deadlines.push(Reverse((
                    now + self.handshake_timeout,
                    key,
                    id,
                    Deadline::Handshake,
                )));
                Some(tls)
            }
            Err(error) => {
                log::warn!("cannot start a TLS session: {error}");
                None
            }
        }
    }

    /// After a socket was driven: a connection that is done but whose last TLS records are
    /// not out yet gets a deadline for them.
    pub(super) fn settle(&mut self, socket: &mut Socket, key: usize, now: Instant) {
        if let Some(tls) = socket.tls.as_deref_mut()
            && tls.closing
            && !tls.flush_deadline_set
        {
            tls.flush_deadline_set = true;
            self.deadlines.push(Reverse((
                now + self.flush_timeout,
                key,
                socket.id,
                Deadline::Flush,
            )));
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((at, ..))| *at)
    }

    /// The next deadline that has passed: `(key, id, what)` of its socket.
    pub(super) fn pop_expired(&mut self, now: Instant) -> Option<(usize, u64, Deadline)> {
        match self.deadlines.peek() {
            Some(Reverse((at, key, id, what))) if *at <= now => {
                let expired = (*key, *id, *what);
                self.deadlines.pop();
                Some(expired)
            }
            _ => None,
        }
    }
}

impl Socket {
    /// Whether a TLS deadline of this socket that just passed still matters: its handshake is
    /// not over, or its last records are not out.
    pub(super) fn tls_stalled(&self, what: Deadline) -> bool {
        self.tls.as_deref().is_some_and(|tls| match what {
            Deadline::Handshake => tls.session.is_handshaking(),
            Deadline::Flush => tls.closing,
        })
    }

    /// [`Socket::drive`] for a TLS socket: the same turn, with rustls between the socket and
    /// the connection.
    /// Bytes counted for the metrics are those on the wire (TLS records).
    pub(super) fn drive_tls(&mut self, ctx: &mut Ctx<'_, WorkerSite>, meter: &Meter) -> Next {
        if let Some(next) = self.sniff(ctx) {
            return next;
        }
        let mut budget = TURN_BUDGET;
        loop {
            let read = match self.read_tls(ctx, &mut budget, meter) {
                Ok(read) => read,
                Err(error) => return self.fail(&error, "TLS read"),
            };
            let wrote = match self.flush_tls(ctx, &mut budget, meter) {
                Ok(wrote) => wrote,
                Err(error) => return self.fail(&error, "TLS write"),
            };
            let Some(tls) = self.tls.as_deref_mut() else {
                return Next::Close;
            };
            let mut shut = false;
            if self.conn.poll_shutdown() {
                tls.session.send_close_notify();
                tls.shutdown_due = true;
                shut = true;
            }
            if self.conn.is_done() && !tls.closing {
                // A goodbye for a client that said its own (close_notify honoured), or that
                // closed, or that the connection gave up on.
                tls.session.send_close_notify();
                tls.closing = true;
                shut = true;
            }
            if tls.shutdown_due && !tls.session.wants_write() {
                tls.shutdown_due = false;
                if self.stream.shutdown(Shutdown::Write).is_err() {
                    return Next::Close;
                }
            }
            if tls.closing && !tls.session.wants_write() {
                return Next::Close;
            }
            if !(read || wrote || shut) {
                return Next::Wait;
            }
            if budget == 0 {
                return Next::Again;
            }
        }
    }

    /// Looks at the first byte a client sends: a TLS connection starts with a handshake
    /// record (22); a capital letter is an HTTP method, answered with a plain 400.
    fn sniff(&mut self, ctx: &mut Ctx<'_, WorkerSite>) -> Option<Next> {
        let tls = self.tls.as_deref_mut()?;
        if tls.sniffed {
            return None;
        }
        let mut first = [0u8; 1];
        match self.stream.peek(&mut first) {
            Ok(1) => tls.sniffed = true,
            _ => return None, // Nothing yet, the end, or an error the read will see.
        }
        if !first[0].is_ascii_uppercase() {
            return None;
        }
        log::debug!(
            "peer={} sent plain HTTP to the TLS port: answered 400",
            self.conn.peer()
        );
        let scratch = ctx.buffers.scratch();
        let mut dropped = 0;
        while dropped < PLAIN_HTTP_DRAIN {
            match self.stream.read(scratch) {
                Ok(0) | Err(_) => break,
                Ok(n) => dropped += n,
            }
        }
        // Small enough for any send buffer; the socket closes whatever happens.
        let _ = self.stream.write(PLAIN_HTTP_ANSWER);
        let _ = self.stream.shutdown(Shutdown::Write);
        Some(Next::Close)
    }

    /// Reads TLS records until the socket is drained, the connection stops wanting input, or
    /// the budget is spent, handing the plaintext to the connection. Returns whether anything
    /// happened. A protocol error sends its alert and fails.
    fn read_tls(
        &mut self,
        ctx: &mut Ctx<'_, WorkerSite>,
        budget: &mut usize,
        meter: &Meter,
    ) -> io::Result<bool> {
        let Self {
            stream,
            conn,
            tls,
            read_drained,
            ..
        } = self;
        let Some(tls) = tls.as_deref_mut() else {
            return Ok(false);
        };
        let mut any = false;
        while *budget > 0 && conn.wants_read(ctx.limits) {
            if tls.plaintext {
                let buffer = conn.read_buffer(ctx);
                if buffer.is_empty() {
                    break;
                }
                match tls.session.reader().read(buffer) {
                    Ok(0) => {
                        // The client's close_notify: its side is closed, cleanly.
                        log::trace!("peer={} sent close_notify", conn.peer());
                        tls.plaintext = false;
                        conn.handle_eof();
                        any = true;
                    }
                    Ok(n) => {
                        *budget = budget.saturating_sub(n);
                        conn.handle_read(n, ctx);
                        any = true;
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        tls.plaintext = false;
                    }
                    Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                        // TCP closed without close_notify: the end all the same.
                        log::trace!("peer={} closed without close_notify", conn.peer());
                        tls.plaintext = false;
                        conn.handle_eof();
                        any = true;
                    }
                    Err(error) => return Err(error),
                }
                continue;
            }
            if *read_drained {
                break;
            }
            match tls.session.read_tls(stream) {
                Ok(0) => {
                    *read_drained = true;
                    // The reader reports the end (cleanly or not) once the plaintext is taken.
                    tls.plaintext = true;
                    any = true;
                }
                Ok(n) => {
                    *budget = budget.saturating_sub(n);
                    meter.received(n);
                    any = true;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    *read_drained = true;
                    break;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
            match tls.session.process_new_packets() {
                Ok(state) => {
                    if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() {
                        tls.plaintext = true;
                    }
                }
                Err(error) => {
                    // Garbage, a handshake the server cannot agree to, a bad record: send the
                    // alert rustls queued (best effort) and close.
                    let _ = tls.session.write_tls(stream);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, error));
                }
            }
        }
        Ok(any)
    }

    /// Writes pending TLS records, and hands the connection's output to rustls once the
    /// handshake is over, until done, the socket is full or the budget is spent.
    fn flush_tls(
        &mut self,
        ctx: &mut Ctx<'_, WorkerSite>,
        budget: &mut usize,
        meter: &Meter,
    ) -> io::Result<bool> {
        let Self {
            stream, conn, tls, ..
        } = self;
        let Some(tls) = tls.as_deref_mut() else {
            return Ok(false);
        };
        let mut any = false;
        while *budget > 0 {
            if tls.session.wants_write() {
                match tls.session.write_tls(stream) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        *budget = budget.saturating_sub(n);
                        meter.sent(n);
                        any = true;
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
                continue;
            }
            let pending = conn.poll_transmit();
            if pending.is_empty() || tls.session.is_handshaking() {
                break;
            }
            // rustls takes at most its buffer limit (64 KiB of records by default); the
            // rest stays with the connection, whose write timeout and output limit hold.
            let n = tls.session.writer().write(pending)?;
            if n == 0 {
                break;
            }
            conn.handle_written(n, ctx);
            any = true;
        }
        Ok(any)
    }

    /// Before a TLS socket is dropped: `close_notify`, if there is room for it (best effort,
    /// one write).
    pub(super) fn goodbye(&mut self) {
        if let Some(tls) = self.tls.as_deref_mut()
            && !tls.session.is_handshaking()
        {
            tls.session.send_close_notify();
            let _ = tls.session.write_tls(&mut self.stream);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem() -> (String, String) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (cert.cert.pem(), cert.signing_key.serialize_pem())
    }

    fn message(result: Result<Tls, Error>) -> String {
        result.map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn unusable_certificates_and_keys_are_errors_that_say_why() {
        let (chain, key) = pem();
        let (_, other_key) = pem();
        assert!(Tls::from_pem(&chain, &key).is_ok());
        assert_eq!(
            message(Tls::from_pem("not PEM at all", &key)),
            "TLS: certificate chain: no CERTIFICATE block in the PEM"
        );
        assert!(message(Tls::from_pem(&chain, "")).starts_with("TLS: private key: "));
        assert!(
            message(Tls::from_pem(&chain, &other_key)).starts_with("TLS: certificate and key: "),
            "a key that is not the certificate's"
        );
        let missing = message(Tls::from_pem_files(
            "/nonexistent/cert.pem",
            "/nonexistent/key.pem",
        ));
        assert!(
            missing.starts_with("TLS: cannot read /nonexistent/cert.pem: "),
            "{missing}"
        );
    }

    #[test]
    fn a_failed_replacement_keeps_the_old_certificate() {
        let (chain, key) = pem();
        let tls = Tls::from_pem(&chain, &key).unwrap();
        let before = Arc::clone(&tls.shared.resolver.key.read().unwrap());
        let (new_chain, _) = pem();
        assert!(tls.set_pem(&new_chain, &key).is_err());
        assert!(
            tls.reload().is_err(),
            "not read from files: nothing to reload"
        );
        assert!(Arc::ptr_eq(
            &before,
            &tls.shared.resolver.key.read().unwrap()
        ));
        let (new_chain, new_key) = pem();
        tls.set_pem(&new_chain, &new_key).unwrap();
        let after = tls.shared.resolver.key.read().unwrap();
        assert!(!Arc::ptr_eq(&before, &after));
        assert_eq!(
            after.end_entity_cert().unwrap().as_ref(),
            CertificateDer::from_pem_slice(new_chain.as_bytes())
                .unwrap()
                .as_ref()
        );
    }

    #[test]
    fn the_plain_http_answer_is_well_framed() {
        let text = std::str::from_utf8(PLAIN_HTTP_ANSWER).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
