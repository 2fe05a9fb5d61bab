//! A small, real SMTP server on a random loopback port, for tests.
//!
//! Tests of code that sends e-mail should talk real SMTP to something that records what arrived,
//! so they can assert on the exact bytes a recipient would get (headers, MIME structure,
//! attachments) and on the envelope (`MAIL FROM` / `RCPT TO`), and count messages. [`SmtpSink`]
//! is that something: it binds `127.0.0.1:0`, speaks enough ESMTP for a normal client
//! (`EHLO`/`HELO`, `MAIL FROM`, `RCPT TO`, `DATA`, `RSET`, `NOOP`, `QUIT`), stores every accepted
//! message raw ([`ReceivedMessage`]) and can be told to refuse chosen recipients with a
//! permanent (`550`) or temporary (`451`) reply ([`Rejection`]).
//!
//! It never relays anything anywhere, and only listens on loopback.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let sink = smtp_sink::SmtpSink::start().await?;
//! sink.reject_recipient("gone@hoster.test", smtp_sink::Rejection::Permanent);
//! // ... point the code under test at 127.0.0.1:sink.port() ...
//! assert_eq!(sink.message_count(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! Limits keep a misbehaving client from exhausting the test process: a line longer than
//! [`MAX_LINE`] bytes is refused, a message larger than [`SinkConfig::max_message_bytes`] is
//! refused with `552`, and at most [`SinkConfig::max_recipients`] recipients per transaction.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Longest command or data line accepted, in bytes including CRLF (RFC 5321 allows 1000 for
/// text lines; a little slack for lenient clients).
pub const MAX_LINE: usize = 4096;

/// How the sink answers a recipient it was told to refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// `550 5.1.1` — the mailbox does not exist; a client must not retry.
    Permanent,
    /// `451 4.3.0` — try again later.
    Temporary,
}

impl Rejection {
    fn reply(self) -> &'static str {
        match self {
            Rejection::Permanent => "550 5.1.1 Recipient address rejected: mailbox unavailable",
            Rejection::Temporary => "451 4.3.0 Recipient temporarily unavailable, try again later",
        }
    }
}

/// One message accepted by the sink, exactly as received.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// The reverse path from `MAIL FROM:<…>` (empty for the null sender `<>`).
    pub mail_from: String,
    /// The accepted forward paths from `RCPT TO:<…>`, in order.
    pub rcpt_to: Vec<String>,
    /// The message (headers and body) with dot-stuffing undone, line endings as sent (CRLF).
    pub data: Vec<u8>,
    /// The name the client gave in `EHLO`/`HELO`.
    pub helo: String,
    /// When the final `.` arrived.
    pub received_at: SystemTime,
}

impl ReceivedMessage {
    /// The message as text (lossy: invalid UTF-8 becomes U+FFFD), for quick assertions.
    pub fn data_lossy(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Settings of a sink; [`SmtpSink::start`] uses [`SinkConfig::default`].
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Largest message accepted (after dot-unstuffing); larger ones get `552`.
    pub max_message_bytes: usize,
    /// Most recipients accepted in one transaction; more get `452`.
    pub max_recipients: usize,
    /// A connection idle for longer than this is closed.
    pub idle_timeout: Duration,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            max_message_bytes: 32 * 1024 * 1024,
            max_recipients: 100,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Default)]
struct State {
    messages: Vec<ReceivedMessage>,
    rejections: HashMap<String, Rejection>,
    connections: usize,
}

