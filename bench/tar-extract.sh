#!/usr/bin/env bash
# `pcapkit tar-extract` against `tar -xzf ARCHIVE --wildcards PATTERN`, in one run, on a >= 1 GB .tar.gz of the
# shared captures (COPIES folders, each a full copy of ../shared/pcaps). The archive is built under bench/data on
# first use and reused after. Both tools extract the same selection (every .pcap under one folder, checked by
# count); the page cache is warmed first, each tool runs RUNS times alternately, and the best time counts.
# Target: tar's time / our time >= 0.9. Needs a build (npx tsc -p .).
#
#   bench/tar-extract.sh            COPIES=66 RUNS=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=$(realpath ../shared/pcaps)
COPIES=${COPIES:-66}
RUNS=${RUNS:-3}
DATA=$ROOT/bench/data/tar-extract
ARCHIVE=$DATA/captures-x$COPIES.tar.gz
FOLDER=copy07
OURS_OUT=$DATA/out-pcapkit
TAR_OUT=$DATA/out-tar

if [ ! -s "$ARCHIVE" ]; then
  echo "building $ARCHIVE ($COPIES copies of $SHARED)…" >&2
  tree=$DATA/tree
  rm -rf "$tree" && mkdir -p "$tree"
  # Symlinked copies, stored as real files by -h (--hard-dereference: not as hard links to the first copy), so the
  # archive holds gigabytes without a source tree of gigabytes.
  for i in $(seq -w 1 "$COPIES"); do ln -s "$SHARED" "$tree/copy$i"; done
  tar -czh --hard-dereference -f "$ARCHIVE.partial" -C "$tree" $(ls "$tree")
  mv "$ARCHIVE.partial" "$ARCHIVE"
  rm -rf "$tree"
fi

# Seconds taken by a command (bash's microsecond clock); its output is dropped unless it fails.
seconds() {
  local t0=$EPOCHREALTIME
  if ! "$@" > /dev/null 2> "$DATA/stderr.log"; then
    echo "failed: $*" >&2
    cat "$DATA/stderr.log" >&2
    return 1
  fi
  echo "$EPOCHREALTIME - $t0" | bc -l
}
lesser() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }

best_tar=
best_ours=
cat "$ARCHIVE" > /dev/null # warm the page cache for both
for _ in $(seq "$RUNS"); do
  rm -rf "$TAR_OUT" "$OURS_OUT" && mkdir -p "$TAR_OUT"
  t=$(seconds tar -xzf "$ARCHIVE" -C "$TAR_OUT" --wildcards "$FOLDER/*.pcap")
  best_tar=$(lesser "$best_tar" "$t")
  t=$(seconds node bin/run.js tar-extract --in-tarball "$ARCHIVE" --file-regexp "^$FOLDER/.*\\.pcap\$" --out-dir "$OURS_OUT")
  best_ours=$(lesser "$best_ours" "$t")
done

ours_files=$(find "$OURS_OUT" -type f | wc -l)
tar_files=$(find "$TAR_OUT" -type f | wc -l)
if [ "$ours_files" != "$tar_files" ]; then echo "selection differs: pcapkit $ours_files files, tar $tar_files" >&2; exit 1; fi
diff -r "$OURS_OUT" "$TAR_OUT" > /dev/null || { echo "extracted files differ from tar's" >&2; exit 1; }

printf 'archive   %s: %s gzipped, %s copies of %s files (%s)\n' "$ARCHIVE" "$(du -h "$ARCHIVE" | cut -f1)" \
  "$COPIES" "$(find "$SHARED" -type f | wc -l)" "$(du -sh "$SHARED" | cut -f1)"
printf 'selection %s files (%s) under %s/\n' "$ours_files" "$(du -sh "$OURS_OUT" | cut -f1)" "$FOLDER"
printf 'tar       %.2f s\n' "$best_tar"
printf 'pcapkit   %.2f s\n' "$best_ours"
printf 'ratio     %.2f (tar time / pcapkit time; target >= 0.9)\n' "$(echo "$best_tar / $best_ours" | bc -l)"
rm -rf "$OURS_OUT" "$TAR_OUT" "$DATA/stderr.log"
