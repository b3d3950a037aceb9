//! `casebridge-bench evidence`: upload and download one large evidence file through the real
//! gateway over mutual TLS, and report the throughput and the gateway's memory.
//!
//! The system runs as its own process (`casebridge up`, the binary built next to this one, on a
//! temporary data directory), so its memory is its own: the figures come from
//! `/proc/<pid>/status`. After a small warm-up transfer, the idle resident set (VmRSS) is read;
//! before each phase the kernel's peak (VmHWM) is reset through `/proc/<pid>/clear_refs`, so
//! each phase reports its own peak. The figure that matters is the peak above idle: it must not
//! grow with the file's size.
//!
//! The file is generated on the fly (this side never holds it either) and checked by digest
//! on both ends; the gateway stores it in the data directory's evidence storage.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use casebridge_core::ids::Sha256Digest;
use casebridge_platform::settings::{format_size, parse_size};
use casebridge_proto::v1 as pb;
use futures_util::Stream;
use tokio::io::AsyncBufReadExt as _;

use casebridge_cli::evidence::{CHUNK, download, progress, upload};

/// The uploading agency (example directory).
const MARKET_BUREAU: &str = "11350100MB0100002P";

/// How long the system gets to start.
const START: Duration = Duration::from_secs(60);

/// Options of the evidence benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct EvidenceBenchArgs {
    /// Size of the file: 1GiB, 256MiB, …
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub size: u64,
}

/// Resident memory of a process, from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy)]
struct Memory {
    /// VmRSS: resident now.
    rss: u64,
    /// VmHWM: the peak resident set since start or the last reset.
    peak: u64,
}

fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("cannot read the gateway's /proc status (Linux only)")?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

/// Resets the process's peak resident set to its current one; false when the kernel refuses.
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `size` bytes of pseudo-random content in chunks of [`CHUNK`], generated as they are asked
/// for (xorshift64*, seeded per run so no earlier upload deduplicates it).
fn generated(size: u64, seed: u64) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::unfold((0u64, seed | 1), move |(sent, mut state)| async move {
        if sent >= size {
            return None;
        }
        let len = usize::try_from((size - sent).min(CHUNK as u64)).unwrap_or(CHUNK);
        let mut chunk = Vec::with_capacity(len + 8);
        while chunk.len() < len {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            chunk.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        chunk.truncate(len);
        Some((Ok(Bytes::from(chunk)), (sent + len as u64, state)))
    })
}

/// The whole system as a child process on a fresh data directory.
struct System {
    child: tokio::process::Child,
    pid: u32,
    address: String,
    /// The last lines of its log (its standard error), quoted when the benchmark fails.
    log: crate::LogTail,
}

