"""DCGAN training benchmark: images per second of `Learner.fit` against a bare hand-written PyTorch loop doing the same updates.

The DCGAN of `gan_notes.dcgan` (28×28 digits, width 32, batch 64, Adam 2e-4 betas (0.5, 0.999), one D update per G update,
the non-saturating loss). The bare loop is checked to reproduce the learner's losses and weights bit for bit before anything
is timed. Both run in one process, interleaved `chunk` steps at a time with `loop_bench.Baton` (every version sees the same
machine load; each one's clocks run only during its turns), for `reps` rounds; we report medians over rounds and the overhead
as the median per-round time ratio minus 1. Images per second counts the real training images a step consumes (batch size
per step); each step also generates two fake batches.

GPU options (`--gpu`, or automatically in `run` when CUDA is available): the learner on the GPU in fp32, with channels_last
memory format, with bf16 autocast, and with both. Nothing here requires a GPU: without one the GPU part is reported as not
measured. `--gpu --device cpu --quick` runs the same code path on the CPU (bf16 autocast exists there too) as a smoke test;
its numbers are not GPU measurements.

    python bench/dcgan_bench.py [--steps 300] [--reps 3] [--chunk 10] [--out bench]
    python bench/dcgan_bench.py --gpu [--device cuda] [--steps 300]

`run(out_dir)` does the CPU comparison (and the GPU part when CUDA is available) from Python, for `bench/run.py`, writes
`dcgan_results.json` and `dcgan_results.md` to `out_dir`, and returns the Markdown's path.
"""
import argparse, contextlib, importlib.util, json, os, platform, statistics, sys, time
from pathlib import Path
import torch
import torch.nn.functional as F
from gan_notes.structure import default_callbacks
from gan_notes.data import sample_noise
from gan_notes.dcgan import dcgan_learner

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location('bench_loop_bench', HERE/'loop_bench.py')
loop_bench = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(loop_bench)
Baton, _Turns = loop_bench.Baton, loop_bench._Turns

CONFIG = dict(variant='dcgan', width=32, batch_size=64, lr=2e-4, betas=(0.5, 0.999), seed=0)
TARGET = 0.05   # learner vs bare loop: at most 5% slower


def make_learner(cbs=(), device='cpu'):
    "The benchmark's DCGAN learner (on the shipped classifier's 4,000 training digits)."
    c = CONFIG
    return dcgan_learner(c['variant'], seed=c['seed'], width=c['width'], batch_size=c['batch_size'], lr=c['lr'], betas=c['betas'],
                         cbs=list(cbs), device=device)


def bare_loop(learn, steps:int, record:bool=False, hook=None)->list:
    "The learner's updates written by hand: a D step on a fresh batch (real, then fake), then a G step with D frozen."
    G, D, opt_g, opt_d, data, rng = learn.G, learn.D, learn.opt_g, learn.opt_d, learn.data, learn.rng
    n, z_dim, dev = learn.batch_size, learn.z_dim, learn.device
    losses = []
    for s in range(steps):
        opt_d.zero_grad(set_to_none=True)
        real = data.sample(n, rng)[0].to(dev)
        with torch.no_grad(): fake = G(sample_noise(n, z_dim, 'gaussian', rng).to(dev))
        d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
        d_loss.backward()
        opt_d.step()
        D.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        data.sample(n, rng)   # Learner draws a real batch for the G update too (the objective uses only its size)
        g_loss = F.softplus(-D(G(sample_noise(n, z_dim, 'gaussian', rng).to(dev)))).mean()
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        if record: losses.append((d_loss.item(), g_loss.item()))
        if hook is not None: hook(s + 1)
    return losses


def check_same_updates(steps:int=10)->bool:
    "True when the bare loop and `Learner.fit` give identical losses and weights."
    bare = make_learner(); losses = bare_loop(bare, steps, record=True)
    loop = make_learner(default_callbacks()).fit(steps)
    same = [d for d, _ in losses] == loop.history['d_loss'] and [g for _, g in losses] == loop.history['g_loss']
    return same and all(torch.equal(a, b) for m in ('G', 'D') for a, b in zip(bare.models[m].state_dict().values(), loop.models[m].state_dict().values()))


def _run_bare(baton, name, steps):
    learn = make_learner()
    baton.acquire(name)
    bare_loop(learn, steps, hook=lambda step: baton.step(name, step))
    baton.release(name, finished=True)


def _run_fit(default_cbs=True):
    def go(baton, name, steps):
        learn = make_learner(default_callbacks() if default_cbs else ())
        baton.acquire(name)
        learn.fit(steps, cbs=[_Turns(baton, name)])
        baton.release(name, finished=True)
    return go


VERSIONS = {'bare': ('bare PyTorch loop', _run_bare),
            'loop_nocb': ('Learner.fit, no callbacks', _run_fit(False)),
            'loop': ('Learner.fit, default_callbacks()', _run_fit(True))}


