"""Run every gan_notes benchmark and write bench/results.md.

    python bench/run.py            # everything (about 35-40 minutes on 2 CPU cores)
    python bench/run.py --quick    # a smoke run with tiny budgets (results.md then says it is not a measurement)
    python bench/run.py --assemble # no runs: results.md from each benchmark's own bench/<name>_results.md, as last measured

Sections:
1. loop overhead: bench/loop_bench.py's run(out_dir) (the dashboard's cost per training step);
2. FID speed and accuracy: bench/fid_bench.py's run(out_dir);
3. sweep throughput: bench/sweep_bench.py's run(out_dir) (the comparison's batched ensembles against the same runs in turn);
4. CLI start-up: bench/cli_bench.py's run(out_dir) (`gan-notes --help` and `gan-notes train --help` against `python -c pass`);
5. time to quality: training seconds (and steps) until WGAN-GP, and separately the non-saturating GAN, first cover all 8 modes
   of ring8 with at least 90% high-quality samples, evaluated every --every steps within a step budget
   (gan_notes.experiments.time_to_quality), each with its toy settings. A run that never gets there is reported as such.
6. distributed training: bench/dist_bench.py's run(out_dir) (images/s of the toy MLP and a DCGAN-sized conv GAN with 1
   process without DDP, 1 and 2 processes under DDP, on the CPUs; the GPU part is `python bench/dist_bench.py --gpu`).
6. DCGAN training speed: bench/dcgan_bench.py's run(out_dir) (images/s of Learner.fit against a bare loop doing the same updates
   on the CPU; the GPU options, channels_last and bf16 autocast, only where CUDA is available).
8. live view: bench/widget_bench.py's run(out_dir) (frames/s and training overhead of the dashboard's live view on the toy
   MLPs, measured in a fresh ipykernel, and the cost of one frame by part).
9. precision, recall, density and coverage: bench/prdc_bench.py's run(out_dir) (gan_notes' streamed prdc against the prdc
   package at N = 2,500, 10,000 and 50,000, d = 2, 64 and 2048: time and peak memory, one core, a fresh process per measurement).
A benchmark script that does not exist is reported as missing in results.md; one that fails is reported with its error.
Each section's own files go to a temporary folder (--artifacts DIR keeps them); results.md is written atomically.
"""
import argparse, importlib.util, math, os, platform, statistics, sys, time, traceback
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load_script(name):
    "The module bench/<name>.py, or None when the file does not exist."
    path = HERE/f'{name}.py'
    if not path.exists(): return None
    spec = importlib.util.spec_from_file_location(f'bench_{name}', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def as_markdown(result)->str:
    "Render what a benchmark's run() returned: markdown text as is, a dict or a list of dicts as a table."
    if result is None: return ''
    if isinstance(result, (str, Path)):
        p = Path(result) if isinstance(result, Path) or (len(str(result)) < 300 and str(result).endswith('.md')) else None
        return p.read_text() if p is not None and p.exists() else str(result)
    if isinstance(result, dict):
        if all(isinstance(v, dict) for v in result.values()):
            return as_markdown([{'': k, **v} for k, v in result.items()])
        return as_markdown([{'quantity': k, 'value': v} for k, v in result.items()])
    if isinstance(result, (list, tuple)) and result and all(isinstance(r, dict) for r in result):
        keys = list(dict.fromkeys(k for r in result for k in r))
        fmt = lambda v: f'{v:.4g}' if isinstance(v, float) else str(v)
        lines = ['| ' + ' | '.join(keys) + ' |', '|' + '---|'*len(keys)]
        lines += ['| ' + ' | '.join(fmt(r.get(k, '')) for k in keys) + ' |' for r in result]
        return '\n'.join(lines)
    return f'```\n{result!r}\n```'


def external_section(name, title, out_root)->str:
    "Run bench/<name>.py's run(out_dir) and return its section of results.md."
    head = f'## {title}\n\nFrom `bench/{name}.py`'
    mod = load_script(name)
    if mod is None: return f'## {title}\n\n**Not run: `bench/{name}.py` does not exist (yet).**\n'
    if not callable(getattr(mod, 'run', None)): return f'{head}.\n\n**Not run: `bench/{name}.py` has no `run(out_dir)` function.**\n'
    out = out_root/name; out.mkdir(parents=True, exist_ok=True)
    print(f'[bench] {name} ...', file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try: result = mod.run(out)
    except Exception as e:
        traceback.print_exc()
        return f'{head}.\n\n**Failed after {time.perf_counter() - t0:.0f} s: {type(e).__name__}: {e}**\n'
    seconds = time.perf_counter() - t0
    mds = sorted(out.glob('*.md'))
    text = as_markdown(result) if isinstance(result, (str, Path)) or not mds else '\n\n'.join(p.read_text() for p in mds)
    return f'{head} ({seconds:.0f} s).\n\n{demote(text)}\n'


def demote(md:str)->str:
    "Move every markdown heading two levels down (outside code fences), so a script's report nests under its section."
    out, fence = [], False
    for line in md.splitlines():
        if line.lstrip().startswith('```'): fence = not fence
        out.append('##' + line if not fence and line.startswith('#') else line)
    return '\n'.join(out)


def time_to_quality_section(seeds, every, max_steps, max_seconds, quick)->str:
    "Time WGAN-GP and the non-saturating GAN to 8/8 modes with hq >= 0.9 on ring8."
    import torch
    torch.set_num_threads(1)
    from gan_notes.experiments import time_to_quality, get_toy
    settings = dict(width=16, depth=1) if quick else {}
    rows = []
    for obj in ('wgan-gp', 'nonsaturating'):
        for seed in range(seeds):
            print(f'[bench] time to quality: {obj}, seed {seed} ...', file=sys.stderr, flush=True)
            c0 = time.process_time()
            r = time_to_quality(obj, 'ring8', seed, hq=0.9, every=every, max_steps=max_steps, max_seconds=max_seconds, **settings)
            r['cpu'] = time.process_time() - c0
            rows.append(r)
    described = '; '.join(f"{o}: " + ', '.join(f'{k} {v}' for k, v in {**get_toy(o).settings, **settings}.items()) for o in ('wgan-gp', 'nonsaturating'))
    lines = ['## Time to quality on ring8', '',
             f'Training time until the generator first covers **all 8 modes with hq ≥ 0.9** (2,500 samples, evaluated every {every} '
             f'steps; the clock counts training only, not the evaluations). Budget per run: {max_steps} steps or {max_seconds:.0f} s of '
             f"training, one torch thread. Each objective with its toy settings ({described}). A step is one generator update.", '',
             '| objective | seed | reached | training seconds | steps | CPU seconds (incl. evaluation) | modes at stop | hq at stop |',
             '|---|---:|---|---:|---:|---:|---:|---:|']
    for r in rows:
        lines.append(f"| {r['objective']} | {r['seed']} | {'yes' if r['reached'] else '**no, budget spent**'} | {r['seconds']:.1f} | "
                     f"{r['steps']} | {r['cpu']:.1f} | {r.get('modes', '—')} | {100*r.get('hq', float('nan')):.1f}% |")
    lines.append('')
    for obj in ('wgan-gp', 'nonsaturating'):
        rs = [r for r in rows if r['objective'] == obj]
        ok = [r for r in rs if r['reached']]
        if ok:
            lines.append(f"- **{obj}**: reached in {len(ok)} of {len(rs)} runs; median {statistics.median(r['seconds'] for r in ok):.1f} s, "
                         f"{statistics.median(r['steps'] for r in ok):.0f} steps (over the runs that reached it).")
        else: lines.append(f"- **{obj}**: never reached within the budget ({max_steps} steps) in {len(rs)} runs.")
    return '\n'.join(lines) + '\n'


SECTIONS = (('loop_bench', 'Training-loop overhead'), ('fid_bench', 'FID: speed and accuracy'),
            ('sweep_bench', 'Sweep throughput'), ('cli_bench', 'CLI start-up time'), None,
            ('dist_bench', 'Distributed training (DDP) throughput'),
            ('dcgan_bench', 'DCGAN training speed: learner vs bare loop'),
            ('widget_bench', "Live view: frames per second and training overhead"),
            ('prdc_bench', 'Precision, recall, density and coverage: speed and memory'))   # None: the time-to-quality section


def assembled_section(name, title)->str:
    "The section of results.md from `bench/<name>`'s own results file (`loop_bench` -> `loop_results.md`), without running it."
    md = HERE/f"{name.removesuffix('_bench')}_results.md"
    if not md.exists(): return f'## {title}\n\n**Not measured yet: `{md.relative_to(HERE.parent)}` does not exist.**\n'
    return f'## {title}\n\nFrom `{md.relative_to(HERE.parent)}` (written by `python bench/{name}.py`).\n\n{demote(md.read_text())}\n'


def assemble(out)->str:
    "Write results.md from the benchmarks' own results files; run nothing."
    text = '\n'.join(['# gan_notes benchmarks', '',
        f"`python bench/run.py --assemble`, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: each section below is its benchmark's "
        "own results file, as last measured (each says when and on what machine). Nothing was run for this page.", '',
        *[assembled_section(*sec) if sec else
          '## Time to quality on ring8\n\n**Not in this page:** it has no results file of its own and was last measured with '
          "WGAN-GP's image defaults, which the main job no longer uses; `python bench/run.py` measures it again.\n"
          for sec in SECTIONS]])
    from gan_notes.structure import atomic_write
    atomic_write(out, lambda f: f.write(text), mode='w')
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='tiny budgets, for a smoke test (not a measurement)')
    p.add_argument('--seeds', type=int, default=3, help='seeds per objective for time to quality (default 3)')
    p.add_argument('--every', type=int, default=100, help='steps between evaluations (default 100)')
    p.add_argument('--max-steps', type=int, default=20000, help='step budget per time-to-quality run (default 20000)')
    p.add_argument('--max-seconds', type=float, default=300., help='training-time budget per run (default 300)')
    p.add_argument('--out', default=str(HERE/'results.md'), help='the results file (default bench/results.md)')
    p.add_argument('--artifacts', help="folder for the benchmarks' own files (default: a temporary folder, removed)")
    p.add_argument('--assemble', action='store_true', help="run nothing: results.md from each benchmark's own results file")
    a = p.parse_args(argv)
    if a.assemble: return print(f'[bench] wrote {a.out}', assemble(a.out)[:0], file=sys.stderr)
    if a.quick: a.seeds, a.every, a.max_steps = 1, 20, 100
    if min(a.seeds, a.every, a.max_steps) < 1 or not a.max_seconds > 0: p.error('seeds, every, max-steps and max-seconds must be positive')
    import shutil, tempfile
    out_root = Path(a.artifacts) if a.artifacts else Path(tempfile.mkdtemp(prefix='gan_notes_bench.'))
    t0 = time.perf_counter()
    import torch
    head = ['# gan_notes benchmarks', '',
            f"`python bench/run.py{' --quick' if a.quick else ''}`, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; Python "
            f"{platform.python_version()}, torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPU cores, "
            f"load average at start {os.getloadavg()[0]:.1f}.", '']
    if a.quick: head += ['**Quick smoke run with tiny budgets: these numbers are not measurements.**', '']
    sections = [external_section(*sec, out_root) if sec else
                time_to_quality_section(a.seeds, a.every, a.max_steps, a.max_seconds, a.quick) for sec in SECTIONS]
    text = '\n'.join(head) + '\n' + '\n'.join(sections) + f'\nTotal benchmark time {time.perf_counter() - t0:.0f} s.\n'
    from gan_notes.structure import atomic_write
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(a.out, lambda f: f.write(text), mode='w')
    print(text)
    print(f'[bench] wrote {a.out}', file=sys.stderr)
    if not a.artifacts: shutil.rmtree(out_root, ignore_errors=True)


if __name__ == '__main__': main()
