#!/usr/bin/env bash
# The installed package, tested as a user gets it: build the gan-notes wheel, install it into a fresh venv together with the
# newest fastcore, and run the `gan-notes` command from outside the repository: train (and resume), fid on two feature files
# whose FID is known exactly, a tiny compare, and bad input (exit status 2, one line). One PASS/FAIL line per check, then
# "N passed, N failed". Exit status 0 only when every check passed.
#   usage: bash tools/wheel_check.sh            (PYTHON=/path/to/python picks the interpreter; it needs the `build` module)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gan_notes_wheel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export MPLBACKEND=Agg PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
passed=0; failed=0

check() {  # check NAME CMD...: run CMD (output to a log), print PASS or FAIL with the log's tail
  local name=$1; shift
  if "$@" >"$WORK/check.log" 2>&1; then
    echo "PASS  $name"; passed=$((passed+1))
  else
    echo "FAIL  $name"; tail -n 25 "$WORK/check.log" | sed 's/^/      | /'; failed=$((failed+1))
  fi
}
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ] && exit 0 || exit 1; }

# ---- build and install ------------------------------------------------------------------------------------------------
# Built from a private copy of the tree: .ci/run starts this script while the notebooks are tested in the same checkout, and
# setuptools writes build/ and gan_notes.egg-info/ (entry points included) in the tree it builds from.
SRC="$WORK/src"; mkdir -p "$SRC"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$SRC" 2>/dev/null || true)
else cp -r "$ROOT"/. "$SRC"; rm -rf "$SRC/build" "$SRC"/*.egg-info; fi
check "build the wheel (python -m build --wheel)" "$PY" -m build --wheel --outdir "$WORK/dist" "$SRC"
WHEEL=$(ls "$WORK"/dist/gan_notes-*.whl 2>/dev/null | head -n 1 || true)
[ -n "$WHEEL" ] || { echo "FAIL  no wheel was built"; failed=$((failed+1)); finish; }
echo "      wheel: $(basename "$WHEEL")"
check "fresh venv" "$PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"; GN="$WORK/venv/bin/gan-notes"
check "pip install <wheel> fastcore --upgrade" "$VPY" -m pip install "$WHEEL" fastcore --upgrade
if [ ! -x "$GN" ]; then   # say why: what the wheel declares and what pip put in the venv
  echo "FAIL  the gan-notes console script is not installed"; failed=$((failed+1))
  "$PY" -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); e = [n for n in z.namelist() if n.endswith("entry_points.txt")]; print("      wheel entry points:", e and z.read(e[0]).decode().split() or "none")' "$WHEEL"
  echo "      venv bin: $(ls "$WORK/venv/bin" | tr '\n' ' ')"; tail -n 5 "$WORK/check.log" | sed 's/^/      | /'
  finish
fi
echo "      $("$VPY" -c 'import fastcore, torch; print(f"fastcore {fastcore.__version__}, torch {torch.__version__}")')"

cd "$WORK"   # from here on nothing can be imported from the repository by accident
check "gan_notes is imported from the venv, not the repository" \
  "$VPY" -c "import gan_notes, sys; p = gan_notes.__file__; print(p); sys.exit(0 if p.startswith('$WORK/venv') else 1)"
check "gan-notes --version" bash -c "'$GN' --version | grep -q '^gan-notes [0-9]'"

# ---- train ------------------------------------------------------------------------------------------------------------
check "gan-notes train --steps 50 (exit 0, summary printed)" \
  bash -c "'$GN' train --objective nonsaturating --data ring8 --steps 50 --seed 0 --out run --eval-every 25 > train.out 2> train.err && grep -q 'modes' train.out"
check "train wrote checkpoint, config, history, picture and metrics; no temporary file" bash -c '
  test "$(ls -A run | tr "\n" " ")" = "checkpoint.pt config.json history.csv metrics.json run.png "'
check "metrics.json: step 50, modes in 0..8, hq in [0, 1]" "$VPY" -c "
import json; m = json.load(open('run/metrics.json'))
assert m['step'] == 50 and 0 <= m['modes'] <= 8 and m['n_modes'] == 8 and 0 <= m['hq'] <= 1, m"
check "run.png is a PNG" "$VPY" -c "assert open('run/run.png', 'rb').read(8) == b'\x89PNG\r\n\x1a\n'"
check "gan-notes train --resume --steps 80 continues to step 80" bash -c "
  '$GN' train --out run --resume --steps 80 --quiet > resume.out && grep -q 'resumed at step 50' resume.out &&
  '$VPY' -c \"import json; assert json.load(open('run/metrics.json'))['step'] == 80\""

# ---- fid: b = a + c has the same covariance as a, so FID = |c|^2 = 1 + 4 = 5 exactly ---------------------------------
"$VPY" -c "
import numpy as np
a = np.random.default_rng(0).normal(size=(300, 4)); np.save('a.npy', a); np.save('b.npy', a + [1., 2., 0., 0.])"
check "gan-notes fid a.npy b.npy prints 5 (= |shift|^2)" bash -c "
  '$GN' fid a.npy b.npy > fid.out && '$VPY' -c \"v = float(open('fid.out').read()); assert abs(v - 5) < 1e-6, v\""

# ---- compare, tiny ----------------------------------------------------------------------------------------------------
check "gan-notes compare (tiny) writes report.md, report.png, runs.csv" bash -c "
  '$GN' compare --objectives nonsaturating wgan-gp --data ring8 --seeds 2 --steps 20 --jobs 1 --out rep --quiet > compare.out &&
  test -s rep/report.md && test -s rep/report.png && test -s rep/runs.csv && grep -q '| nonsaturating |' rep/report.md"

# ---- bad input: exit status 2 and one line 'gan-notes: error: ...', no traceback --------------------------------------
bad() {  # bad EXPECTED_TEXT ARGS...
  local want=$1; shift
  set +e; "$GN" "$@" > bad.out 2> bad.err; local rc=$?; set -e
  [ "$rc" -eq 2 ] && [ "$(wc -l < bad.err)" -eq 1 ] && grep -q '^gan-notes: error: ' bad.err && grep -qF -- "$want" bad.err \
    && ! grep -q Traceback bad.err || { echo "exit $rc"; cat bad.err; return 1; }
}
check "bad input: train --steps 0" bad "must be a positive integer, got 0" train --steps 0
check "bad input: compare --seeds 0" bad "must be a positive integer, got 0" compare --seeds 0
check "bad input: unknown option" bad "unrecognized arguments: --nope" train --nope
check "bad input: fid on a missing file" bad "missing.npy: no such file" fid missing.npy a.npy
printf 'not numpy' > junk.npy
check "bad input: fid on a malformed file" bad "junk.npy: not a .npy file" fid junk.npy a.npy
printf 'x' > afile
check "bad input: output folder that cannot be created" bad "cannot write to output folder" train --steps 5 --out afile/run

finish