impl System {
    async fn start(dir: &Path, max_size: u64) -> anyhow::Result<System> {
        crate::prepare_data_dir(dir)?;
        let mut child = tokio::process::Command::new(crate::casebridge_exe()?)
            .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env("CASEBRIDGE__LOG", "warn")
            .env("CASEBRIDGE__EVIDENCE__MAX_SIZE", max_size.to_string())
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start `casebridge up`")?;
        let pid = child.id().context("the system exited at once")?;
        let log = crate::LogTail::follow_async(child.stderr.take().context("no stderr")?);
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(START, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix("ready: ") {
                    return rest
                        .split_whitespace()
                        .last()
                        .map(str::to_owned)
                        .context("no address on the ready line");
                }
            }
            let status = child.wait().await?;
            bail!("`casebridge up` exited before it was ready ({status})")
        })
        .await;
        let address = match ready {
            Ok(Ok(address)) => address,
            Ok(Err(error)) => bail!("{error:#}; {}", log.quoted("casebridge up").await),
            Err(_) => bail!(
                "`casebridge up` was not ready within {} s; {}",
                START.as_secs(),
                log.quoted("casebridge up").await
            ),
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(System {
            child,
            pid,
            address,
            log,
        })
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

pub async fn run(args: EvidenceBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.size > 0, "--size must be at least 1 byte");
    let dir = tempfile::tempdir()?;
    println!(
        "casebridge-bench evidence: one file of {} ({} bytes) up and down through the gateway \
         over mutual TLS, {} KiB chunks; {} cores",
        format_size(args.size),
        args.size,
        CHUNK / 1024,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let system = System::start(dir.path(), args.size.max(1 << 20)).await?;
    let measured = measure(&system, dir.path(), args.size).await;
    if measured.is_err() {
        eprintln!("{}", system.log.quoted("casebridge up").await);
    }
    system.stop().await;
    measured
}

async fn measure(system: &System, data_dir: &Path, size: u64) -> anyhow::Result<()> {
    let connection = crate::dev_connection(
        MARKET_BUREAU,
        system.address.clone(),
        data_dir.to_path_buf(),
    );
    let mut client = connection.connect().await?.evidence;
    let seed = uuid::Uuid::new_v4().as_u64_pair().0;
    let metadata = |size: u64| pb::EvidenceMetadata {
        file_name: "bench.bin".into(),
        content_type: "application/octet-stream".into(),
        size,
        sha256: String::new(),
    };

    // Warm-up: connection, TLS session, first allocations of every path.
    let warm = upload(
        &mut client,
        metadata(1 << 20),
        generated(1 << 20, seed ^ 0x5eed),
        &indicatif::ProgressBar::hidden(),
    )
    .await?;
    let warm_digest = Sha256Digest::parse(&warm.sha256)?;
    download(&mut client, &warm_digest, &mut tokio::io::sink(), |_| {
        indicatif::ProgressBar::hidden()
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = memory(system.pid)?;
    let resets = reset_peak(system.pid);
    println!(
        "gateway process (casebridge up, pid {}): idle after warm-up {:.1} MiB resident \
         (peak since start {:.1} MiB)",
        system.pid,
        mib(idle.rss),
        mib(idle.peak)
    );
    if !resets {
        println!(
            "  (cannot reset the peak through /proc/<pid>/clear_refs: peaks below are since start)"
        );
    }

    let started = Instant::now();
    let bar = progress(size, "uploading");
    let uploaded = upload(&mut client, metadata(size), generated(size, seed), &bar).await?;
    bar.finish_and_clear();
    let upload_time = started.elapsed();
    let after_upload = memory(system.pid)?;
    // The size the gateway counted as it stored the file.
    report("upload", uploaded.size, upload_time, idle, after_upload);
    println!("  sha256 {} (verified by both ends)", uploaded.sha256);

    reset_peak(system.pid);
    let digest = Sha256Digest::parse(&uploaded.sha256)?;
    let started = Instant::now();
    // Refused unless every byte arrived with the uploaded digest.
    let downloaded = download(&mut client, &digest, &mut tokio::io::sink(), |size| {
        progress(size, "downloading")
    })
    .await?;
    let download_time = started.elapsed();
    let after_download = memory(system.pid)?;
    report(
        "download",
        downloaded.size,
        download_time,
        idle,
        after_download,
    );
    let peak_above_idle = after_upload
        .peak
        .max(after_download.peak)
        .saturating_sub(idle.rss);
    println!(
        "peak above idle: {:.1} MiB for a {} file (target: under 64 MiB)",
        mib(peak_above_idle),
        format_size(size)
    );
    Ok(())
}

fn report(phase: &str, size: u64, took: Duration, idle: Memory, after: Memory) {
    let seconds = took.as_secs_f64();
    println!(
        "{phase:<9} {:>8.1} MiB/s  ({size} bytes in {:.2} s)   gateway peak {:.1} MiB resident = \
         {:.1} MiB above idle",
        size as f64 / (1024.0 * 1024.0) / seconds.max(f64::EPSILON),
        seconds,
        mib(after.peak),
        mib(after.peak.saturating_sub(idle.rss)),
    );
}