def interleaved_round(versions, steps:int, chunk:int)->dict:
    "One fit of each version, interleaved `chunk` steps at a time (loop_bench's runner); `{version: (wall_s, cpu_s)}`."
    return loop_bench.interleaved_round(versions, steps, chunk, VERSIONS)


_ratios = loop_bench._ratio_stats


class AutocastObjective:
    "Wraps an objective so that its losses (every forward pass of G and D) run under `torch.autocast(dtype)`."
    def __init__(self, objective, dtype=torch.bfloat16): self.objective, self.dtype = objective, dtype
    def __getattr__(self, name): return getattr(self.objective, name)
    def _cast(self, f, learn, batch):
        with torch.autocast(learn.device.type, dtype=self.dtype): return f(learn, batch)
    def d_loss(self, learn, batch): return self._cast(self.objective.d_loss, learn, batch)
    def g_loss(self, learn, batch): return self._cast(self.objective.g_loss, learn, batch)


def gpu_learner(device:str, channels_last:bool=False, bf16:bool=False):
    "The benchmark's learner on `device`, optionally with channels_last weights and images, and bf16 autocast."
    learn = make_learner(default_callbacks(), device=device)
    if channels_last:
        for m in learn.models.values(): m.to(memory_format=torch.channels_last)
        learn.data.tensors = (learn.data.tensors[0].contiguous(memory_format=torch.channels_last),) + tuple(learn.data.tensors[1:])
    if bf16: learn.objective = AutocastObjective(learn.objective)
    return learn


GPU_OPTIONS = {'fp32': {}, 'channels_last': {'channels_last': True}, 'bf16 autocast': {'bf16': True},
               'channels_last + bf16 autocast': {'channels_last': True, 'bf16': True}}


def run_gpu(device:str='cuda', steps:int=300, reps:int=3)->dict:
    "Images per second of the learner on `device` for each of `GPU_OPTIONS` (wall clock, synchronised), medians over `reps`."
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    out = {}
    for name, opts in GPU_OPTIONS.items():
        ts = []
        for _ in range(reps):
            learn = gpu_learner(device, **opts)
            learn.fit(10); sync()                       # warm-up: kernels, allocator, cuDNN autotuning
            t = time.perf_counter(); learn.fit(steps); sync(); ts.append(time.perf_counter() - t)
            finite = all(map(torch.isfinite, (torch.as_tensor(learn.history.last('d_loss')), torch.as_tensor(learn.history.last('g_loss')))))
        out[name] = {'seconds': ts, 'images_per_s': steps*CONFIG['batch_size']/statistics.median(ts), 'finite_losses': bool(finite)}
    return out


def run(out_dir='bench', # Folder for dcgan_results.json and dcgan_results.md
        steps:int=300, # Training steps of each fit
        reps:int=3, # Rounds, each one fit of every version, interleaved
        chunk:int=10, # Steps per turn
        gpu:bool|None=None, # Also the GPU options; default: when CUDA is available
        verbose:bool=True)->Path:
    "Time the learner against the bare loop on the CPU (and the GPU options if asked or available); write the results; return the Markdown's path."
    torch.set_num_threads(1)
    same = check_same_updates()
    if not same: raise RuntimeError("the bare loop does not reproduce the learner's updates; the comparison would be unfair")
    versions = tuple(VERSIONS)
    interleaved_round(versions, 10, chunk)   # warm-up
    load0 = os.getloadavg()
    times = {v: [] for v in versions}
    for r in range(reps):
        res_r = interleaved_round(versions, steps, chunk)
        for v in versions:
            times[v].append(res_r[v])
            if verbose: print(f"round {r+1}/{reps} {v:10s} {steps*CONFIG['batch_size']/res_r[v][1]:7.0f} images/s (CPU time)", file=sys.stderr)
    n_img = steps*CONFIG['batch_size']
    res = {'config': {**CONFIG, 'steps': steps, 'reps': reps, 'chunk': chunk, 'threads': 1, 'image_size': 28},
           'machine': {'python': platform.python_version(), 'torch': torch.__version__, 'platform': platform.platform(),
                       'cpus': os.cpu_count(), 'loadavg_start': load0, 'loadavg_end': os.getloadavg()},
           'same_updates_checked': same, 'target': TARGET,
           'versions': {v: {'label': VERSIONS[v][0], 'wall_s': [t for t, _ in times[v]], 'cpu_s': [c for _, c in times[v]],
                            'images_per_s_wall': n_img/statistics.median(t for t, _ in times[v]),
                            'images_per_s_cpu': n_img/statistics.median(c for _, c in times[v])} for v in versions},
           'overheads': {f'{a}_vs_bare': {'wall': _ratios(times, a, 'bare', 0), 'cpu': _ratios(times, a, 'bare', 1)} for a in ('loop', 'loop_nocb')}}
    if gpu is None: gpu = torch.cuda.is_available()
    res['gpu'] = ({'device': torch.cuda.get_device_name(0), 'results': run_gpu('cuda', steps)} if gpu and torch.cuda.is_available()
                  else {'not_measured': 'no CUDA device on this machine' if not torch.cuda.is_available() else 'not asked'})
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
    (out/'dcgan_results.json').write_text(json.dumps(res, indent=1) + '\n')
    (out/'dcgan_results.md').write_text(to_markdown(res))
    return out/'dcgan_results.md'


