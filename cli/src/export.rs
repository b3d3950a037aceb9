//! `casebridge export`: the export feed for a supervision platform (docs/export.md), as JSON
//! lines on stdout. The next cursor goes to stderr, or to a `--cursor-file` that a cron job
//! keeps: read at the start, replaced only after the lines before it were written and flushed,
//! so a run that dies half-way exports those lines again (at least once) and never skips any.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use casebridge_proto::v1 as pb;

use crate::client::{self, Connection};

/// A record kind of the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Penalty-case records recorded or corrected (行政处罚案件信息).
    Record,
    /// Criminal referrals sent (涉嫌犯罪案件移送).
    Referral,
    /// Steps of early warnings (移送预警).
    Warning,
    /// What became of a case: filing decisions, returns, transfers accepted, rulings …
    Outcome,
}

impl Kind {
    fn wire(self) -> pb::ExportKind {
        match self {
            Kind::Record => pb::ExportKind::Record,
            Kind::Referral => pb::ExportKind::Referral,
            Kind::Warning => pb::ExportKind::Warning,
            Kind::Outcome => pb::ExportKind::Outcome,
        }
    }
}

/// `casebridge export`'s options.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// A record kind to export (repeat for several); default every kind.
    #[arg(long = "kind", value_enum)]
    pub kinds: Vec<Kind>,
    /// Export the lines after this cursor (a `next_cursor` or a line's `cursor`, as given);
    /// default the cursor in --cursor-file, else the start of the feed.
    #[arg(long)]
    pub after: Option<String>,
    /// A file holding the cursor: read at the start (when --after is not given) and replaced
    /// after each page is written and flushed. Made when missing.
    #[arg(long, value_name = "PATH")]
    pub cursor_file: Option<PathBuf>,
    /// Lines per request, 1 to 5000.
    #[arg(long, default_value_t = 500)]
    pub limit: u32,
    /// Keep waiting for new lines after the backlog, asking every --poll seconds.
    #[arg(long)]
    pub follow: bool,
    /// Seconds between requests once the backlog is exported (with --follow).
    #[arg(long, default_value_t = 10)]
    pub poll: u64,
}

/// Runs `casebridge export`.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let ExportArgs {
        connection,
        kinds,
        after,
        cursor_file,
        limit,
        follow,
        poll,
    } = args;
    let mut cursor = match (after, &cursor_file) {
        (Some(after), _) => after,
        (None, Some(path)) => read_cursor(path)?,
        (None, None) => String::new(),
    };
    let mut clients = connection.connect().await?;
    let kinds: Vec<i32> = kinds.iter().map(|k| k.wire().into()).collect();
    let mut total: u64 = 0;
    let mut pages: u64 = 0;
    loop {
        let page = clients
            .export
            .export(pb::ExportRequest {
                kinds: kinds.clone(),
                after_cursor: cursor.clone(),
                limit,
            })
            .await
            .map_err(client::rpc)?
            .into_inner();
        if !page.lines.is_empty() {
            let mut out = std::io::stdout().lock();
            match out.write_all(&page.lines).and_then(|()| out.flush()) {
                // A reader that stopped early (`| head`) ends the export; the cursor is not moved.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                other => other.context("cannot write the lines to stdout")?,
            }
        }
        total += u64::from(page.count);
        pages += 1;
        if page.next_cursor != cursor {
            cursor = page.next_cursor;
            if let Some(path) = &cursor_file {
                write_cursor(path, &cursor)?;
            }
        }
        if page.more {
            if pages.is_multiple_of(10) {
                eprintln!("exported {total} lines so far; cursor {cursor}");
            }
            continue;
        }
        if !follow {
            break;
        }
        tokio::time::sleep(Duration::from_secs(poll.max(1))).await;
    }
    eprintln!("exported {total} lines");
    eprintln!("next cursor: {cursor}");
    Ok(())
}

/// The cursor stored in `path`; the start of the feed when the file does not exist yet.
fn read_cursor(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read the cursor file {}", path.display())),
    }
}

/// Replaces `path` with `cursor` atomically: a temporary file beside it, synced, then renamed,
/// so a crash leaves the old cursor or the new one, never half of one.
fn write_cursor(path: &Path, cursor: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write a cursor file in {}", dir.display()))?;
    writeln!(file, "{cursor}")
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write the cursor file {}", path.display()))?;
    file.persist(path)
        .with_context(|| format!("cannot replace the cursor file {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on broken fixtures
mod tests {
    use super::*;

    #[test]
    fn a_cursor_file_is_read_back_and_a_missing_one_is_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cursor");
        assert_eq!(read_cursor(&path).unwrap(), "");
        write_cursor(&path, "e1-2a").unwrap();
        assert_eq!(read_cursor(&path).unwrap(), "e1-2a");
        write_cursor(&path, "e1-2b").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "e1-2b\n");
    }
}
