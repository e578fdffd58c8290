//! The guest's stdout and stderr, captured as lines keyed by where the run was.
//!
//! The journal cursor tells the capture its position each time it moves, so every line is
//! keyed by the position of the step the guest was about to take and its number there (see
//! `journal::output`): a replay produces the same keys. A run keeps every line from the
//! start of the invocation (a replay writes them again); the cursor stores the ones written
//! since its last live step after each live step, and the run all of them at its end, so a
//! line lost to a crash is stored by the next run. The bounds of `journal::output` apply as
//! lines are captured, and the last 64 KiB of stderr are kept apart for failure messages.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::journal::{MAX_LINE_BYTES, MAX_OUTPUT_BYTES, MAX_OUTPUT_LINES, OutputLine, Stdio};

/// How much of the guest's stderr is kept for failure messages.
const STDERR_TAIL: usize = 64 * 1024;

/// What one run of a guest wrote; cloned into its two streams.
#[derive(Clone, Default)]
pub struct Capture(Arc<Shared>);

#[derive(Default)]
struct Shared {
    lines: Mutex<Lines>,
    /// Whether the guest wrote anything yet: until it has, the cursor's calls at each step
    /// take no lock.
    written: AtomicBool,
    /// The journal position lines end at now.
    position: AtomicU32,
}

#[derive(Default)]
struct Lines {
    /// The position the last line ended at, and how many ended there so far.
    position: u32,
    n: u32,
    /// The unfinished line of stdout and of stderr.
    partial: [Vec<u8>; 2],
    lines: Vec<OutputLine>,
    /// Bytes of text in `lines`, and whether the bounds were reached.
    bytes: usize,
    full: bool,
    /// `lines[..stored]` were stored (or found in the journal's earlier runs).
    stored: usize,
    stderr_tail: VecDeque<u8>,
}

impl Capture {
    fn lock(&self) -> MutexGuard<'_, Lines> {
        self.0.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn written(&self) -> bool {
        self.0.written.load(Ordering::Acquire)
    }

    /// The stream of this capture the guest sees as `stream`.
    pub fn stream(&self, stream: Stdio) -> CaptureStream {
        CaptureStream {
            capture: self.clone(),
            stream,
        }
    }

    /// The journal position lines end at from now on.
    pub fn at(&self, position: u32) {
        self.0.position.store(position, Ordering::Release);
    }

    /// Counts every line so far as stored: they came before a replayed step, so an earlier
    /// run wrote them (the end of a run stores them all again in case it did not).
    pub fn replayed(&self) {
        if !self.written() {
            return;
        }
        let mut lines = self.lock();
        lines.stored = lines.lines.len();
    }

    /// The lines not stored since the last call (or [`Capture::replayed`]).
    pub fn unstored(&self) -> Vec<OutputLine> {
        if !self.written() {
            return Vec::new();
        }
        let mut lines = self.lock();
        let new = lines.lines[lines.stored..].to_vec();
        lines.stored = lines.lines.len();
        new
    }

    /// Every line of the run, unfinished ones ended: what to store when it ends.
    pub fn finish(&self) -> Vec<OutputLine> {
        if !self.written() {
            return Vec::new();
        }
        let position = self.0.position.load(Ordering::Acquire);
        let mut lines = self.lock();
        for stream in [Stdio::Stdout, Stdio::Stderr] {
            let partial = std::mem::take(&mut lines.partial[stream as usize]);
            if !partial.is_empty() {
                lines.end_line(position, stream, &partial);
            }
        }
        lines.stored = lines.lines.len();
        lines.lines.clone()
    }

    /// The end of what the guest wrote to stderr in this run, lossily decoded.
    pub fn stderr_text(&self) -> String {
        let lines = self.lock();
        let (a, b) = lines.stderr_tail.as_slices();
        let mut text = String::from_utf8_lossy(a).into_owned();
        text.push_str(&String::from_utf8_lossy(b));
        text.trim_end().to_string()
    }

