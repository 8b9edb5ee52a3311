#!/bin/sh
# Prints nodeup's version for binaries and packages, so that versions sort
# (dpkg and rpm alike):
#   at a tag vX.Y.Z             X.Y.Z
#   after tag vX.Y.Z            X.Y.Z+git<commit date>.<hash>   above X.Y.Z, below the next tag
#   with no tag                 0.0.0~git<commit date>.<hash>   below every tag
# A pre-release tag v1.2.0-rc1 becomes 1.2.0~rc1, which sorts below 1.2.0.
# The commit date (UTC, to the second) orders builds between two tags; a tree
# with uncommitted changes gets ".dirty" after the hash.
set -eu
cd "$(dirname "$0")/.."
if ! hash=$(git rev-parse --short=12 HEAD 2>/dev/null); then
  echo 0.0.0~unknown
  exit 0
fi
date=$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd HEAD)
dirty=
if ! git diff --quiet HEAD -- 2>/dev/null; then
  dirty=.dirty
fi
plain() { printf '%s\n' "${1#v}" | tr -- - '~'; }
if tag=$(git describe --tags --exact-match --match 'v[0-9]*' HEAD 2>/dev/null) && [ -z "$dirty" ]; then
  plain "$tag"
elif tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' HEAD 2>/dev/null); then
  echo "$(plain "$tag")+git$date.$hash$dirty"
else
  echo "0.0.0~git$date.$hash$dirty"
fi
