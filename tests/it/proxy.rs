//! A TCP proxy in front of a platform, to see everything it receives and to break the link on
//! purpose: forward, hang (accept and never answer), refuse (close at once), refuse only PUTs
//! (a producer that takes a new order and then fails), lose the answers to POSTs after the
//! platform acted, or answer garbage after it acted; and to add latency.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FORWARD: u8 = 0;
const HANG: u8 = 1;
const REFUSE: u8 = 2;
const GARBAGE: u8 = 3;
const REFUSE_PUTS: u8 = 4;
/// Forward POSTs, then close the connection instead of relaying the answer.
const DROP_POST_ANSWERS: u8 = 5;
/// Forward every request, then answer `200` with a body that is not JSON-LD.
const GARBAGE_AFTER_ACTING: u8 = 6;

pub struct Proxy {
    pub addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    mode: Arc<AtomicU8>,
    delay_ms: Arc<AtomicU64>,
    lost: Arc<AtomicU64>,
    received: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("address");
        let target = Arc::new(Mutex::new(addr));
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let (delay_ms, lost) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let received = Arc::new(Mutex::new(Vec::new()));
        let link =
            Link { mode: mode.clone(), delay_ms: delay_ms.clone(), lost: lost.clone(), received: received.clone() };
        let t = target.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let target = *t.lock().expect("lock");
                let link = link.clone();
                tokio::spawn(async move { relay(inbound, target, link).await });
            }
        });
        Proxy { addr, target, mode, delay_ms, lost, received, task }
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

    /// The platform gets every POST and acts on it; the caller never hears back.
    pub fn drop_post_answers(&self) {
        self.mode.store(DROP_POST_ANSWERS, Ordering::SeqCst);
    }

    /// The platform gets every request and acts on it; the caller gets a parking page.
    pub fn garbage_after_acting(&self) {
        self.mode.store(GARBAGE_AFTER_ACTING, Ordering::SeqCst);
    }

    /// Back to forwarding everything to the same platform.
    pub fn heal(&self) {
        self.mode.store(FORWARD, Ordering::SeqCst);
    }

    /// Each request waits this long before it is forwarded (a distant or busy platform).
    pub fn delay(&self, delay: std::time::Duration) {
        self.delay_ms.store(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Answers the platform gave that the proxy did not pass on.
    pub fn lost_answers(&self) -> u64 {
        self.lost.load(Ordering::SeqCst)
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

#[derive(Clone)]
struct Link {
    mode: Arc<AtomicU8>,
    delay_ms: Arc<AtomicU64>,
    lost: Arc<AtomicU64>,
    received: Arc<Mutex<Vec<u8>>>,
}

const PARKING_PAGE: &str = "<html>Service temporarily replaced by a parking page</html>";

fn parking_page() -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{PARKING_PAGE}",
        PARKING_PAGE.len()
    )
}

async fn relay(mut inbound: TcpStream, target: SocketAddr, link: Link) {
    let Link { mode, delay_ms, lost, received } = link;
    match mode.load(Ordering::SeqCst) {
        REFUSE => return,
        GARBAGE => {
            let mut request = [0u8; 8192];
            let _ = inbound.read(&mut request).await;
            let _ = inbound.write_all(parking_page().as_bytes()).await;
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
    // Set by the request side when the answer now coming must not reach the caller.
    let swallow = AtomicU8::new(0);
    let upstream = async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match in_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                // Breaking the link also affects connections already open (clients pool them).
                Ok(_) if mode.load(Ordering::SeqCst) == HANG => continue,
                Ok(n) if mode.load(Ordering::SeqCst) == REFUSE_PUTS && buf[..n].starts_with(b"PUT ") => break,
                Ok(_)
                    if !matches!(
                        mode.load(Ordering::SeqCst),
                        FORWARD | REFUSE_PUTS | DROP_POST_ANSWERS | GARBAGE_AFTER_ACTING
                    ) =>
                {
                    break;
                }
                Ok(n) => {
                    let starts_request = buf[..n].starts_with(b"POST ")
                        || buf[..n].starts_with(b"PUT ")
                        || buf[..n].starts_with(b"GET ")
                        || buf[..n].starts_with(b"DELETE ");
                    if starts_request {
                        let delay = delay_ms.load(Ordering::SeqCst);
                        if delay > 0 {
                            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                        }
                        let current = mode.load(Ordering::SeqCst);
                        if (current == DROP_POST_ANSWERS && buf[..n].starts_with(b"POST "))
                            || current == GARBAGE_AFTER_ACTING
                        {
                            swallow.store(current, Ordering::SeqCst);
                        }
                    }
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
        let mut buf = [0u8; 16 * 1024];
        loop {
            match out_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => match swallow.load(Ordering::SeqCst) {
                    // The platform has answered, so it has acted: the caller learns nothing.
                    DROP_POST_ANSWERS => {
                        lost.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    GARBAGE_AFTER_ACTING => {
                        lost.fetch_add(1, Ordering::SeqCst);
                        let _ = in_write.write_all(parking_page().as_bytes()).await;
                        break;
                    }
                    _ => {
                        if in_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                },
            }
        }
        let _ = in_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}
