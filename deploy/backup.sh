#!/usr/bin/env bash
# Backs up a CaseBridge deployment, running or not, into a new directory.
#
#   deploy/backup.sh [--data-dir DIR] [--database-url URL] [--evidence DIR] [--also PATH]... OUT
#
# Without flags it reads the same variables as `casebridge` does: CASEBRIDGE__DATA_DIR,
# CASEBRIDGE__STORE__URL and CASEBRIDGE__EVIDENCE__PATH (default: .casebridge, the embedded
# SQLite files, and <data dir>/evidence).
#
# Order, and why it is consistent (docs/operations.md, "Backups"):
#   1. The databases. PostgreSQL: one `pg_dump`, which reads every service's tables in one
#      snapshot. SQLite (the embedded default): every file, the embedded bus's included, copied
#      with SQLite's online backup while writes to all of them are paused, so that the copies
#      are of one instant too.
#   2. The evidence files. They are content-addressed and never change once stored, and a
#      database names a file only after it was stored, so a copy taken after the dump holds every
#      file the dump names.
#   3. Everything else in the data directory: the operator key (ledger/operator.key and
#      ledger/operator.pub), the PKI, installed calendars, the directory, the console's form
#      key and sessions, and any settings file kept there. `--also PATH` adds files kept elsewhere (a settings file in
#      /etc, a key on another volume).
# The result is written as OUT.partial and renamed to OUT when complete, with SHA256SUMS
# listing every file, so an interrupted backup is never mistaken for a good one.
set -euo pipefail

die() {
    echo "backup: $*" >&2
    exit 1
}

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

data_dir="${CASEBRIDGE__DATA_DIR:-.casebridge}"
database_url="${CASEBRIDGE__STORE__URL:-}"
evidence="${CASEBRIDGE__EVIDENCE__PATH:-evidence}"
also=()
out=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --data-dir) data_dir="${2:?--data-dir needs a directory}"; shift 2 ;;
        --database-url) database_url="${2:?--database-url needs a URL}"; shift 2 ;;
        --evidence) evidence="${2:?--evidence needs a directory}"; shift 2 ;;
        --also) also+=("${2:?--also needs a path}"); shift 2 ;;
        -h | --help) usage ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [[ -z "$out" ]] || die "one backup directory only (got $out and $1)"; out="$1"; shift ;;
    esac
