//! The adapter side of the protocol: reads requests from `input`, runs each on a driver as
//! its own task (so pipelined requests run concurrently and finish in any order) and writes
//! one response line per request to `output`.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::Driver;
use crate::protocol::{Request, Response, SdkError, SdkErrorKind, line_id};

/// Serves `driver` until `input` ends and every answer is written.
pub async fn serve(
    driver: Arc<dyn Driver>,
    input: impl AsyncRead + Unpin,
    output: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Response>();
    let mut lines = BufReader::new(input).lines();
    let reading = async move {
        while let Some(line) = lines.next_line().await? {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Request>(&line) {
                Ok(request) => {
                    let driver = driver.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let outcome = driver.call(request.client, request.op).await;
                        let _closed = tx.send(Response::new(request.id, outcome));
                    });
                }
                Err(e) => {
                    // Answer with the id if there is one, so the caller is not left waiting.
                    let id = line_id(&line).unwrap_or(0);
                    let kind = if e.to_string().contains("unknown variant") {
                        SdkErrorKind::Unsupported
                    } else {
                        SdkErrorKind::Protocol
                    };
                    let _closed = tx.send(Response::new(
                        id,
                        Err(SdkError::new(kind, format!("bad request: {e}"))),
                    ));
                }
            }
        }
        Ok::<_, std::io::Error>(())
    };
    let writing = async move {
        // Answers that finished together go out in one write: a burst of N coalesced
        // refreshes is then a few writes, not N (each flush is a system call).
        let mut output = tokio::io::BufWriter::new(output);
        while let Some(response) = rx.recv().await {
            let mut next = Some(response);
            while let Some(response) = next {
                let mut line = serde_json::to_string(&response).map_err(std::io::Error::other)?;
                line.push('\n');
                output.write_all(line.as_bytes()).await?;
                next = rx.try_recv().ok();
            }
            output.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let (read, written) = tokio::join!(reading, writing);
    read.and(written)
}
