//! What the client and the daemon say to each other on the Unix socket.
//!
//! Every message is one frame: a 4-byte little-endian length, then that
//! many bytes of JSON. The client's `run` frame carries its standard input,
//! output and error as `SCM_RIGHTS` ancillary data on the frame's first
//! bytes, so the daemon's child reads and writes the caller's own files
//! (terminal, pipe, file) and nothing is copied through the daemon.
//!
//! Byte strings (arguments, paths, environment) travel as byte arrays: Unix
//! allows any bytes there but NUL.

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags, UnixAddr};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// Frames above this size are refused (a request is a few KiB: argument
/// list and environment).
pub const MAX_FRAME: usize = 16 << 20;

/// File descriptors a `run` request carries: stdin, stdout, stderr.
pub const PASSED_FDS: usize = 3;

/// A message to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Run one command line in a fresh child (with the fds attached).
    Run(RunRequest),
    /// Send this signal to the running child's process group (the
    /// client's Ctrl-C, SIGTERM, SIGHUP); only after `started`.
    Signal {
        /// The signal number.
        signal: i32,
    },
    /// Describe the daemon ([`Reply::Status`]).
    Status,
    /// Stop the daemon.
    Stop,
}

/// One resource limit of the client (`getrlimit`), applied in the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// The `RLIMIT_*` number.
    pub resource: i32,
    /// Soft limit (`u64::MAX` for unlimited).
    pub soft: u64,
    /// Hard limit (`u64::MAX` for unlimited).
    pub hard: u64,
}

/// Everything the child needs to behave as the client's own process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    /// The key the client computed for its configuration: the daemon
    /// refuses when it is not its own.
    pub key: String,
    /// The command line (program name first).
    pub argv: Vec<Vec<u8>>,
    /// The working folder.
    pub cwd: Vec<u8>,
    /// The whole environment, in order.
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
    /// The file-mode creation mask.
    pub umask: u32,
    /// Resource limits.
    pub limits: Vec<Limit>,
}

/// A message from the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The request will not be run here; the client starts GAP itself.
    Refused {
        /// Why (for `GAPRUN_DEBUG=daemon`).
        reason: String,
    },
    /// The child runs (its pid, for messages).
    Started {
        /// The child's process id.
        pid: i32,
    },
    /// The child exited with this status.
    Exited {
        /// Its exit status.
        code: i32,
    },
    /// A signal ended the child.
    Signaled {
        /// The signal number.
        signal: i32,
    },
    /// The answer to [`Request::Status`].
    Status(StatusInfo),
    /// The answer to [`Request::Stop`]: the daemon is ending.
    Stopping,
}

/// What `gaprun daemon status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// The configuration key it serves.
    pub key: String,
    /// Its process id.
    pub pid: i32,
    /// Seconds since it was ready.
    pub uptime_secs: f64,
    /// Commands it has run.
    pub served: u64,
    /// Commands running now.
    pub running: u64,
    /// Its configuration in words (roots, packages, memory flags).
    pub config: String,
    /// Why it no longer serves requests, when it found itself stale.
    pub stale: Option<String>,
}

/// Why a frame could not be read.
#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the connection before a frame started.
    Closed,
    /// Reading or writing failed (or the connection broke mid-frame).
    Io(std::io::Error),
    /// The frame is not a message of this protocol.
    Invalid(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Closed => write!(f, "the connection was closed"),
            FrameError::Io(e) => write!(f, "{e}"),
            FrameError::Invalid(why) => write!(f, "bad message: {why}"),
        }
    }
}

impl From<std::io::Error> for FrameError {
    fn from(e: std::io::Error) -> Self {
        FrameError::Io(e)
    }
}

/// The bytes of one frame holding `msg`.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail.
    let body = serde_json::to_vec(msg).unwrap_or_default();
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// The body length a frame header announces, if acceptable.
pub fn body_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::Invalid(format!(
            "frame of {len} bytes (at most {MAX_FRAME})"
        )));
    }
    Ok(len)
}

/// The message in a frame's body.
pub fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, FrameError> {
    serde_json::from_slice(body).map_err(|e| FrameError::Invalid(e.to_string()))
}

