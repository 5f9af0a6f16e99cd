//! What happens to a child's output: kept up to a limit, streamed to the
//! requester, or (for processd's own on-timeout commands) logged line by
//! line; and the separate stderr of a streaming child, logged line by line
//! ([`LineLog`]).

/// Where a process's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Kept up to the limit and sent with the result.
    Keep,
    /// Sent to the requester as it comes, chunk by chunk. Not bounded:
    /// each chunk is one read of the pipe, and a requester that asks for a
    /// stream asks for all of it.
    Stream,
    /// Logged line by line (up to the limit), for an on-timeout command.
    Log,
}

/// What the caller should do with a piece of output.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Emit {
    /// Nothing (kept or dropped).
    Nothing,
    /// Send this to the requester.
    Send(String),
    /// Log these complete lines.
    Lines(Vec<String>),
}

/// A process's output so far.
#[derive(Debug)]
pub(crate) struct Output {
    mode: Mode,
    limit: usize,
    /// Bytes admitted so far (kept, or logged), at most `limit`.
    admitted: usize,
    kept: Vec<u8>,
    dropped: u64,
    /// An unterminated line, in [`Mode::Log`].
    partial: Vec<u8>,
}

impl Output {
    pub(crate) fn new(mode: Mode, limit: u32) -> Output {
        Output {
            mode,
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            admitted: 0,
            kept: Vec::new(),
            dropped: 0,
            partial: Vec::new(),
        }
    }

    /// Take one chunk read from the pipe.
    pub(crate) fn push(&mut self, data: &[u8]) -> Emit {
        if self.mode == Mode::Stream {
            return Emit::Send(String::from_utf8_lossy(data).into_owned());
        }
        let room = self.limit - self.admitted;
        let n = room.min(data.len());
        self.admitted += n;
        self.dropped += (data.len() - n) as u64;
        let admitted = &data[..n];
        match self.mode {
            Mode::Keep => {
                self.kept.extend_from_slice(admitted);
                Emit::Nothing
            }
            Mode::Log => Emit::Lines(self.split_lines(admitted)),
            Mode::Stream => Emit::Nothing,
        }
    }

    /// Complete lines of `data`, the partial line before it included; the
    /// tail without a newline waits for more.
    fn split_lines(&mut self, data: &[u8]) -> Vec<String> {
        split_lines(&mut self.partial, data, usize::MAX)
    }

    /// The last line when it had no newline (at the end of the output).
    pub(crate) fn last_line(&mut self) -> Option<String> {
        if self.partial.is_empty() {
            return None;
        }
        let line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        Some(line)
    }

    /// The output kept, as text (lossy UTF-8).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }

    /// Bytes past the limit.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }
}

/// Complete lines of `data`, with `partial` (the unterminated line before
/// it) in front; the tail without a newline is left in `partial`. A line
/// that grows past `max_line` bytes is cut there and returned in pieces.
fn split_lines(partial: &mut Vec<u8>, data: &[u8], max_line: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = data;
    loop {
        let room = max_line.saturating_sub(partial.len());
        match rest.iter().position(|&b| b == b'\n') {
            Some(nl) if nl <= room => {
                partial.extend_from_slice(&rest[..nl]);
                lines.push(String::from_utf8_lossy(partial).into_owned());
                partial.clear();
                rest = &rest[nl + 1..];
            }
            _ if rest.len() > room => {
                partial.extend_from_slice(&rest[..room]);
                lines.push(String::from_utf8_lossy(partial).into_owned());
                partial.clear();
                rest = &rest[room..];
            }
            _ => {
                partial.extend_from_slice(rest);
                return lines;
            }
        }
    }
}

/// Longest stderr line logged as one line; longer ones are logged in
/// pieces (a child writing without newlines cannot grow our memory).
pub(crate) const MAX_LOG_LINE: usize = 4096;

/// The stderr of a streaming child: every line is logged, as the daemon's
/// log is where a helper's stderr goes. Not bounded in total, as it was not
/// when the services read their helpers' stderr themselves: it lasts as
/// long as the child, and a long-lived helper may say something at any
/// time.
#[derive(Debug, Default)]
pub(crate) struct LineLog {
    partial: Vec<u8>,
}

impl LineLog {
    /// Complete lines of one chunk (the partial line before it included).
    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<String> {
        split_lines(&mut self.partial, data, MAX_LOG_LINE)
    }

    /// The last line when it had no newline (at the end).
    pub(crate) fn last_line(&mut self) -> Option<String> {
        if self.partial.is_empty() {
            return None;
        }
        let line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_stops_at_the_limit_and_counts_the_rest() {
        let mut o = Output::new(Mode::Keep, 5);
        assert_eq!(o.push(b"abc"), Emit::Nothing);
        assert_eq!(o.push(b"defgh"), Emit::Nothing);
        assert_eq!(o.push(b"ij"), Emit::Nothing);
        assert_eq!((o.text().as_str(), o.dropped()), ("abcde", 5));
    }

    #[test]
    fn stream_sends_every_chunk_and_keeps_nothing() {
        let mut o = Output::new(Mode::Stream, 2);
        assert_eq!(o.push(b"hello"), Emit::Send("hello".into()));
        assert_eq!((o.text().as_str(), o.dropped()), ("", 0));
    }

    #[test]
    fn log_splits_lines_across_chunks() {
        let mut o = Output::new(Mode::Log, 100);
        assert_eq!(o.push(b"one\ntw"), Emit::Lines(vec!["one".into()]));
        assert_eq!(o.push(b"o\nthree"), Emit::Lines(vec!["two".into()]));
        assert_eq!(o.last_line(), Some("three".into()));
        assert_eq!(o.last_line(), None);
    }

    #[test]
    fn log_is_bounded_too() {
        let mut o = Output::new(Mode::Log, 4);
        assert_eq!(o.push(b"ab\ncdef\n"), Emit::Lines(vec!["ab".into()]));
        assert_eq!(o.last_line(), Some("c".into()));
        assert_eq!(o.dropped(), 4);
    }

    #[test]
    fn line_log_splits_across_chunks_and_cuts_long_lines() {
        let mut l = LineLog::default();
        assert_eq!(l.push(b"a\nb"), vec!["a".to_string()]);
        assert_eq!(l.push(b"c\n\n"), vec!["bc".to_string(), String::new()]);
        let long = vec![b'x'; MAX_LOG_LINE * 2 + 1];
        let lines = l.push(&long);
        assert_eq!(lines.iter().map(String::len).collect::<Vec<_>>(), vec![MAX_LOG_LINE, MAX_LOG_LINE]);
        assert_eq!(l.push(b"\n"), vec!["x".to_string()]);
        assert_eq!(l.push(b"tail"), Vec::<String>::new());
        assert_eq!(l.last_line(), Some("tail".into()));
        assert_eq!(l.last_line(), None);
    }

    #[test]
    fn a_line_of_exactly_the_maximum_is_one_line() {
        let mut l = LineLog::default();
        let mut data = vec![b'y'; MAX_LOG_LINE];
        data.push(b'\n');
        assert_eq!(l.push(&data).iter().map(String::len).collect::<Vec<_>>(), vec![MAX_LOG_LINE]);
        assert_eq!(l.last_line(), None);
    }
}
