//! Listening sockets, made with socket2 for what mio's own `bind` does not set: the backlog,
//! `SO_REUSEPORT` (several workers, or a successor process, on one port) and `SO_SNDBUF`.

use std::io;
use std::net::SocketAddr;

use mio::net::TcpListener;

/// How to set up a listening socket.
#[derive(Debug, Clone, Copy)]
pub(super) struct ListenOptions {
    /// `SO_REUSEPORT`: several workers (each with its own listener, balanced by the kernel),
    /// or another process, share the port.
    pub reuse_port: bool,
    pub backlog: u32,
    /// `SO_SNDBUF`, which accepted connections inherit.
    pub send_buffer_size: Option<usize>,
}

/// A non-blocking listening socket with `options`.
pub(super) fn listen(addr: SocketAddr, options: &ListenOptions) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    if options.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if let Some(size) = options.send_buffer_size {
        socket.set_send_buffer_size(size)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(options.backlog).unwrap_or(i32::MAX))?;
    Ok(TcpListener::from_std(socket.into()))
}
