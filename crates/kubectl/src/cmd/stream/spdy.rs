//! The SPDY/3.1 side of exec and attach (`v4.channel.k8s.io` streams),
//! which upstream kubectl falls back to when the server does not speak
//! WebSocket `v5.channel.k8s.io`: only SPDY can tell the remote process
//! that stdin ended (a FIN), which v4 over WebSocket cannot.
//!
//! The client opens one stream per channel (`streamtype: error`, `stdin`,
//! `stdout`, `stderr`, `resize`); the server's data frames carry output,
//! and the error stream the final `Status`. Header blocks must be zlib
//! streams (one per connection) as SPDY/3 requires; ours are stored
//! (uncompressed) deflate blocks, which need neither a compressor nor
//! SPDY's preset dictionary. The server's header blocks are not read.

use std::collections::HashMap;

use http::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{decode_status, Streams};
use crate::client::{status_error, Client};
use crate::error::Error;

/// The remote command protocol asked for in the upgrade.
const PROTOCOL: &str = "v4.channel.k8s.io";

const SYN_STREAM: u16 = 1;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const FLAG_FIN: u8 = 1;

/// Which channels a session has.
#[derive(Debug, Clone, Copy)]
pub struct Channels {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// Upgrades `path` to SPDY/3.1; a refusal becomes its `Status` error.
pub async fn connect(
    client: &Client,
    path: &str,
) -> Result<TokioIo<hyper::upgrade::Upgraded>, Error> {
    let req = Request::post(path)
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::UPGRADE, "SPDY/3.1")
        .header("X-Stream-Protocol-Version", PROTOCOL)
        .body(kube::client::Body::empty())
        .map_err(|e| Error::msg(format!("building request for {path}: {e}")))?;
    let transport = |e: kube::Error| Error::Transport {
        server: client.server().to_string(),
        source: e,
    };
    let mut res = client.kube().send(req).await.map_err(transport)?;
    let code = res.status().as_u16();
    tracing::debug!(path, code, headers = ?res.headers(), "spdy upgrade");
    if code != 101 {
        use http_body_util::BodyExt;
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(transport)?
            .to_bytes();
        return Err(status_error(code, &body));
    }
    let upgraded = hyper::upgrade::on(&mut res)
        .await
        .map_err(|e| Error::msg(format!("error upgrading connection: {e}")))?;
    Ok(TokioIo::new(upgraded))
}

/// Builds SPDY/3 frames; header blocks share one zlib stream.
#[derive(Default)]
struct Framer {
    zlib_started: bool,
}

impl Framer {
    fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(8 + payload.len());
        f.extend_from_slice(&(0x8000u16 | 3).to_be_bytes());
        f.extend_from_slice(&kind.to_be_bytes());
        f.push(flags);
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        f.extend_from_slice(payload);
        f
    }

    fn data(stream: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(8 + payload.len());
        f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        f.push(flags);
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        f.extend_from_slice(payload);
        f
    }

    /// A name/value block as the next piece of the connection's zlib
    /// stream: a non-final stored deflate block, then a sync flush.
    fn header_block(&mut self, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut nv = Vec::new();
        nv.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (k, v) in headers {
            nv.extend_from_slice(&(k.len() as u32).to_be_bytes());
            nv.extend_from_slice(k.as_bytes());
            nv.extend_from_slice(&(v.len() as u32).to_be_bytes());
            nv.extend_from_slice(v.as_bytes());
        }
        let mut out = Vec::with_capacity(nv.len() + 7);
        if !self.zlib_started {
            self.zlib_started = true;
            // Deflate, 32 KiB window, no preset dictionary used.
            out.extend_from_slice(&[0x78, 0x01]);
        }
        let len = nv.len() as u16;
        out.push(0x00);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(&nv);
        // A sync flush (an empty stored block): the reader hands the block
        // over without waiting for more input.
        out.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
        out
    }

    fn syn_stream(&mut self, id: u32, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(&self.header_block(headers));
        Self::control(SYN_STREAM, 0, &p)
    }
}

