"""Sweep throughput: the runs of a comparison trained as batched ensembles against the same runs trained one after another.

The main job (`gan-notes compare`) trains all the runs of one objective (its seeds on every dataset: 6 by default) together,
as one batched ensemble of independent networks (`gan_notes.comparison.ensemble_learner`). This benchmark measures what that buys, in one process on
one torch thread, for each objective of `gan_notes.experiments.OBJECTIVES` with its default toy settings:

- **sequential**: `seeds` separate learners of ring8 (seeds 0, 1, ...; default 6, the members of one ensemble of the default
  comparison: 3 seeds × 2 datasets), each trained `steps` steps, one after another;
- **ensemble**: the same runs as one ensemble learner, `steps` steps.

Both do the same updates (the comparison notebook checks in float64 that the ensemble's members are the separate runs). The
machine is shared and its load changes from second to second, so the two versions alternate in rounds and we report, per
objective, the median over rounds of the time ratio sequential / ensemble: the throughput ratio (runs × steps per second),
in CPU time (what the version itself used) and in wall time. Overall: the ratio of the summed times, each objective weighted
as in the default comparison (equal runs and steps).

A second part times a small sweep (every objective, ring8, `seeds` seeds, `sweep_steps` steps) the way the main job runs it,
`gan_notes.comparison.sweep` with 2 worker processes, against the same runs trained one after another in this process: the
ratio of wall times is what a user sees. On a shared machine the workers do not get whole cores, so this ratio understates
a quiet machine's.

    python bench/sweep_bench.py [--steps 200] [--rounds 3] [--seeds 6] [--sweep-steps 300] [--out bench]

`run(out_dir)` does the same from Python (for `bench/run.py`), writes `sweep_results.json` and `sweep_results.md`, and
returns the path of the Markdown file.
"""
import argparse, json, os, platform, statistics, sys, time
from pathlib import Path
import torch
from gan_notes.comparison import ensemble_learner, resolve, sweep
from gan_notes.experiments import OBJECTIVES, evaluate

TARGET = 3.0

def _time(f):
    t, c = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - t, time.process_time() - c