/// Write all of `bytes`, never raising SIGPIPE (a peer that went away is
/// an error here, not the end of this process).
fn send_all(fd: RawFd, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match nix::sys::socket::send(fd, bytes, MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => bytes = &bytes[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Send one message.
pub fn send<T: Serialize>(stream: &UnixStream, msg: &T) -> std::io::Result<()> {
    send_all(stream.as_raw_fd(), &encode(msg))
}

/// Send one message with `fds` attached to its first bytes.
pub fn send_with_fds<T: Serialize>(
    stream: &UnixStream,
    msg: &T,
    fds: &[RawFd],
) -> std::io::Result<()> {
    let frame = encode(msg);
    let cmsg = [ControlMessage::ScmRights(fds)];
    let sent = loop {
        match sendmsg::<UnixAddr>(
            stream.as_raw_fd(),
            &[IoSlice::new(&frame)],
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => break n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    };
    send_all(stream.as_raw_fd(), &frame[sent..])
}

/// Read exactly `buf.len()` bytes; `Closed` when the stream ends before
/// the first byte and `at_start` is set.
fn read_full(stream: &mut UnixStream, buf: &mut [u8], at_start: bool) -> Result<(), FrameError> {
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]) {
            Ok(0) if got == 0 && at_start => return Err(FrameError::Closed),
            Ok(0) => {
                return Err(FrameError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the connection broke in the middle of a message",
                )))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Read one message.
pub fn receive<T: for<'de> Deserialize<'de>>(stream: &mut UnixStream) -> Result<T, FrameError> {
    let mut header = [0u8; 4];
    read_full(stream, &mut header, true)?;
    let mut body = vec![0u8; body_len(header)?];
    read_full(stream, &mut body, false)?;
    decode(&body)
}

/// Read one message and the file descriptors sent with it (received
/// close-on-exec; any beyond what fits are closed by the kernel's
/// truncation, and the message is then refused).
pub fn receive_with_fds<T: for<'de> Deserialize<'de>>(
    stream: &mut UnixStream,
) -> Result<(T, Vec<OwnedFd>), FrameError> {
    let mut header = [0u8; 4];
    let mut cmsg_buf = nix::cmsg_space!([RawFd; PASSED_FDS]);
    let (got, fds, truncated) = loop {
        let mut iov = [IoSliceMut::new(&mut header)];
        match recvmsg::<UnixAddr>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg_buf),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => {
                let mut fds = Vec::new();
                let truncated = msg.flags.contains(MsgFlags::MSG_CTRUNC);
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::ScmRights(list) = c {
                            for fd in list {
                                // SAFETY: the kernel just installed this
                                // descriptor for us; nothing else owns it.
                                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                            }
                        }
                    }
                }
                break (msg.bytes, fds, truncated);
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(FrameError::Io(e.into())),
        }
    };
    if got == 0 {
        return Err(FrameError::Closed);
    }
    if truncated {
        return Err(FrameError::Invalid("too many file descriptors".into()));
    }
    read_full(stream, &mut header[got..], false)?;
    let mut body = vec![0u8; body_len(header)?];
    read_full(stream, &mut body, false)?;
    Ok((decode(&body)?, fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_request() -> RunRequest {
        RunRequest {
            key: "k".into(),
            argv: vec![b"gaprun".to_vec(), b"-c".to_vec(), b"\xff1+1;".to_vec()],
            cwd: b"/tmp".to_vec(),
            env: vec![(b"A".to_vec(), b"=b\n".to_vec())],
            umask: 0o22,
            limits: vec![Limit {
                resource: 9,
                soft: u64::MAX,
                hard: u64::MAX,
            }],
        }
    }

    #[test]
    fn every_message_survives_a_frame() {
        let requests = [
            Request::Run(run_request()),
            Request::Signal { signal: 2 },
            Request::Status,
            Request::Stop,
        ];
        for r in requests {
            let frame = encode(&r);
            let len = body_len(frame[..4].try_into().unwrap()).unwrap();
            assert_eq!(len, frame.len() - 4);
            assert_eq!(decode::<Request>(&frame[4..]).unwrap(), r);
        }
        let replies = [
            Reply::Refused { reason: "x".into() },
            Reply::Started { pid: 7 },
            Reply::Exited { code: 3 },
            Reply::Signaled { signal: 9 },
            Reply::Stopping,
            Reply::Status(StatusInfo {
                key: "k".into(),
                pid: 1,
                uptime_secs: 1.5,
                served: 2,
                running: 0,
                config: "c".into(),
                stale: Some("s".into()),
            }),
        ];
        for r in replies {
            assert_eq!(decode::<Reply>(&encode(&r)[4..]).unwrap(), r);
        }
    }

    #[test]
    fn bad_frames_are_refused() {
        let cases: [(&[u8], &str); 4] = [
            (b"", "EOF"),
            (b"{\"launch\":{}}", "unknown variant"),
            (b"[1,2]", ""),
            (b"{\"signal\":{}}", "missing field"),
        ];
        for (body, wanted) in cases {
            match decode::<Request>(body) {
                Err(FrameError::Invalid(why)) => assert!(why.contains(wanted), "{why}"),
                other => panic!("{body:?} gave {other:?}"),
            }
        }
        let huge = ((MAX_FRAME + 1) as u32).to_le_bytes();
        assert!(matches!(body_len(huge), Err(FrameError::Invalid(_))));
    }

    #[test]
    fn fds_travel_with_the_first_bytes() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let file = tempfile::tempfile().unwrap();
        let msg = Request::Run(run_request());
        send_with_fds(&a, &msg, &[file.as_raw_fd(), 1, 2]).unwrap();
        send(&a, &Request::Signal { signal: 15 }).unwrap();
        let (got, fds) = receive_with_fds::<Request>(&mut b).unwrap();
        assert_eq!(got, msg);
        assert_eq!(fds.len(), 3);
        assert_eq!(
            receive::<Request>(&mut b).unwrap(),
            Request::Signal { signal: 15 }
        );
        drop(a);
        assert!(matches!(
            receive::<Request>(&mut b),
            Err(FrameError::Closed)
        ));
    }
}