/// One frame read off the connection.
#[derive(Debug, PartialEq)]
enum Frame {
    Data {
        stream: u32,
        fin: bool,
        payload: Vec<u8>,
    },
    Control {
        kind: u16,
        payload: Vec<u8>,
    },
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Frame>> {
    let mut h = [0u8; 8];
    match r.read_exact(&mut h).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([0, h[5], h[6], h[7]]) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    if h[0] & 0x80 != 0 {
        Ok(Some(Frame::Control {
            kind: u16::from_be_bytes([h[2], h[3]]),
            payload,
        }))
    } else {
        Ok(Some(Frame::Data {
            stream: u32::from_be_bytes([h[0], h[1], h[2], h[3]]) & 0x7fff_ffff,
            fin: h[4] & FLAG_FIN != 0,
            payload,
        }))
    }
}

/// Runs an upgraded SPDY connection as an exec/attach session.
pub async fn run<T>(io: T, mut streams: Streams, ch: Channels) -> Result<(), Error>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let mut framer = Framer::default();
    let mut ids: HashMap<u32, &'static str> = HashMap::new();
    let mut next = 1u32;
    let mut open = |kind: &'static str, framer: &mut Framer, out: &mut Vec<u8>| {
        let id = next;
        next += 2;
        ids.insert(id, kind);
        out.extend_from_slice(&framer.syn_stream(id, &[("streamtype", kind)]));
        id
    };
    let mut hello = Vec::new();
    open("error", &mut framer, &mut hello);
    let stdin_id = ch.stdin.then(|| open("stdin", &mut framer, &mut hello));
    if ch.stdout {
        open("stdout", &mut framer, &mut hello);
    }
    if ch.stderr && !ch.tty {
        open("stderr", &mut framer, &mut hello);
    }
    let resize_id = ch.tty.then(|| open("resize", &mut framer, &mut hello));
    let write_err =
        |e: std::io::Error| Error::msg(format!("error writing to the remote stream: {e}"));
    wr.write_all(&hello).await.map_err(write_err)?;

    let (in_tx, mut in_rx) = mpsc::channel::<Option<Vec<u8>>>(4);
    let mut stdin_open = false;
    if let (Some(mut stdin), Some(_)) = (streams.stdin.take(), stdin_id) {
        stdin_open = true;
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = in_tx.send(None).await;
                        return;
                    }
                    Ok(n) => {
                        if in_tx.send(Some(buf[..n].to_vec())).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    let mut resize = streams.resize.take().filter(|_| resize_id.is_some());
    let mut status = Vec::new();
    // Frames are read on their own task: a read cut short by select!
    // would lose its bytes.
    let (frame_tx, mut frames) = mpsc::channel::<Frame>(16);
    tokio::spawn(async move {
        while let Ok(Some(f)) = read_frame(&mut rd).await {
            if frame_tx.send(f).await.is_err() {
                return;
            }
        }
    });
    loop {
        tokio::select! {
            frame = frames.recv() => {
                let Some(frame) = frame else { break };
                tracing::trace!(?frame, "spdy frame");
                match frame {
                    Frame::Data { stream, payload, .. } => match ids.get(&stream).copied() {
                        Some("error") => status.extend_from_slice(&payload),
                        Some("stdout") => write_to(streams.stdout.as_mut(), &payload).await,
                        Some("stderr") => write_to(streams.stderr.as_mut(), &payload).await,
                        _ => {}
                    },
                    Frame::Control { kind: PING, payload } => {
                        let _ = wr.write_all(&Framer::control(PING, 0, &payload)).await;
                    }
                    Frame::Control { kind: GOAWAY, .. } => break,
                    // SYN_REPLY, RST_STREAM, SETTINGS, WINDOW_UPDATE: nothing to do.
                    Frame::Control { .. } => {}
                }
            }
            chunk = in_rx.recv(), if stdin_open => {
                let id = stdin_id.unwrap_or(0);
                match chunk.flatten() {
                    Some(bytes) => {
                        if wr.write_all(&Framer::data(id, 0, &bytes)).await.is_err() {
                            stdin_open = false;
                        }
                    }
                    None => {
                        stdin_open = false;
                        let _ = wr.write_all(&Framer::data(id, FLAG_FIN, &[])).await;
                    }
                }
            }
            size = async { resize.as_mut()?.recv().await }, if resize.is_some() => {
                match size {
                    Some((w, h)) => {
                        let body = serde_json::json!({"Width": w, "Height": h}).to_string();
                        let _ = wr
                            .write_all(&Framer::data(resize_id.unwrap_or(0), 0, body.as_bytes()))
                            .await;
                    }
                    None => resize = None,
                }
            }
        }
    }
    let _ = wr.shutdown().await;
    for w in [streams.stdout.as_mut(), streams.stderr.as_mut()]
        .into_iter()
        .flatten()
    {
        let _ = w.flush().await;
    }
    decode_status(&status)
}

async fn write_to(w: Option<&mut Box<dyn AsyncWrite + Unpin + Send>>, data: &[u8]) {
    if let Some(w) = w {
        // A closed local pipe is not the remote's failure.
        let _ = w.write_all(data).await;
        let _ = w.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_spdy3() {
        let d = Framer::data(3, FLAG_FIN, b"hi");
        assert_eq!(d, vec![0, 0, 0, 3, 1, 0, 0, 2, b'h', b'i']);
        let p = Framer::control(PING, 0, &[0, 0, 0, 1]);
        assert_eq!(p, vec![0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
    }

    #[test]
    fn header_blocks_are_one_stored_zlib_stream() {
        let mut f = Framer::default();
        let a = f.header_block(&[("streamtype", "error")]);
        assert_eq!(&a[..2], &[0x78, 0x01]);
        assert_eq!((0x78u32 * 256 + 0x01) % 31, 0);
        let nv_len = 4 + 4 + 10 + 4 + 5;
        assert_eq!(a[2], 0);
        assert_eq!(u16::from_le_bytes([a[3], a[4]]) as usize, nv_len);
        assert_eq!(u16::from_le_bytes([a[5], a[6]]), !(nv_len as u16));
        assert_eq!(&a[7..11], &1u32.to_be_bytes());
        assert_eq!(&a[a.len() - 5..], &[0, 0, 0, 0xff, 0xff]);
        let b = f.header_block(&[("streamtype", "stdout")]);
        assert_eq!(b[0], 0, "later blocks continue the stream");
        let syn = f.syn_stream(5, &[("streamtype", "stdin")]);
        assert_eq!(&syn[..4], &[0x80, 3, 0, 1]);
        assert_eq!(&syn[8..12], &5u32.to_be_bytes());
    }

    #[tokio::test]
    async fn frames_read_back() {
        let mut bytes = Framer::data(7, FLAG_FIN, b"out");
        bytes.extend(Framer::control(GOAWAY, 0, &[0; 8]));
        let mut r = &bytes[..];
        assert_eq!(
            read_frame(&mut r).await.unwrap(),
            Some(Frame::Data {
                stream: 7,
                fin: true,
                payload: b"out".to_vec()
            })
        );
        assert_eq!(
            read_frame(&mut r).await.unwrap(),
            Some(Frame::Control {
                kind: GOAWAY,
                payload: vec![0; 8]
            })
        );
        assert_eq!(read_frame(&mut r).await.unwrap(), None);
    }
}