    fn write(&self, stream: Stdio, mut bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.0.written.store(true, Ordering::Release);
        let position = self.0.position.load(Ordering::Acquire);
        let mut lines = self.lock();
        if stream == Stdio::Stderr {
            let tail = &mut lines.stderr_tail;
            tail.extend(&bytes[bytes.len().saturating_sub(STDERR_TAIL)..]);
            let over = tail.len().saturating_sub(STDERR_TAIL);
            tail.drain(..over);
        }
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            let mut line = std::mem::take(&mut lines.partial[stream as usize]);
            line.extend_from_slice(&bytes[..end]);
            lines.end_line(position, stream, &line);
            bytes = &bytes[end + 1..];
        }
        // An unfinished line is kept up to the longest a line may be (plus a character).
        let partial = &mut lines.partial[stream as usize];
        let room = (MAX_LINE_BYTES + 4).saturating_sub(partial.len());
        partial.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

impl Lines {
    /// Ends `line` (without its line end) on `stream` at journal `position`, within the
    /// bounds.
    fn end_line(&mut self, position: u32, stream: Stdio, line: &[u8]) {
        if self.full {
            return;
        }
        if position != self.position {
            self.position = position;
            self.n = 0;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut text = String::from_utf8_lossy(line).into_owned();
        if text.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        if self.lines.len() + 1 >= MAX_OUTPUT_LINES || self.bytes + text.len() > MAX_OUTPUT_BYTES {
            self.full = true;
            text = format!(
                "[reprise: output past {MAX_OUTPUT_LINES} lines or {} KiB is not kept]",
                MAX_OUTPUT_BYTES / 1024
            );
        }
        self.bytes += text.len();
        self.lines.push(OutputLine {
            position: self.position,
            n: self.n,
            stream,
            at_ms: crate::clock::now_ms(),
            text,
        });
        self.n += 1;
    }
}

/// One of a [`Capture`]'s streams, as WASI's stdout or stderr.
#[derive(Clone)]
pub struct CaptureStream {
    capture: Capture,
    stream: Stdio,
}

impl IsTerminal for CaptureStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CaptureStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Every write is taken whole at once: the capture never blocks the guest.
const PERMIT: usize = 64 * 1024;

impl OutputStream for CaptureStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.capture.write(self.stream, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for CaptureStream {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CaptureStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.capture.write(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[OutputLine]) -> Vec<(u32, u32, &str, &str)> {
        lines
            .iter()
            .map(|l| (l.position, l.n, l.stream.as_str(), l.text.as_str()))
            .collect()
    }

    #[test]
    fn lines_are_keyed_by_position_and_number_there() {
        let capture = Capture::default();
        capture.write(Stdio::Stdout, b"one\ntw");
        capture.write(Stdio::Stderr, b"oops\r\n");
        capture.at(3);
        capture.write(Stdio::Stdout, b"o\nthree\n");
        capture.write(Stdio::Stdout, b"unfinished");
        assert_eq!(
            texts(&capture.finish()),
            [
                (0, 0, "stdout", "one"),
                (0, 1, "stderr", "oops"),
                (3, 0, "stdout", "two"),
                (3, 1, "stdout", "three"),
                (3, 2, "stdout", "unfinished"),
            ]
        );
        assert_eq!(capture.stderr_text(), "oops");
    }

    #[test]
    fn replayed_lines_are_not_stored_again_until_the_end() {
        let capture = Capture::default();
        capture.write(Stdio::Stdout, b"before a replayed step\n");
        capture.replayed();
        capture.at(1);
        capture.write(Stdio::Stdout, b"live\n");
        assert_eq!(texts(&capture.unstored()), [(1, 0, "stdout", "live")]);
        assert!(capture.unstored().is_empty());
        assert_eq!(capture.finish().len(), 2);
    }

    #[test]
    fn output_past_the_bounds_ends_with_a_line_saying_so() {
        let capture = Capture::default();
        let long = "x".repeat(MAX_LINE_BYTES * 3);
        capture.write(Stdio::Stdout, format!("{long}\n").as_bytes());
        for i in 0..MAX_OUTPUT_LINES * 2 {
            capture.write(Stdio::Stdout, format!("line {i}\n").as_bytes());
        }
        let lines = capture.finish();
        assert_eq!(lines.len(), MAX_OUTPUT_LINES);
        assert_eq!(lines[0].text.len(), MAX_LINE_BYTES + '…'.len_utf8());
        let last = lines.last().expect("a last line");
        assert!(last.text.contains("is not kept"), "{}", last.text);
        let bytes: usize = lines.iter().map(|l| l.text.len()).sum();
        assert!(bytes <= MAX_OUTPUT_BYTES + 100);
    }

    #[test]
    fn stderr_keeps_its_last_bytes_for_failure_messages() {
        let capture = Capture::default();
        capture.write(Stdio::Stderr, &vec![b'a'; STDERR_TAIL * 2]);
        capture.write(Stdio::Stderr, b"panicked at the end\n");
        let text = capture.stderr_text();
        assert!(text.ends_with("panicked at the end"));
        assert_eq!(text.len(), STDERR_TAIL - 1);
    }
}
