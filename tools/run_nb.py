#!/usr/bin/env python
"""Execute notebooks in place and save them with their outputs, the way the docs show them.

    python tools/run_nb.py nbs/01_structure.ipynb [more.ipynb ...] [--slow] [--keep-going]

- Cells run in order in one kernel-less shell (execnb, the executor nbdev_test uses), with the notebook's folder as the
  working directory, so what runs here is what `nbdev_test` runs.
- Cells flagged `#| slow` are skipped unless `--slow` is given; a skipped cell keeps the outputs it was saved with, so a
  long run executed once on purpose stays in the docs. Cells with `#| eval: false` never run. A cell that runs loses its
  old outputs first (execnb alone keeps them when the cell now prints nothing).
- The first failing cell stops the run (unless --keep-going): its number, first line and traceback are printed, and the
  notebook is NOT written, so a failure never replaces good saved outputs.
- Inline figures are drawn at 72 dpi (--dpi), the size the docs show, as plain (not 2x) PNGs re-encoded with an adaptive
  256-colour palette (lossless for most plots, 3-4x smaller).
- After writing, the notebook is cleaned (nbdev_clean) and its size is checked against the 500 KB limit.
Exit status: 0 when every notebook ran and was written, 1 otherwise.
"""
import argparse, re, sys, time
from pathlib import Path

LIMIT_KB = 500
_FLAG = re.compile(r'^\s*#\|\s*(.*)$')


def cell_flags(src: str) -> set:
    "The `#|` directives at the top of a cell's source, as a set of words (e.g. {'slow'}, {'eval:', 'false'})."
    out = set()
    for line in src.splitlines():
        m = _FLAG.match(line)
        if not m:
            if line.strip(): break
            continue
        out.update(w.strip().lower() for w in m.group(1).replace(':', ': ').split())
    return out


def _loud(src: str) -> str:
    "execnb drops a cell's printed output when its last line ends with ';': run such a cell with the ';' replaced."
    s = src.rstrip()
    return s[:-1] + '\n_run_nb_quiet = None' if s.endswith(';') else src


def _shrink_pngs(cell) -> int:
    "Re-encode the cell's PNG outputs with an adaptive 256-colour palette where that is smaller; return the bytes saved."
    import base64, io
    from PIL import Image
    saved = 0
    for o in cell.get('outputs', []):
        data = o.get('data') or {}
        if 'image/png' not in data: continue
        raw = base64.b64decode(data['image/png'])
        im = Image.open(io.BytesIO(raw))
        if im.mode == 'P': continue
        buf = io.BytesIO()
        im.convert('RGBA').quantize(256, method=Image.Quantize.FASTOCTREE).save(buf, format='png', optimize=True)
        if len(buf.getvalue()) < len(raw):
            data['image/png'] = base64.b64encode(buf.getvalue()).decode() + '\n'
            saved += len(raw) - len(buf.getvalue())
    return saved


def run_notebook(path: Path, slow: bool = False, keep_going: bool = False, dpi: int = 72) -> bool:
    import os
    cwd = os.getcwd()
    os.chdir(path.parent)          # as nbdev_test does: relative paths in a notebook are relative to its folder
    try: return _run(path, slow, keep_going, dpi)
    finally: os.chdir(cwd)


def _run(path: Path, slow: bool, keep_going: bool, dpi: int) -> bool:
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    nb = read_nb(path)
    shell = CaptureShell()
    shell._fname = str(path)
    shell.set_path(path.parent.resolve())
    shell.run("from matplotlib_inline.backend_inline import set_matplotlib_formats as _fmt; _fmt('png'); del _fmt\n"   # no 2x 'retina' PNGs
              f"import matplotlib as _mpl; _mpl.rcParams['figure.dpi'] = {dpi}; del _mpl")             # figures as the docs show them
    ok, t_nb = True, time.perf_counter()
    timings = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != 'code': continue
        flags = cell_flags(cell.source)
        if ('eval:' in flags and 'false' in flags) or ('slow' in flags and not slow): continue
        t = time.perf_counter()
        source = cell.source
        cell.source = _loud(source)
        cell.outputs = []          # execnb keeps a cell's old outputs when it prints nothing now: never show stale ones
        try: shell.cell(cell)
        finally: cell.source = source
        dt = time.perf_counter() - t
        timings.append((dt, i, cell.source.splitlines()[0][:70] if cell.source else ''))
        if shell.exc:
            ok = False
            print(f"{path.name}: cell {i} failed: {cell.source.splitlines()[0][:100] if cell.source else ''}", file=sys.stderr)
            for o in cell.get('outputs', []):
                if o.get('output_type') == 'error': print('\n'.join(o.get('traceback', [])), file=sys.stderr)
            if not keep_going: break
    total = time.perf_counter() - t_nb
    slowest = sorted(timings, reverse=True)[:3]
    print(f"{path.name}: {'ran' if ok else 'FAILED'} in {total:.1f} s; slowest cells: " +
          '; '.join(f"#{i} {dt:.1f}s ({src})" for dt, i, src in slowest))
    if not ok: return False
    saved = sum(_shrink_pngs(c) for c in nb.cells if c.cell_type == 'code')
    write_nb(nb, path)
    from nbdev.clean import nbdev_clean
    nbdev_clean(fname=str(path))
    kb = path.stat().st_size/1024
    if kb > LIMIT_KB: print(f"{path.name}: WARNING {kb:.0f} KB, over the {LIMIT_KB} KB limit", file=sys.stderr)
    else: print(f"{path.name}: {kb:.0f} KB (PNGs re-encoded with a 256-colour palette: {saved/1024:.0f} KB saved)")
    return True


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('notebooks', nargs='+', type=Path)
    p.add_argument('--slow', action='store_true', help='also run cells flagged #| slow')
    p.add_argument('--keep-going', action='store_true', help='run every cell even after a failure (nothing is written)')
    p.add_argument('--dpi', type=int, default=72, help="matplotlib's figure.dpi for inline figures (default 72)")
    a = p.parse_args(argv)
    import os
    os.environ.setdefault('MPLBACKEND', 'module://matplotlib_inline.backend_inline')
    results = [run_notebook(nb.resolve(), a.slow, a.keep_going, a.dpi) for nb in a.notebooks]
    return 0 if all(results) else 1


if __name__ == '__main__':
    sys.exit(main())