struct Shared {
    state: Mutex<State>,
    arrived: Notify,
    config: SinkConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the messages from the others.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running SMTP sink; stops accepting connections when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl SmtpSink {
    /// Starts a sink with default limits on `127.0.0.1` and a port chosen by the OS.
    pub async fn start() -> io::Result<SmtpSink> {
        SmtpSink::start_with(SinkConfig::default()).await
    }

    /// Starts a sink with the given limits on `127.0.0.1` and a port chosen by the OS.
    pub async fn start_with(config: SinkConfig) -> io::Result<SmtpSink> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
            config,
        });
        let accept_shared = Arc::clone(&shared);
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok((stream, _peer)) = listener.accept().await else {
                    continue;
                };
                accept_shared.lock().connections += 1;
                let conn_shared = Arc::clone(&accept_shared);
                tokio::spawn(async move {
                    // Errors only end this one connection (client went away, idle, …).
                    let _ = serve_connection(stream, conn_shared).await;
                });
            }
        });
        Ok(SmtpSink {
            addr,
            shared,
            accept_task,
        })
    }

    /// The address the sink listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the sink listens on (the host is always `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// From now on, answer `RCPT TO` for this address (compared case-insensitively) with the
    /// given rejection.
    pub fn reject_recipient(&self, address: &str, rejection: Rejection) {
        self.shared
            .lock()
            .rejections
            .insert(address.to_ascii_lowercase(), rejection);
    }

    /// Accept this address again.
    pub fn accept_recipient(&self, address: &str) {
        self.shared
            .lock()
            .rejections
            .remove(&address.to_ascii_lowercase());
    }

    /// A copy of every message accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared.lock().messages.clone()
    }

    /// How many messages were accepted so far.
    pub fn message_count(&self) -> usize {
        self.shared.lock().messages.len()
    }

    /// How many TCP connections were accepted so far.
    pub fn connection_count(&self) -> usize {
        self.shared.lock().connections
    }

    /// Forgets all stored messages (rejections stay).
    pub fn clear(&self) {
        self.shared.lock().messages.clear();
    }

    /// Waits until at least `n` messages have arrived, or `timeout` passed, and returns all
    /// messages stored at that moment (which may be fewer than `n` on timeout).
    ///
    /// Sending code usually returns only after the server's final reply, so a test rarely needs
    /// this; it exists for senders that work in the background (job workers).
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            {
                let state = self.shared.lock();
                if state.messages.len() >= n {
                    return state.messages.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.messages();
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

/// Per-transaction envelope state.
#[derive(Default)]
struct Transaction {
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

/// Reads one CRLF- (or LF-) terminated line of at most `MAX_LINE` bytes; `None` at EOF.
async fn read_line(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    idle: Duration,
) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let read = tokio::time::timeout(idle, async {
        loop {
            let buf = reader.fill_buf().await?;
            if buf.is_empty() {
                return Ok::<bool, io::Error>(!line.is_empty());
            }
            if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                line.extend_from_slice(&buf[..=pos]);
                reader.consume(pos + 1);
                return Ok(true);
            }
            let len = buf.len();
            line.extend_from_slice(buf);
            reader.consume(len);
            if line.len() > MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
        }
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client idle"))??;
    if !read {
        return Ok(None);
    }
    if line.len() > MAX_LINE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    }
    Ok(Some(line))
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Extracts the address between `<` and `>` after `FROM:`/`TO:` (parameters after `>` are
/// ignored). Returns `None` when the syntax is wrong.
fn path_argument(rest: &str) -> Option<String> {
    let rest = rest.trim_start();
    let start = rest.find('<')?;
    let end = rest[start..].find('>')? + start;
    Some(rest[start + 1..end].to_owned())
}

async fn reply(writer: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> io::Result<()> {
    writer.write_all(text.as_bytes()).await?;
    writer.write_all(b"\r\n").await?;
    writer.flush().await
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) -> io::Result<()> {
    let idle = shared.config.idle_timeout;
    let (read_half, mut writer) = stream.into_split();
    let mut reader = BufReader::new(read_half);
    let mut helo = String::new();
    let mut txn = Transaction::default();

    reply(&mut writer, "220 smtp-sink.test ESMTP ready").await?;
    loop {
        let Some(raw) = read_line(&mut reader, idle).await? else {
            return Ok(());
        };
        let line = String::from_utf8_lossy(trim_crlf(&raw)).into_owned();
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        match verb {
            "EHLO" => {
                helo = line[4..].trim().to_owned();
                txn = Transaction::default();
                let size = format!("250-SIZE {}", shared.config.max_message_bytes);
                reply(&mut writer, "250-smtp-sink.test greets you").await?;
                reply(&mut writer, &size).await?;
                reply(&mut writer, "250-8BITMIME").await?;
                reply(&mut writer, "250-ENHANCEDSTATUSCODES").await?;
                reply(&mut writer, "250 SMTPUTF8").await?;
            }
            "HELO" => {
                helo = line[4..].trim().to_owned();
                txn = Transaction::default();
                reply(&mut writer, "250 smtp-sink.test").await?;
            }
            "MAIL" if upper.starts_with("MAIL FROM:") => {
                if helo.is_empty() {
                    reply(&mut writer, "503 5.5.1 Send EHLO first").await?;
                } else if txn.mail_from.is_some() {
                    reply(&mut writer, "503 5.5.1 Nested MAIL command").await?;
                } else if let Some(path) = path_argument(&line[10..]) {
                    txn.mail_from = Some(path);
                    reply(&mut writer, "250 2.1.0 Ok").await?;
                } else {
                    reply(&mut writer, "501 5.5.4 Syntax: MAIL FROM:<address>").await?;
                }
            }
            "RCPT" if upper.starts_with("RCPT TO:") => {
                if txn.mail_from.is_none() {
                    reply(&mut writer, "503 5.5.1 Need MAIL before RCPT").await?;
                    continue;
                }
                let Some(path) = path_argument(&line[8..]) else {
                    reply(&mut writer, "501 5.5.4 Syntax: RCPT TO:<address>").await?;
                    continue;
                };
                if txn.rcpt_to.len() >= shared.config.max_recipients {
                    reply(&mut writer, "452 4.5.3 Too many recipients").await?;
                    continue;
                }
                let rejection = shared
                    .lock()
                    .rejections
                    .get(&path.to_ascii_lowercase())
                    .copied();
                match rejection {
                    Some(rejection) => reply(&mut writer, rejection.reply()).await?,
                    None => {
                        txn.rcpt_to.push(path);
                        reply(&mut writer, "250 2.1.5 Ok").await?;
                    }
                }
            }
            "DATA" => {
                if txn.mail_from.is_none() || txn.rcpt_to.is_empty() {
                    reply(&mut writer, "503 5.5.1 Need RCPT before DATA").await?;
                    continue;
                }
                reply(&mut writer, "354 End data with <CR><LF>.<CR><LF>").await?;
                let mut data = Vec::new();
                let mut too_big = false;
                loop {
                    let Some(raw) = read_line(&mut reader, idle).await? else {
                        return Ok(());
                    };
                    if trim_crlf(&raw) == b"." {
                        break;
                    }
                    // Undo dot-stuffing (RFC 5321 section 4.5.2).
                    let content = raw.strip_prefix(b".").unwrap_or(&raw);
                    if data.len() + content.len() > shared.config.max_message_bytes {
                        too_big = true;
                    } else {
                        data.extend_from_slice(content);
                    }
                }
                let finished = std::mem::take(&mut txn);
                if too_big {
                    reply(&mut writer, "552 5.3.4 Message too big").await?;
                    continue;
                }
                let id = {
                    let mut state = shared.lock();
                    state.messages.push(ReceivedMessage {
                        mail_from: finished.mail_from.unwrap_or_default(),
                        rcpt_to: finished.rcpt_to,
                        data,
                        helo: helo.clone(),
                        received_at: SystemTime::now(),
                    });
                    state.messages.len()
                };
                shared.arrived.notify_waiters();
                reply(&mut writer, &format!("250 2.0.0 Ok: queued as SINK{id:06}")).await?;
            }
            "RSET" => {
                txn = Transaction::default();
                reply(&mut writer, "250 2.0.0 Ok").await?;
            }
            "NOOP" => reply(&mut writer, "250 2.0.0 Ok").await?,
            "QUIT" => {
                reply(&mut writer, "221 2.0.0 Bye").await?;
                return Ok(());
            }
            "STARTTLS" | "AUTH" => {
                reply(&mut writer, "502 5.5.1 Not supported by this sink").await?;
            }
            _ => reply(&mut writer, "502 5.5.2 Command not recognized").await?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// A minimal scripted client: sends each command and collects the replies (lines sent
    /// between a `354` and the final `.` get none).
    async fn converse(port: u16, commands: &[&str]) -> Vec<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let mut replies = vec![read_reply(&mut stream).await];
        let mut in_data = false;
        for command in commands {
            stream
                .write_all(format!("{command}\r\n").as_bytes())
                .await
                .expect("write");
            if in_data && *command != "." {
                continue;
            }
            let reply = read_reply(&mut stream).await;
            in_data = reply.starts_with("354");
            replies.push(reply);
        }
        replies
    }

    async fn read_reply(stream: &mut TcpStream) -> String {
        let mut out = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            stream.read_exact(&mut byte).await.expect("read");
            out.push(byte[0]);
            if out.ends_with(b"\r\n") {
                let text = String::from_utf8_lossy(&out).into_owned();
                let last = text.trim_end().lines().last().unwrap_or("").to_owned();
                if last.len() >= 4 && &last[3..4] == " " {
                    return text;
                }
            }
        }
    }

    #[tokio::test]
    async fn stores_message_with_envelope_and_undoes_dot_stuffing() {
        let sink = SmtpSink::start().await.expect("start");
        let replies = converse(
            sink.port(),
            &[
                "EHLO client.test",
                "MAIL FROM:<bounce@hotline.test> SIZE=100",
                "RCPT TO:<abuse@hoster.test>",
                "DATA",
                "Subject: hi",
                "",
                "..leading dot",
                ".",
                "QUIT",
            ],
        )
        .await;
        assert!(replies[0].starts_with("220"), "{replies:?}");
        assert!(replies[1].contains("250 SMTPUTF8"), "{replies:?}");
        assert!(replies.iter().any(|r| r.starts_with("354")), "{replies:?}");
        assert!(
            replies
                .iter()
                .any(|r| r.starts_with("250 2.0.0 Ok: queued")),
            "{replies:?}"
        );
        let messages = sink.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].mail_from, "bounce@hotline.test");
        assert_eq!(messages[0].rcpt_to, vec!["abuse@hoster.test".to_owned()]);
        assert_eq!(messages[0].helo, "client.test");
        assert_eq!(
            messages[0].data_lossy(),
            "Subject: hi\r\n\r\n.leading dot\r\n"
        );
    }

    #[tokio::test]
    async fn rejects_configured_recipients_and_enforces_order() {
        let sink = SmtpSink::start().await.expect("start");
        sink.reject_recipient("Gone@Hoster.test", Rejection::Permanent);
        sink.reject_recipient("busy@hoster.test", Rejection::Temporary);
        let replies = converse(
            sink.port(),
            &[
                "MAIL FROM:<a@b.test>",
                "HELO c.test",
                "RCPT TO:<x@y.test>",
                "MAIL FROM:<>",
                "RCPT TO:<gone@hoster.test>",
                "RCPT TO:<busy@hoster.test>",
                "DATA",
                "RSET",
                "FOO",
                "QUIT",
            ],
        )
        .await;
        let codes: Vec<&str> = replies.iter().map(|r| &r[..3]).collect();
        assert_eq!(
            codes,
            vec![
                "220", "503", "250", "503", "250", "550", "451", "503", "250", "502", "221"
            ]
        );
        assert_eq!(sink.message_count(), 0);
        sink.accept_recipient("gone@hoster.test");
        let replies = converse(
            sink.port(),
            &["EHLO c.test", "MAIL FROM:<>", "RCPT TO:<gone@hoster.test>"],
        )
        .await;
        assert!(replies[3].starts_with("250"), "{replies:?}");
        assert_eq!(sink.connection_count(), 2);
    }

    #[tokio::test]
    async fn refuses_oversized_messages() {
        let sink = SmtpSink::start_with(SinkConfig {
            max_message_bytes: 10,
            ..SinkConfig::default()
        })
        .await
        .expect("start");
        let replies = converse(
            sink.port(),
            &[
                "EHLO c.test",
                "MAIL FROM:<a@b.test>",
                "RCPT TO:<x@y.test>",
                "DATA",
                "0123456789abcdef",
                ".",
            ],
        )
        .await;
        assert!(
            replies.last().is_some_and(|r| r.starts_with("552")),
            "{replies:?}"
        );
        assert_eq!(sink.message_count(), 0);
    }

    #[tokio::test]
    async fn wait_for_messages_times_out_with_what_it_has() {
        let sink = SmtpSink::start().await.expect("start");
        let got = sink.wait_for_messages(1, Duration::from_millis(50)).await;
        assert!(got.is_empty());
    }
}
