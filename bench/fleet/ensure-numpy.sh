#!/bin/sh
# bench:fleet:numpy runs the pump fleet in hand-written NumPy beside Twinloop: installs Debian's
# python3-numpy when no python3 here imports numpy (as root, or through sudo). Never fails the bench:
# without NumPy it reports Twinloop's figures only and says so.
for py in python3 /usr/bin/python3; do
  if "$py" -c 'import numpy' 2>/dev/null; then exit 0; fi
done
echo "bench:fleet:numpy: NumPy not found; installing Debian's python3-numpy ..." >&2
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "bench:fleet:numpy: not root and no sudo: install python3-numpy yourself for the comparison." >&2
  exit 0
fi
$SUDO apt-get update -qq >/dev/null 2>&1
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-numpy >/dev/null 2>&1 ||
  echo "bench:fleet:numpy: apt-get install python3-numpy failed; the bench runs without NumPy." >&2
exit 0
