//! A TCP proxy in front of a platform, to see everything it receives and to break the link on
//! purpose: forward, hang (accept and never answer), refuse (close at once), or refuse only PUTs
//! (a producer that takes a new order and then fails).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FORWARD: u8 = 0;
const HANG: u8 = 1;
const REFUSE: u8 = 2;
const GARBAGE: u8 = 3;
const REFUSE_PUTS: u8 = 4;

pub struct Proxy {
    pub addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    mode: Arc<AtomicU8>,
    received: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("address");
        let target = Arc::new(Mutex::new(addr));
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (t, m, r) = (target.clone(), mode.clone(), received.clone());
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let target = *t.lock().expect("lock");
                let (mode, received) = (m.clone(), r.clone());
                tokio::spawn(async move { relay(inbound, target, mode, received).await });
            }
        });
        Proxy { addr, target, mode, received, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn forward_to(&self, target: SocketAddr) {
        *self.target.lock().expect("lock") = target;
        self.mode.store(FORWARD, Ordering::SeqCst);
    }

    pub fn hang(&self) {
        self.mode.store(HANG, Ordering::SeqCst);
    }

    pub fn refuse(&self) {
        self.mode.store(REFUSE, Ordering::SeqCst);
    }

    /// Answers every request `200 OK` with a body that is not JSON-LD.
    /// Forwards everything but PUT requests, whose connection it closes.
    pub fn refuse_puts(&self) {
        self.mode.store(REFUSE_PUTS, Ordering::SeqCst);
    }

    pub fn garbage(&self) {
        self.mode.store(GARBAGE, Ordering::SeqCst);
    }

    /// Everything the platform behind received so far, as text.
    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().expect("lock")).into_owned()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(mut inbound: TcpStream, target: SocketAddr, mode: Arc<AtomicU8>, received: Arc<Mutex<Vec<u8>>>) {
    match mode.load(Ordering::SeqCst) {
        REFUSE => return,
        GARBAGE => {
            let mut request = [0u8; 8192];
            let _ = inbound.read(&mut request).await;
            let body = "<html>Service temporarily replaced by a parking page</html>";
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = inbound.write_all(answer.as_bytes()).await;
            let _ = inbound.shutdown().await;
            return;
        }
        HANG => {
            let mut sink = [0u8; 4096];
            // Read and never answer, until the caller gives up.
            while matches!(inbound.read(&mut sink).await, Ok(n) if n > 0) {}
            return;
        }
        _ => {}
    }
    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
    let (mut in_read, mut in_write) = inbound.split();
    let (mut out_read, mut out_write) = outbound.split();
    let upstream = async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match in_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                // Breaking the link also affects connections already open (clients pool them).
                Ok(_) if mode.load(Ordering::SeqCst) == HANG => continue,
                Ok(n) if mode.load(Ordering::SeqCst) == REFUSE_PUTS && buf[..n].starts_with(b"PUT ") => break,
                Ok(_) if !matches!(mode.load(Ordering::SeqCst), FORWARD | REFUSE_PUTS) => break,
                Ok(n) => {
                    received.lock().expect("lock").extend_from_slice(&buf[..n]);
                    if out_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = out_write.shutdown().await;
    };
    let downstream = async {
        let _ = tokio::io::copy(&mut out_read, &mut in_write).await;
        let _ = in_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}
