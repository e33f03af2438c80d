//! Lines from a program the suite does not trust (an adapter's stdout and stderr): read with a
//! cap, so one endless line costs a bounded buffer; decoded lossily, so one invalid byte does
//! not end the stream; and made printable, so the program's bytes never drive the terminal the
//! suite prints to (titles, screen clears, cursor moves).
//!
//! What the lines mean (answers, logs) is the adapter driver's business, not this module's.

use std::collections::VecDeque;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Lines of an adapter's stderr kept between two takes ([`Kept`]).
pub(crate) const LOG_LINES: usize = 200;

/// Bytes of one stderr line kept (the rest is counted, not kept): with [`LOG_LINES`], what a
/// scenario's report can hold of an adapter's log.
pub(crate) const LOG_LINE_BYTES: usize = 4 * 1024;

/// Bytes of one stdout line read as an answer; a longer line is reported, not parsed.
pub(crate) const ANSWER_BYTES: usize = 1024 * 1024;

/// The last [`LOG_LINES`] lines, and how many older ones were dropped since the last take.
#[derive(Default)]
pub(crate) struct Kept {
    lines: VecDeque<String>,
    dropped: usize,
}

impl Kept {
    pub(crate) fn push(&mut self, line: String) {
        if self.lines.len() == LOG_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }

    /// The lines kept, led by a note of how many earlier ones were not.
    pub(crate) fn take(&mut self) -> Vec<String> {
        let dropped = std::mem::take(&mut self.dropped);
        let lines = std::mem::take(&mut self.lines);
        let note = (dropped > 0).then(|| {
            format!(
                "[prelude-conformance] {dropped} earlier lines not kept (the last {LOG_LINES} are)"
            )
        });
        note.into_iter().chain(lines).collect()
    }
}

/// One line as read: at most the cap's bytes of it, and how many bytes it had in all.
pub(crate) struct Line {
    /// The kept bytes, decoded (invalid UTF-8 replaced), without the line end.
    pub(crate) text: String,
    /// Bytes of the line beyond the cap, not kept.
    pub(crate) cut: usize,
}

impl Line {
    /// The text, printable, with a note of what was cut.
    pub(crate) fn shown(&self) -> String {
        let mut shown = printable(&self.text);
        if self.cut > 0 {
            shown.push_str(&format!(" [… {} more bytes cut]", self.cut));
        }
        shown
    }
}

/// Reads the next line of `reader`, keeping at most `cap` bytes of it (the rest is read and
/// dropped); `None` at the end of the input.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    cap: usize,
) -> std::io::Result<Option<Line>> {
    let mut kept = Vec::new();
    let mut total = 0usize;
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            if total == 0 {
                return Ok(None);
            }
            break;
        }
        let (chunk, used, ended) = match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => (&buffer[..end], end + 1, true),
            None => (buffer, buffer.len(), false),
        };
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        total += chunk.len();
        reader.consume(used);
        if ended {
            break;
        }
    }
    if kept.last() == Some(&b'\r') && total == kept.len() {
        kept.pop();
        total -= 1;
    }
    let cut = total - kept.len();
    Ok(Some(Line {
        text: String::from_utf8_lossy(&kept).into_owned(),
        cut,
    }))
}

/// `text` with every control character but tab written as an escape (`\u{1b}`), so it prints
/// as what it is.
pub(crate) fn printable(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// At most `max` characters of `text`, with a note of how many more there were.
pub(crate) fn truncated(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!(
            "{} [… {} more characters cut]",
            &text[..end],
            text[end..].chars().count()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], cap: usize) -> Vec<(String, usize)> {
        let mut reader = tokio::io::BufReader::with_capacity(8, input);
        let mut out = Vec::new();
        while let Some(line) = read_line(&mut reader, cap).await.expect("reads") {
            out.push((line.text, line.cut));
        }
        out
    }

    #[tokio::test]
    async fn a_long_line_keeps_its_first_bytes_and_counts_the_rest() {
        let input = format!("{}\nnext\n", "x".repeat(100));
        assert_eq!(
            lines(input.as_bytes(), 10).await,
            vec![("x".repeat(10), 90), ("next".to_owned(), 0)]
        );
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced_and_the_stream_goes_on() {
        let got = lines(b"bad \xff\xfe line\r\nlast", 100).await;
        assert_eq!(
            got,
            vec![
                ("bad \u{fffd}\u{fffd} line".to_owned(), 0),
                ("last".to_owned(), 0)
            ]
        );
    }

    #[test]
    fn a_long_log_keeps_its_last_lines_and_says_how_many_went() {
        let mut kept = Kept::default();
        for i in 0..LOG_LINES + 5 {
            kept.push(i.to_string());
        }
        let lines = kept.take();
        assert_eq!(lines.len(), LOG_LINES + 1);
        assert!(
            lines[0].contains("5 earlier lines not kept"),
            "{}",
            lines[0]
        );
        assert_eq!(lines[1], "5");
        assert!(kept.take().is_empty());
    }

    #[test]
    fn control_characters_print_as_escapes() {
        assert_eq!(
            printable("\u{1b}]0;pwned\u{7}\u{1b}[2Jok\tdone\u{9b}"),
            "\\u{1b}]0;pwned\\u{7}\\u{1b}[2Jok\tdone\\u{9b}"
        );
        assert_eq!(truncated("abcdef", 3), "abc [… 3 more characters cut]");
    }
}
