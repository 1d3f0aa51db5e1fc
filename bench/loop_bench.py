"""Training-loop benchmark on ring8: steps per second of a bare PyTorch loop, `Learner.fit`, and `Learner.fit` with a `Dashboard`.

All versions do the same updates (same MLPs, batch 256, k = 1, Adam lr 1e-3 betas (0.5, 0.999), one CPU thread); the bare
loop is checked to reproduce the learner's losses bit for bit before anything is timed.

The machine is shared and its load changes from second to second by more than the effects measured here, so the versions
are interleaved finely: in each round every version runs one whole fit in its own thread, and they take turns on the CPU
`chunk` (10) steps at a time, so that all of them see the same load. Each version's clocks (wall, and its thread's CPU
time) run only during its turns; its fit's setup and end (the dashboard's final figure) count too. We report medians over
rounds, and the overheads as medians of the per-round time ratios.

    python bench/loop_bench.py [--steps 2000] [--reps 3] [--chunk 10] [--out bench]

`run(out_dir)` does the same from Python (for `bench/run.py`), writes `loop_results.json` and `loop_results.md`, and
returns the path of the Markdown file.
"""
import argparse, contextlib, io, json, os, platform, statistics, sys, threading, time
from pathlib import Path
import torch
import torch.nn.functional as F
from gan_notes.structure import Callback, toy_learner, default_callbacks
from gan_notes.dashboard import Dashboard

CONFIG = dict(data='ring8', width=128, depth=3, z_dim=2, batch_size=256, k=1, lr=1e-3, betas=(0.5, 0.999), seed=0)
TARGETS = {'loop_vs_bare': 0.05, 'dashboard_vs_loop': 0.10}

def make_learner(cbs=()):
    "A ring8 learner with the benchmark's configuration (cross-entropy objective, Adam)."
    c = CONFIG
    return toy_learner(c['data'], z_dim=c['z_dim'], width=c['width'], depth=c['depth'], seed=c['seed'], lr=c['lr'],
                       batch_size=c['batch_size'], k=c['k'], betas=c['betas'], cbs=list(cbs))

def bare_loop(learn, steps:int, record:bool=False, hook=None)->list:
    "The learner's updates written by hand: k D steps on fresh batches, then a G step with D frozen. No callbacks, no logs."
    G, D, opt_g, opt_d, data, rng = learn.G, learn.D, learn.opt_g, learn.opt_d, learn.data, learn.rng
    n, z_dim, k = learn.batch_size, learn.z_dim, learn.k
    losses = []
    for s in range(steps):
        for _ in range(k):
            opt_d.zero_grad(set_to_none=True)
            real = data.sample(n, rng)
            with torch.no_grad(): fake = G(torch.randn(n, z_dim, generator=rng))
            d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
            d_loss.backward()
            opt_d.step()
        D.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        data.sample(n, rng)  # Learner.one_step draws a real batch for g_loss too (CrossEntropyObjective only uses its size)
        g_loss = F.softplus(-D(G(torch.randn(n, z_dim, generator=rng)))).mean()
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        if record: losses.append((d_loss.item(), g_loss.item()))
        if hook is not None: hook(s + 1)   # the benchmark's turn-taking
    return losses

def check_same_updates(steps:int=30)->bool:
    "True when the bare loop and `Learner.fit` give identical losses and weights."
    bare = make_learner(); losses = bare_loop(bare, steps, record=True)
    loop = make_learner(default_callbacks()).fit(steps)
    same = [d for d, _ in losses] == loop.history['d_loss'] and [g for _, g in losses] == loop.history['g_loss']
    return same and all(torch.equal(a, b) for a, b in zip(bare.G.parameters(), loop.G.parameters()))

