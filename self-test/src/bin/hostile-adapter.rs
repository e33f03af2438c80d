//! `hostile-adapter --behaviour NAME`: the conforming reference client behind an adapter that
//! misbehaves the way broken or hostile adapters do (stops reading, exits, closes its stdout,
//! prints invalid UTF-8, endless lines or terminal control bytes, never answers a reset,
//! declares an unusable name), for proving the suite ends within its timeouts, keeps every
//! other scenario's own verdict and writes its reports.
//!
//! With `--once FILE`, the misbehaviour happens in the first process only (the file marks
//! that it happened), so the process the suite starts again behaves.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use prelude_conformance::{InProcess, serve};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Command line.
#[derive(Parser)]
#[command(version, about = "The reference client behind a misbehaving adapter")]
struct Args {
    /// What goes wrong.
    #[arg(long, value_enum)]
    behaviour: Behaviour,
    /// Misbehave only if FILE does not exist yet (and create it then).
    #[arg(long, value_name = "FILE")]
    once: Option<PathBuf>,
    /// The SDK name `hello` declares.
    #[arg(long, default_value = "hostile-adapter")]
    name: String,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Behaviour {
    /// None: only `--name` differs from the reference adapter.
    None,
    /// Stops reading stdin at the 100th `refresh` request (a burst), answering nothing more.
    StopsReading,
    /// Exits at its first `login`.
    ExitsAtLogin,
    /// Closes its stdout at its first `login`, and goes on reading.
    ClosesStdoutAtLogin,
    /// Prints a line of invalid UTF-8 on stdout and stderr at its first `login`, then logs
    /// each op's name on stderr, once.
    InvalidUtf8,
    /// Prints a 10 MB line on stdout and a 100 MB line on stderr at its first `login`.
    EndlessLines,
    /// Prints terminal control sequences on stdout and stderr and in an error message at its
    /// first `login` (which fails).
    ControlBytes,
    /// Never answers a `reset`.
    IgnoresReset,
}

/// Control sequences that would set the terminal's title and clear its screen.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[H";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let armed = match &args.once {
        Some(file) => !file.exists(),
        None => true,
    };
    let behaviour = if armed {
        args.behaviour
    } else {
        Behaviour::None
    };
    let (mut to_client, client_in) = tokio::io::duplex(1 << 20);
    let (client_out, from_client) = tokio::io::duplex(1 << 20);
    tokio::spawn(serve(Arc::new(InProcess::new()), client_in, client_out));
    let stdout = Arc::new(tokio::sync::Mutex::new(tokio::io::stdout()));
    tokio::spawn(forward_answers(
        from_client,
        stdout.clone(),
        args.name.clone(),
    ));

    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    let mut refreshes = 0;
    let mut fired = false;
    let mut logged = std::collections::HashSet::new();
    loop {
        line.clear();
        if stdin.read_until(b'\n', &mut line).await? == 0 {
            break;
        }
        let request: Value = serde_json::from_slice(&line).unwrap_or(Value::Null);
        let op = request["op"].as_str().unwrap_or_default().to_owned();
        if behaviour == Behaviour::InvalidUtf8 && fired && logged.insert(op.clone()) {
            eprintln!("handled {op}");
        }
        refreshes += usize::from(op == "refresh");
        let fire = !fired
            && match behaviour {
                Behaviour::StopsReading => refreshes == 100,
                Behaviour::IgnoresReset => op == "reset",
                Behaviour::None => false,
                _ => op == "login",
            };
        if fire {
            fired = true;
            if let Some(file) = &args.once {
                std::fs::write(file, "fired")?;
            }
            match behaviour {
                Behaviour::StopsReading => std::future::pending::<()>().await,
                Behaviour::ExitsAtLogin => std::process::exit(3),
                Behaviour::ClosesStdoutAtLogin => {
                    let _held = stdout.lock().await;
                    let null = std::fs::File::create("/dev/null")?;
                    rustix::stdio::dup2_stdout(&null)?;
                    // Hold the lock: nothing is written to stdout again.
                    std::mem::forget(_held);
                    continue;
                }
                Behaviour::InvalidUtf8 => {
                    stdout
                        .lock()
                        .await
                        .write_all(b"not \xff\xfe utf-8\n")
                        .await?;
                    std::io::stderr().write_all(b"stderr \xc3\x28 not utf-8\n")?;
                }
                Behaviour::EndlessLines => {
                    let mut out = stdout.lock().await;
                    out.write_all(&vec![b'o'; 10 << 20]).await?;
                    out.write_all(b"\n").await?;
                    drop(out);
                    let mut err = std::io::stderr().lock();
                    let chunk = vec![b'e'; 1 << 20];
                    for _ in 0..100 {
                        err.write_all(&chunk)?;
                    }
                    err.write_all(b"\nafter the endless line\n")?;
                }
                Behaviour::ControlBytes => {
                    stdout
                        .lock()
                        .await
                        .write_all(format!("{HOSTILE}stdout\n").as_bytes())
                        .await?;
                    eprintln!("{HOSTILE}stderr");
                    let id = request["id"].as_u64().unwrap_or(0);
                    let answer = serde_json::json!({
                        "id": id,
                        "error": {"kind": "unauthorized", "message": format!("{HOSTILE}error")},
                    });
                    let mut out = stdout.lock().await;
                    out.write_all(format!("{answer}\n").as_bytes()).await?;
                    out.flush().await?;
                    continue;
                }
                Behaviour::IgnoresReset => continue,
                Behaviour::None => {}
            }
        }
        to_client.write_all(&line).await?;
    }
    Ok(())
}

/// Copies the client's answers to stdout, with `hello`'s SDK name replaced by `name`.
async fn forward_answers(
    from_client: tokio::io::DuplexStream,
    stdout: Arc<tokio::sync::Mutex<tokio::io::Stdout>>,
    name: String,
) -> std::io::Result<()> {
    let mut lines = BufReader::new(from_client).lines();
    while let Some(line) = lines.next_line().await? {
        let mut answer: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let line = match answer.pointer_mut("/ok/sdk/name") {
            Some(declared) => {
                *declared = Value::String(name.clone());
                answer.to_string()
            }
            None => line,
        };
        let mut out = stdout.lock().await;
        out.write_all(line.as_bytes()).await?;
        out.write_all(b"\n").await?;
        out.flush().await?;
    }
    Ok(())
}
