#!/bin/sh
# bench:solver compares with SciPy's solve_ivp: installs Debian's python3-scipy when no python3 here
# imports scipy (as root, or through sudo). Never fails the bench: without SciPy it reports
# Twinloop's figures only and says so.
for py in python3 /usr/bin/python3; do
  if "$py" -c 'import scipy' 2>/dev/null; then exit 0; fi
done
echo "bench:solver: SciPy not found; installing Debian's python3-scipy ..." >&2
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "bench:solver: not root and no sudo: install python3-scipy yourself for the comparison." >&2
  exit 0
fi
$SUDO apt-get update -qq >/dev/null 2>&1
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-scipy >/dev/null 2>&1 ||
  echo "bench:solver: apt-get install python3-scipy failed; the bench runs without SciPy." >&2
exit 0
