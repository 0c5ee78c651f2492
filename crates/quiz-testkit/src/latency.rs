//! A TCP proxy that holds every answer back by a fixed delay, to see how many round trips
//! a piece of code waits for one after another.
//!
//! Put it in front of DynamoDB Local: a handler whose requests go out at once pays the delay
//! once, one whose requests wait on each other pays it once per request in the chain. Bytes to
//! the server pass at once; bytes back are released `delay` after they arrived, in order, so a
//! keep-alive connection carrying many requests delays each answer by the same amount.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! let proxy = quiz_testkit::latency::LatencyProxy::start("127.0.0.1:8000", Duration::from_millis(50)).await?;
//! println!("point the client at {}", proxy.endpoint());
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A running proxy; it stops when dropped.
pub struct LatencyProxy {
    address: SocketAddr,
    accepting: JoinHandle<()>,
}

impl LatencyProxy {
    /// Listens on a free local port and forwards every connection to `upstream`
    /// (`host:port`), delaying what comes back by `delay`.
    pub async fn start(upstream: &str, delay: Duration) -> io::Result<LatencyProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let upstream = upstream.to_owned();
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, delay).await;
                    }
                });
            }
        });
        Ok(LatencyProxy { address, accepting })
    }

    /// `http://127.0.0.1:{port}`, for an SDK's `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, delay: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let (answers, mut held) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let requests = async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let receiving = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if answers
                        .send((Instant::now() + delay, buffer[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    let releasing = async move {
        while let Some((due, bytes)) = held.recv().await {
            tokio::time::sleep_until(due).await;
            if client_write.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(requests, receiving, releasing);
}