done
[[ -n "$out" ]] || usage
[[ -d "$data_dir" ]] || die "no data directory $data_dir (set --data-dir or CASEBRIDGE__DATA_DIR)"
[[ ! -e "$out" ]] || die "$out already exists: a backup never overwrites another"
[[ ! -e "$out.partial" ]] || die "$out.partial exists, left by an interrupted backup: remove it first"
data_dir="$(cd "$data_dir" && pwd)"
# A relative evidence path is inside the data directory, as for `casebridge`.
[[ "$evidence" = /* ]] || evidence="$data_dir/$evidence"

partial="$out.partial"
mkdir -p "$partial"
partial="$(cd "$partial" && pwd)"
# A failed backup leaves nothing behind (a killed one leaves OUT.partial, never OUT).
trap 'rm -rf -- "$partial"' EXIT

# 1. Databases.
if [[ -n "$database_url" ]]; then
    [[ "$database_url" = postgres* ]] || die "--database-url must be a postgres:// URL"
    command -v pg_dump >/dev/null || die "pg_dump is not installed (Debian: postgresql-client)"
    # One snapshot of every service's tables; custom format, restored with pg_restore.
    pg_dump --format=custom --no-owner --no-privileges --file="$partial/database.dump" \
        "$database_url" || die "pg_dump of $database_url failed"
fi
shopt -s nullglob
sqlite_files=("$data_dir"/*.db)
if [[ ${#sqlite_files[@]} -gt 0 ]]; then
    command -v sqlite3 >/dev/null || die "sqlite3 is not installed (Debian: sqlite3)"
    mkdir -p "$partial/sqlite"
    # One instant for every file: helper sqlite3 processes attach them all and take every
    # file's write lock (BEGIN IMMEDIATE), so no service, and not the embedded bus, commits
    # anything while the files are copied; readers go on. Each copy is SQLite's online backup.
    # Writers wait (busy_timeout, 5 s) and retry after that; the locks go when this script
    # ends, however it ends (each helper reads end-of-file and exits). One helper holds at most
    # ten files: SQLite attaches at most ten databases to one connection.
    freeze_dir="$(mktemp -d)"
    freeze_in=()
    freeze_pids=()
    quote="'"
    n=0
    for ((first = 0; first < ${#sqlite_files[@]}; first += 10)); do
        group=${#freeze_in[@]}
        mkfifo "$freeze_dir/in$group" "$freeze_dir/out$group"
        sqlite3 -batch -bail <"$freeze_dir/in$group" >"$freeze_dir/out$group" 2>&1 &
        freeze_pids+=("$!")
        exec {to_helper}>"$freeze_dir/in$group"
        exec {from_helper}<"$freeze_dir/out$group"
        freeze_in+=("$to_helper")
        {
            echo ".timeout 30000"
            for file in "${sqlite_files[@]:first:10}"; do
                n=$((n + 1))
                echo "ATTACH '${file//$quote/$quote$quote}' AS db$n;"
            done
            echo "BEGIN IMMEDIATE;"
            echo "SELECT 'frozen';"
        } >&"$to_helper"
        frozen=""
        read -r -t 60 frozen <&"$from_helper" || true
        exec {from_helper}<&-
        [[ "$frozen" == "frozen" ]] ||
            die "cannot pause the SQLite writers in $data_dir for a consistent copy: ${frozen:-no answer within 60 s}"
    done
    rm -rf "$freeze_dir"
    for file in "${sqlite_files[@]}"; do
        name="$(basename "$file")"
        [[ "$name" != *"'"* ]] || die "cannot back up $file: a quote in its name"
        (cd "$partial/sqlite" && sqlite3 "$file" ".backup '$name'") || die "backing up $file failed"
    done
    for to_helper in "${freeze_in[@]}"; do
        echo "ROLLBACK;" >&"$to_helper"
        exec {to_helper}>&-
    done
    wait "${freeze_pids[@]}" || true
    for file in "${sqlite_files[@]}"; do
        copy="$partial/sqlite/$(basename "$file")"
        check="$(sqlite3 "$copy" "PRAGMA integrity_check")"
        [[ "$check" == "ok" ]] || die "the copy of $file fails its integrity check: $check"
    done
fi
[[ -n "$database_url" || ${#sqlite_files[@]} -gt 0 ]] ||
    die "no database: neither a PostgreSQL URL nor SQLite files in $data_dir"

# 2. Evidence files (after the databases: see above). Uploads in progress (tmp/) are skipped.
if [[ -d "$evidence" && "$evidence" != "$data_dir"/* ]]; then
    mkdir -p "$partial/evidence"
    tar -C "$evidence" --exclude=./tmp -cf - . | tar -C "$partial/evidence" -xf -
fi

# 3. The data directory: keys, PKI, calendars, directory, console key; evidence when inside.
# Live SQLite files (taken above), their journals and unfinished uploads are left out.
mkdir -p "$partial/data"
evidence_tmp=()
[[ "$evidence" == "$data_dir"/* ]] && evidence_tmp=(--exclude="./${evidence#"$data_dir"/}/tmp")
tar -C "$data_dir" --exclude='./*.db' --exclude='./*.db-wal' --exclude='./*.db-shm' \
    --exclude='./*.db-journal' "${evidence_tmp[@]}" -cf - . | tar -C "$partial/data" -xf -
for path in "${also[@]}"; do
    [[ -e "$path" ]] || die "--also $path: no such file"
    absolute="$(cd "$(dirname "$path")" && pwd)/$(basename "$path")"
    mkdir -p "$partial/also$(dirname "$absolute")"
    cp -a "$absolute" "$partial/also$absolute"
done
[[ -f "$partial/data/ledger/operator.key" ]] ||
    echo "backup: warning: no ledger/operator.key in $data_dir; add the operator key with --also" >&2

{
    echo "casebridge backup"
    echo "taken_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "data_dir=$data_dir"
    echo "database=$([[ -n "$database_url" ]] && echo postgresql || echo sqlite)"
} >"$partial/BACKUP"
(cd "$partial" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)
mv "$partial" "$out"
trap - EXIT
echo "backup: complete in $out"
