//! Ports for servers a test starts.

use std::time::{Duration, Instant};

/// A port on 127.0.0.1 that nothing listened on a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// Waits until 127.0.0.1:`port` accepts connections; panics after `limit`
/// with `what` and `log()` (say, the server's log).
pub fn wait_for_port(port: u16, limit: Duration, what: &str, log: impl Fn() -> String) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < limit,
            "{what} did not listen on port {port} within {limit:?}: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
