//! Lines from a program the suite does not trust (an adapter's stdout and stderr): read with a
//! cap, so one endless line costs a bounded buffer; decoded lossily, so one invalid byte does
//! not end the stream; and made printable, so the program's bytes never drive the terminal the
//! suite prints to (titles, screen clears, cursor moves).
//!
//! What the lines mean (answers, logs) is the adapter driver's business, not this module's.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

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
    fn control_characters_print_as_escapes() {
        assert_eq!(
            printable("\u{1b}]0;pwned\u{7}\u{1b}[2Jok\tdone\u{9b}"),
            "\\u{1b}]0;pwned\\u{7}\\u{1b}[2Jok\tdone\\u{9b}"
        );
        assert_eq!(truncated("abcdef", 3), "abc [… 3 more characters cut]");
    }
}