def to_markdown(res:dict)->str:
    "The results as a short Markdown report."
    c, m = res['config'], res['machine']
    lines = [f"# DCGAN benchmark: learner vs bare loop, {c['steps']}-step fits, {c['reps']} rounds, interleaved every {c['chunk']} steps", '',
             f"DCGAN on 28×28 digits, width {c['width']}, batch {c['batch_size']}, Adam {c['lr']} betas {tuple(c['betas'])}, one D step "
             f"per G step; {c['threads']} torch thread; torch {m['torch']}, {m['cpus']} CPUs, load average {m['loadavg_start'][0]:.1f} at the "
             f"start and {m['loadavg_end'][0]:.1f} at the end (the machine is shared). Bare loop checked to give the learner's losses and "
             f"weights bit for bit: {res['same_updates_checked']}. Images/s = real training images per second ({c['batch_size']} per step).", '',
             '| version | images/s (wall, median) | images/s (CPU time, median) |', '|---|---:|---:|']
    for v in res['versions'].values():
        lines.append(f"| {v['label']} | {v['images_per_s_wall']:.0f} | {v['images_per_s_cpu']:.0f} |")
    lines += ['', 'Overhead: median over rounds of the per-round time ratio, minus 1 (min and max over rounds in brackets).', '',
              '| comparison | wall | CPU time | target |', '|---|---:|---:|---:|']
    f = lambda s: f"{100*s['median']:+.1f}% [{100*s['min']:+.1f}, {100*s['max']:+.1f}]"
    for name, o in res['overheads'].items():
        lines.append(f"| {name.replace('_vs_', ' vs ')} | {f(o['wall'])} | {f(o['cpu'])} | {'<= 5%' if name == 'loop_vs_bare' else ''} |")
    g = res.get('gpu', {})
    lines += ['', '## GPU options', '']
    if 'results' in g:
        lines += [f"On {g['device']} (wall clock, synchronised; medians of {c['reps']} fits of {c['steps']} steps):", '',
                  '| option | images/s | finite losses |', '|---|---:|:---:|']
        lines += [f"| {k} | {r['images_per_s']:.0f} | {r['finite_losses']} |" for k, r in g['results'].items()]
    else: lines.append(f"**Not measured**: {g.get('not_measured', 'not run')}. Run `python bench/dcgan_bench.py --gpu` on a machine with CUDA.")
    return '\n'.join(lines) + '\n'


def gpu_markdown(device, results, steps, reps, smoke)->str:
    head = (f"# DCGAN GPU options on {device}{' (CPU smoke run of the GPU code path: not a GPU measurement)' if smoke else ''}\n\n"
            f"{steps}-step fits, width {CONFIG['width']}, batch {CONFIG['batch_size']}; medians of {reps}.\n\n"
            "| option | images/s | finite losses |\n|---|---:|:---:|\n")
    return head + ''.join(f"| {k} | {r['images_per_s']:.0f} | {r['finite_losses']} |\n" for k, r in results.items())


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=300); p.add_argument('--reps', type=int, default=3)
    p.add_argument('--chunk', type=int, default=10)
    p.add_argument('--gpu', action='store_true', help='only the GPU options (on --device)')
    p.add_argument('--device', default='cuda', help='device of the GPU options (cpu for a smoke run of that code path)')
    p.add_argument('--quick', action='store_true', help='tiny fits (a smoke test, not a measurement)')
    p.add_argument('--out', default=str(HERE))
    a = p.parse_args()
    if a.quick: a.steps, a.reps = 5, 1
    if a.gpu:
        if a.device.startswith('cuda') and not torch.cuda.is_available(): sys.exit("no CUDA device: the GPU options were not measured")
        torch.set_num_threads(1)
        r = run_gpu(a.device, a.steps, a.reps)
        smoke = not a.device.startswith('cuda')
        name = 'dcgan_gpu_smoke.md' if smoke else 'dcgan_gpu_results.md'
        md = gpu_markdown(torch.cuda.get_device_name(0) if not smoke else a.device, r, a.steps, a.reps, smoke)
        if not smoke: (Path(a.out)/'dcgan_gpu_results.json').write_text(json.dumps(r, indent=1) + '\n'); (Path(a.out)/name).write_text(md)
        print(md)
    else: print(run(a.out, a.steps, a.reps, a.chunk).read_text())