class Baton:
    """Lets the versions take turns on the CPU, `chunk` steps at a time, each in its own thread, and times each one's turns.

    Interleaving at the scale of milliseconds puts every version under the same machine load, which repetitions of whole
    runs (seconds apart) do not: on a shared machine the load changes from one run to the next by more than the effects
    we measure. Each version's clocks (wall and its thread's CPU time) run only while it holds the baton."""
    def __init__(self, names, chunk:int):
        self.names, self.chunk, self.turn, self.cond = list(names), chunk, 0, threading.Condition()
        self.done, self.wall, self.cpu, self._t = set(), dict.fromkeys(names, 0.), dict.fromkeys(names, 0.), {}

    def acquire(self, name):
        with self.cond:
            while self.names[self.turn] != name: self.cond.wait()
        self._t[name] = (time.perf_counter(), time.thread_time())

    def release(self, name, finished=False):
        t, c = self._t.pop(name)
        self.wall[name] += time.perf_counter() - t; self.cpu[name] += time.thread_time() - c
        with self.cond:
            if finished: self.done.add(name)
            if len(self.done) < len(self.names):
                self.turn = (self.turn + 1) % len(self.names)
                while self.names[self.turn] in self.done: self.turn = (self.turn + 1) % len(self.names)
            self.cond.notify_all()

    def clock(self, name):
        "A clock for version `name` that runs only during its turns (what a dashboard in it sees as elapsed time)."
        return lambda: self.wall[name] + (time.perf_counter() - self._t[name][0] if name in self._t else 0.)

    def step(self, name, step):
        "Called after every training step: every `chunk` steps, hand over to the next version and wait for the turn."
        if step % self.chunk == 0: self.release(name); self.acquire(name)

class _Turns(Callback):
    "Passes the baton from inside `Learner.fit` (last of all callbacks, so each step's callbacks count for its version)."
    order = 1000
    def __init__(self, baton, name): self.baton, self.name = baton, name
    def after_step(self, learn): self.baton.step(self.name, learn.step)

def _run_bare(baton, name, steps):
    learn = make_learner()
    baton.acquire(name)
    bare_loop(learn, steps, hook=lambda step: baton.step(name, step))
    baton.release(name, finished=True)

def _run_fit(extra_cbs, default_cbs=True):
    def go(baton, name, steps):
        learn = make_learner(default_callbacks() if default_cbs else ())
        cbs = extra_cbs(baton.clock(name)) + [_Turns(baton, name)]
        baton.acquire(name)
        learn.fit(steps, cbs=cbs)   # includes the callbacks' before_fit and after_fit (the dashboard's final figure)
        baton.release(name, finished=True)
    return go

VERSIONS = {
    'bare': ('bare PyTorch loop (no callbacks)', _run_bare),
    'loop_nocb': ('Learner.fit, no callbacks', _run_fit(lambda clock: [], default_cbs=False)),
    'loop': ('Learner.fit, default_callbacks()', _run_fit(lambda clock: [])),
    # the dashboards get a clock that runs only during their version's turns: their redraw budget is a share of the time
    # *they* trained, which the wall clock (running through the other versions' turns too) would overstate five times
    'dashboard': ('Learner.fit + Dashboard() (defaults; outside Jupyter: progress bar, grad norms)',
                  _run_fit(lambda clock: [Dashboard(clock=clock)])),
    'dashboard_live': ('Learner.fit + Dashboard(live=True) (live redraws + final figure, as in Jupyter)',
                       _run_fit(lambda clock: [Dashboard(live=True, clock=clock)])),
}

def interleaved_round(versions, steps:int, chunk:int, table=None)->dict:
    "Run one fit of each version of `table` (default `VERSIONS`), interleaved `chunk` steps at a time; `{version: (wall_s, cpu_s)}`."
    baton, table = Baton(versions, chunk), VERSIONS if table is None else table
    errors = []
    def target(v):
        try: table[v][1](baton, v, steps)
        except BaseException as e:
            errors.append((v, e))
            if v in baton._t: baton.release(v, finished=True)
    threads = [threading.Thread(target=target, args=(v,), daemon=True) for v in versions]
    with contextlib.redirect_stderr(io.StringIO()):   # the dashboards' progress bars
        for t in threads: t.start()
        for t in threads: t.join()
    if errors: raise RuntimeError(f"version {errors[0][0]} failed: {errors[0][1]!r}") from errors[0][1]
    return {v: (baton.wall[v], baton.cpu[v]) for v in versions}

def _ratio_stats(times, a, b, i):
    rs = [x[i]/y[i] for x, y in zip(times[a], times[b])]
    return {'median': statistics.median(rs) - 1, 'min': min(rs) - 1, 'max': max(rs) - 1}

