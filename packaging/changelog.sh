#!/bin/sh
# Prints the Debian changelog of a nodeup package of version $1, maintained
# by $2: one entry for the commit it is built from, dated by that commit.
set -eu
version=$1
maintainer=$2
cd "$(dirname "$0")/.."
# Debian wants changelog lines of at most 80 characters.
subject=$(git log -1 --format=%s HEAD 2>/dev/null | cut -c1-72 || echo "nodeup $version")
date=$(git log -1 --format=%cD HEAD 2>/dev/null || date -R)
hash=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
cat <<CHANGES
nodeup ($version) unstable; urgency=medium

  * Built from commit $hash:
    $subject

 -- $maintainer  $date
CHANGES
