#!/usr/bin/env bash
# Installs chDB's libchdb.so (ClickHouse 26.7 as a library) for the tests that
# run the project's SQL on a current ClickHouse (see docs/sql-compat.md).
# Idempotent: a library already in place is not downloaded again.
#   deploy/local/chdb.sh install   # npm pack the pinned package, unpack libchdb.so
#   deploy/local/chdb.sh path      # print where the library is (CHDB_LIB_PATH for the tests)
# The library lives outside the clone (about 570 MB), shared by every clone of this version:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/tokentrail/chdb/<version>/libchdb.so
set -euo pipefail

PACKAGE=@chdb/lib-linux-x64-gnu
VERSION=26.7.3-stable.1
DIR=${XDG_CACHE_HOME:-$HOME/.cache}/tokentrail/chdb/$VERSION
LIB=$DIR/libchdb.so

install() {
  if [ -s "$LIB" ]; then return 0; fi
  command -v npm >/dev/null || "$(dirname "$0")/apt.sh" npm
  mkdir -p "$DIR"
  tmp=$(mktemp -d "$DIR/.install.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "chdb.sh: downloading $PACKAGE@$VERSION (about 180 MB) into $DIR" >&2
  (cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/libchdb.so
  # Rename last: an interrupted install leaves no half-written library behind.
  mv "$tmp/package/libchdb.so" "$LIB"
}

case "${1:-}" in
  install) install ;;
  path) echo "$LIB" ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
