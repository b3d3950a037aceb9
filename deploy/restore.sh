#!/usr/bin/env bash
# Restores a backup made by deploy/backup.sh into a new data directory (and an empty
# PostgreSQL database), then checks it with `casebridge migrate status` and
# `casebridge ledger verify`.
#
#   deploy/restore.sh --data-dir NEW_DIR [--database-url URL] [--evidence DIR]
#                     [--casebridge BIN] [--config FILE] [--no-verify] BACKUP
#
# It never overwrites: the data directory must be new or empty, the database must exist and
# hold no tables (create it with `createdb`), and an evidence directory outside the data
# directory must be new or empty. Files the backup took with --also are under BACKUP/also/ at
# their original absolute paths: put them back by hand. Start CaseBridge on the restored copy
# only after this script says it verified (docs/operations.md, "Restoring").
set -euo pipefail

die() {
    echo "restore: $*" >&2
    exit 1
}

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

data_dir=""
database_url=""
evidence=""
casebridge="${CASEBRIDGE_BIN:-casebridge}"
config=()
verify=1
backup=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --data-dir) data_dir="${2:?--data-dir needs a directory}"; shift 2 ;;
        --database-url) database_url="${2:?--database-url needs a URL}"; shift 2 ;;
        --evidence) evidence="${2:?--evidence needs a directory}"; shift 2 ;;
        --casebridge) casebridge="${2:?--casebridge needs the binary}"; shift 2 ;;
        --config) config=(--config "${2:?--config needs a file}"); shift 2 ;;
        --no-verify) verify=0; shift ;;
        -h | --help) usage ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [[ -z "$backup" ]] || die "one backup only (got $backup and $1)"; backup="$1"; shift ;;
    esac
done
[[ -n "$backup" && -n "$data_dir" ]] || usage
[[ -f "$backup/SHA256SUMS" && -f "$backup/BACKUP" ]] ||
    die "$backup is not a complete backup (no SHA256SUMS or BACKUP; an interrupted one ends in .partial)"
empty_or_new() {
    [[ ! -e "$1" ]] || [[ -d "$1" && -z "$(ls -A "$1")" ]]
}
empty_or_new "$data_dir" || die "$data_dir is not empty: restore into a new directory"
if [[ -f "$backup/database.dump" ]]; then
    [[ -n "$database_url" ]] || die "the backup holds a PostgreSQL dump: give --database-url of an empty database"
elif [[ -n "$database_url" ]]; then
    die "the backup holds SQLite files, not a PostgreSQL dump: leave out --database-url"
fi
if [[ -d "$backup/evidence" ]]; then
    [[ -n "$evidence" ]] || die "the backup holds an evidence directory kept outside the data directory: give --evidence"
    empty_or_new "$evidence" || die "$evidence is not empty"
fi

# Every file as it was written: a damaged or incomplete copy stops here.
(cd "$backup" && sha256sum --check --quiet SHA256SUMS) || die "$backup does not match its SHA256SUMS"

if [[ -n "$database_url" ]]; then
    command -v pg_restore >/dev/null || die "pg_restore is not installed (Debian: postgresql-client)"
    tables="$(psql "$database_url" -Atc "SELECT count(*) FROM pg_tables \
        WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")" ||
        die "cannot reach $database_url (create it first: createdb)"
    [[ "$tables" == "0" ]] || die "$database_url already holds $tables table(s): restore into an empty database"
    # All or nothing: a failure leaves the database empty.
    pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
        --dbname="$database_url" "$backup/database.dump" || die "pg_restore failed; the database is left empty"
fi

mkdir -p "$data_dir"
cp -a "$backup/data/." "$data_dir/"
if [[ -d "$backup/sqlite" ]]; then
    cp -a "$backup/sqlite/." "$data_dir/"
fi
if [[ -d "$backup/evidence" ]]; then
    mkdir -p "$evidence"
    cp -a "$backup/evidence/." "$evidence/"
fi
if [[ -d "$backup/also" ]]; then
    echo "restore: files taken with --also are in $backup/also (by absolute path); put them back by hand" >&2
fi

if [[ "$verify" -eq 1 ]]; then
    command -v "$casebridge" >/dev/null ||
        die "cannot run $casebridge to verify (give --casebridge BIN, or --no-verify and verify yourself)"
    export CASEBRIDGE__DATA_DIR="$data_dir"
    if [[ -n "$database_url" ]]; then
        export CASEBRIDGE__STORE__URL="$database_url"
    fi
    # What the next start will do to the schema, and whether every chain is genuine.
    "$casebridge" migrate status "${config[@]}" --data-dir "$data_dir" ||
        die "the restored schema does not match this binary (see above)"
    "$casebridge" ledger verify "${config[@]}" --data-dir "$data_dir" ||
        die "the restored record does not verify (see above)"
fi
echo "restore: complete in $data_dir$([[ -n "$database_url" ]] && echo " and $database_url")"