def run(out_dir='bench', # Folder for loop_results.json and loop_results.md
        steps:int=2000, # Training steps of each fit
        reps:int=3, # Rounds; each round runs one fit of every version, interleaved
        chunk:int=10, # Steps per turn
        threads:int=1, # torch intra-op threads
        versions=tuple(VERSIONS), # Which versions to time
        verbose:bool=True)->Path:
    "Time the versions, interleaved; write `loop_results.json` and `loop_results.md` to `out_dir`; return the Markdown's path."
    torch.set_num_threads(threads)
    same = check_same_updates()
    if not same: raise RuntimeError("the bare loop does not reproduce the learner's updates; the comparison would be unfair")
    interleaved_round(versions, 50, chunk)   # warm-up: imports, allocator, matplotlib fonts
    load0 = os.getloadavg()
    times = {v: [] for v in versions}
    for r in range(reps):
        res_r = interleaved_round(versions, steps, chunk)
        for v in versions:
            times[v].append(res_r[v])
            if verbose: print(f"round {r+1}/{reps} {v:15s} {steps/res_r[v][0]:7.1f} steps/s wall  {steps/res_r[v][1]:7.1f} steps/s cpu", file=sys.stderr)
    import subprocess
    git = subprocess.run(['git', '-C', str(Path(__file__).resolve().parent), 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip()
    res = {'command': ' '.join(['python', 'bench/loop_bench.py'] + sys.argv[1:]) if Path(sys.argv[0]).name == 'loop_bench.py' else f'loop_bench.run({out_dir!r}, {steps}, {reps}, {chunk}, {threads})',
           'git': git,
           'config': {**CONFIG, 'steps': steps, 'reps': reps, 'chunk': chunk, 'threads': threads},
           'machine': {'python': platform.python_version(), 'torch': torch.__version__, 'platform': platform.platform(),
                       'cpus': os.cpu_count(), 'loadavg_start': load0, 'loadavg_end': os.getloadavg()},
           'same_updates_checked': same,
           'versions': {v: {'label': VERSIONS[v][0], 'wall_s': [t for t, _ in times[v]], 'cpu_s': [c for _, c in times[v]],
                            'steps_per_s_wall': steps/statistics.median(t for t, _ in times[v]),
                            'steps_per_s_cpu': steps/statistics.median(c for _, c in times[v])} for v in versions},
           'overheads': {}, 'targets': TARGETS}
    pairs = {'loop_vs_bare': ('loop', 'bare'), 'loop_nocb_vs_bare': ('loop_nocb', 'bare'),
             'dashboard_vs_loop': ('dashboard', 'loop'), 'dashboard_live_vs_loop': ('dashboard_live', 'loop')}
    for name, (a, b) in pairs.items():
        if a in times and b in times:
            res['overheads'][name] = {'wall': _ratio_stats(times, a, b, 0), 'cpu': _ratio_stats(times, a, b, 1)}
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
    (out/'loop_results.json').write_text(json.dumps(res, indent=1))
    (out/'loop_results.md').write_text(to_markdown(res))
    return out/'loop_results.md'

def to_markdown(res:dict)->str:
    "The results as a short Markdown report."
    c, m = res['config'], res['machine']
    lines = [f"# Loop benchmark: ring8, {c['steps']}-step fits, {c['reps']} rounds, versions interleaved every {c['chunk']} steps",
             '',
             f"MLPs width {c['width']} depth {c['depth']}, batch {c['batch_size']}, k={c['k']}, Adam lr {c['lr']}, "
             f"{c['threads']} torch thread(s); torch {m['torch']}, {m['cpus']} CPUs, load average {m['loadavg_start'][0]:.1f} "
             f"at the start and {m['loadavg_end'][0]:.1f} at the end (the machine is shared). Bare loop checked to give the "
             f"learner's losses bit for bit: {res['same_updates_checked']}. Written by `{res.get('command', '')}` at commit "
             f"{res.get('git', '')[:10]}.",
             '',
             '| version | steps/s (wall, median) | steps/s (CPU time, median) |', '|---|---:|---:|']
    for v in res['versions'].values():
        lines.append(f"| {v['label']} | {v['steps_per_s_wall']:.1f} | {v['steps_per_s_cpu']:.1f} |")
    lines += ['', 'Overheads: median over rounds of the per-round time ratio, minus 1 (min and max over rounds in brackets).', '',
              '| comparison | wall | CPU time | target |', '|---|---:|---:|---:|']
    for name, o in res['overheads'].items():
        tgt = res['targets'].get(name)
        f = lambda s: f"{100*s['median']:+.1f}% [{100*s['min']:+.1f}, {100*s['max']:+.1f}]"
        lines.append(f"| {name.replace('_vs_', ' vs ')} | {f(o['wall'])} | {f(o['cpu'])} | {'' if tgt is None else f'<= {100*tgt:.0f}%'} |")
    return '\n'.join(lines) + '\n'

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=2000); p.add_argument('--reps', type=int, default=3)
    p.add_argument('--chunk', type=int, default=10); p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', default=str(Path(__file__).parent))
    a = p.parse_args()
    print(run(a.out, a.steps, a.reps, a.chunk, a.threads).read_text())