def objective_ratios(steps:int=200, rounds:int=3, seeds:int=6)->dict:
    "Per objective: times of `seeds` separate runs and of the same runs as one ensemble, `steps` steps, over `rounds` rounds."
    out = {}
    for name, ref in OBJECTIVES.items():
        spec = resolve(ref)
        # WGAN and WGAN-GP take 5 critic updates per step: fewer steps keep every objective's share of the time comparable
        n = max(20, steps//spec.settings.get('k', 1))
        rec = {'steps': n, 'seq_wall': [], 'seq_cpu': [], 'ens_wall': [], 'ens_cpu': []}
        for r in range(rounds):
            singles = [spec.learner('ring8', s) for s in range(seeds)]
            ens = ensemble_learner([spec.learner('ring8', s) for s in range(seeds)])
            for l in singles + [ens]: l.fit(1)          # first step outside the clock (shape check, allocations)
            order = [('seq', lambda: [l.fit(n) for l in singles]), ('ens', lambda: ens.fit(n))]
            for kind, f in (order if r % 2 == 0 else order[::-1]):
                w, c = _time(f); rec[f'{kind}_wall'].append(w); rec[f'{kind}_cpu'].append(c)
        for clock in ('wall', 'cpu'):
            rec[f'ratio_{clock}'] = statistics.median(s/e for s, e in zip(rec[f'seq_{clock}'], rec[f'ens_{clock}']))
        out[name] = rec
        print(f"[sweep_bench] {name}: ensemble of {seeds} is {rec['ratio_cpu']:.2f}x (CPU) {rec['ratio_wall']:.2f}x (wall) "
              f"the throughput of {seeds} runs in turn", file=sys.stderr, flush=True)
    return out

def sweep_versus_sequential(seeds:int=6, steps:int=300, jobs:int=2)->dict:
    "Wall time of a small sweep in `jobs` workers against the same runs, one after another, in this process."
    objectives = dict(OBJECTIVES)
    t = time.perf_counter()
    runs = sweep(objectives, ['ring8'], seeds, steps, jobs=jobs, evaluate='gan_notes.experiments:evaluate', eval_every=steps, eval_last=1)
    w_sweep = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    for name, ref in objectives.items():
        for s in range(seeds): evaluate(resolve(ref).learner('ring8', s).fit(steps))
    w_seq, c_seq = time.perf_counter() - t, time.process_time() - c
    return {'runs': len(runs), 'steps': steps, 'jobs': jobs, 'sweep_wall': w_sweep, 'sequential_wall': w_seq, 'sequential_cpu': c_seq,
            'ratio_wall': w_seq/w_sweep}

def overall(per:dict)->dict:
    """Throughput ratio of all objectives together, each run for the same number of steps (as in the default comparison):
    the summed time per step of the runs in turn over the summed time per step of the ensembles, per clock."""
    return {clock: sum(statistics.median(r[f'seq_{clock}'])/r['steps'] for r in per.values())
                   /sum(statistics.median(r[f'ens_{clock}'])/r['steps'] for r in per.values()) for clock in ('wall', 'cpu')}

def markdown(res:dict)->str:
    m, p, s = res['machine'], res['per_objective'], res['sweep']
    lines = ['# Sweep throughput', '',
             f"{res['date']}; {m['cpus']} CPU cores, torch {m['torch']}, one torch thread per process; load average {m['load_start']:.1f} "
             f"at the start and {m['load_end']:.1f} at the end (the machine is shared).", '',
             f"**Ensemble against runs in turn**, one process: {res['seeds']} runs of ring8 (seeds 0–{res['seeds'] - 1}) with each objective's "
             f"default toy settings, trained one after another or as one batched ensemble; median over {res['rounds']} alternating rounds "
             "of the time ratio (= the ratio of runs × steps per second).", '',
             '| objective | steps | runs in turn: CPU s (median) | ensemble: CPU s (median) | throughput ratio, CPU | throughput ratio, wall |',
             '|---|---:|---:|---:|---:|---:|']
    for name, r in p.items():
        lines.append(f"| {name} | {r['steps']} | {statistics.median(r['seq_cpu']):.2f} | {statistics.median(r['ens_cpu']):.2f} | "
                     f"{r['ratio_cpu']:.2f}× | {r['ratio_wall']:.2f}× |")
    lines += [f"| **all, as weighted in the default comparison** | | | | **{res['overall_cpu']:.2f}×** | **{res['overall_wall']:.2f}×** |", '',
              f"**The main job's way against runs in turn**: a sweep of {s['runs']} runs ({len(p)} objectives × {res['seeds']} seeds, ring8, "
              f"{s['steps']} steps), `sweep` in {s['jobs']} worker processes: {s['sweep_wall']:.1f} s wall; the same runs one after another in "
              f"one process: {s['sequential_wall']:.1f} s wall ({s['sequential_cpu']:.1f} s CPU, so that process got "
              f"{s['sequential_cpu']/s['sequential_wall']:.0%} of a core). Ratio **{s['ratio_wall']:.2f}×** in wall time "
              "(worker start-up included; on a shared machine the workers do not get whole cores).", '',
              f"**Target** ≥ {TARGET:g}× sweep throughput against runs in turn: "
              + ('met' if s['ratio_wall'] >= TARGET else 'not met') + f" by the main job's way ({s['ratio_wall']:.2f}× wall); the ensemble "
              f"alone, in one process, gives {res['overall_cpu']:.2f}× (CPU time)."]
    return '\n'.join(lines) + '\n'

def run(out_dir="bench", steps:int=200, rounds:int=3, seeds:int=6, sweep_steps:int=300)->Path:
    "Measure, write `sweep_results.json` and `sweep_results.md` into `out_dir`, return the Markdown file's path."
    torch.set_num_threads(1)
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    per = objective_ratios(steps, rounds, seeds)
    sw = sweep_versus_sequential(seeds, sweep_steps)
    tot = overall(per)
    res = {'date': time.strftime('%Y-%m-%d %H:%M'), 'seeds': seeds, 'rounds': rounds,
           'machine': {'cpus': os.cpu_count(), 'torch': torch.__version__, 'python': platform.python_version(), 'load_start': load0,
                       'load_end': os.getloadavg()[0]},
           'per_objective': per, 'overall_cpu': tot['cpu'], 'overall_wall': tot['wall'], 'sweep': sw, 'target': TARGET}
    (out/'sweep_results.json').write_text(json.dumps(res, indent=1) + '\n')
    md = out/'sweep_results.md'; md.write_text(markdown(res))
    return md

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=200); p.add_argument('--rounds', type=int, default=3)
    p.add_argument("--seeds", type=int, default=6); p.add_argument('--sweep-steps', type=int, default=300)
    p.add_argument('--out', default=str(Path(__file__).resolve().parent))
    a = p.parse_args()
    print(run(a.out, a.steps, a.rounds, a.seeds, a.sweep_steps).read_text())
