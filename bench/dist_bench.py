"""Throughput of DistributedDataParallel training (gan_notes.distributed.DDPCallback): 1 process without DDP, 1 process under
DDP, 2 processes under DDP, for the toy MLP and for a DCGAN-sized convolutional GAN on MNIST.

    python bench/dist_bench.py [--rounds 3] [--out bench]          # CPU (gloo): writes dist_results.json and dist_results.md
    python bench/dist_bench.py --gpu [--rounds 5] [--out bench]    # one GPU (nccl): DDP on 1 process vs no DDP; dist_gpu_results.*

Configurations (the same in both modes):
- `toy`: ring8, the toy MLPs of gan_notes.experiments.TOY_SETTINGS (3 hidden layers of 64 units), global batch 256,
  non-saturating GAN, Adam 1e-3, betas (0.5, 0.999).
- `conv`: the 4,000 training digits of mnist_offline (28 x 28), a DCGAN-sized convolutional G and D defined in this file
  (gan_notes.dcgan has not landed on main), global batch 64, non-saturating GAN, Adam 2e-4, betas (0.5, 0.999).
  G: z (100) -> linear 128x7x7, BN, ReLU -> transposed conv 64 (4, stride 2), BN, ReLU -> transposed conv 1 (4, stride 2), tanh.
  D: conv 64 (4, stride 2), LeakyReLU 0.2 -> conv 128 (4, stride 2), BN, LeakyReLU 0.2 -> linear 1.

Every run is a fresh process (for DDP: `torchrun --standalone`) with one torch thread per process, the callbacks a CLI run has
(`default_callbacks(10)`) and, under DDP, `DDPCallback`. It trains `warmup` steps, then times `steps` steps between two
barriers (and, on a GPU, CUDA synchronisations). A step is one D update and one G update on the global batch, so
images/s = global batch x steps/s. The runs are interleaved: each round runs every (configuration, mode) once, in an
order rotated from round to round, so that slow and fast periods of a shared machine fall on all of them; we report the
median over rounds with the min and max, and the ratios of medians. Each process's CPU time is recorded beside its wall
time: on a machine shared with others, CPU time / wall time below 1 means the process waited for a core.

Also measured, in one process: the cost of `ShardedDraws`, the TorchFunctionMode that splits the random draws (active in
every step of a run on 2 or more processes, scoped as DDPCallback scopes it): the same learner trained in alternating chunks
of steps with and without it (at world size 1, where it changes no number), `reps` rounds.

`run(out_dir)` runs the CPU benchmark for bench/run.py and returns the Markdown file.
"""
import argparse, json, os, platform, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIGS = {'toy': dict(batch=256, steps=600, warmup=50, gpu_steps=3000), 'conv': dict(batch=64, steps=60, warmup=5, gpu_steps=500)}
TARGET_GPU_OVERHEAD = 0.05


class ConvG(nn.Module):
    "DCGAN-sized generator for 28 x 28 images."
    def __init__(self, z_dim=100, ch=64):
        super().__init__()
        self.z_dim = z_dim
        self.fc = nn.Sequential(nn.Linear(z_dim, 2*ch*7*7, bias=False), nn.BatchNorm1d(2*ch*7*7), nn.ReLU())
        self.net = nn.Sequential(nn.ConvTranspose2d(2*ch, ch, 4, 2, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(),
                                 nn.ConvTranspose2d(ch, 1, 4, 2, 1), nn.Tanh())
        self.ch = ch
    def forward(self, z): return self.net(self.fc(z).view(len(z), 2*self.ch, 7, 7))


class ConvD(nn.Module):
    "DCGAN-sized discriminator for 28 x 28 images, one logit per image."
    def __init__(self, ch=64):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, ch, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(ch, 2*ch, 4, 2, 1, bias=False),
                                 nn.BatchNorm2d(2*ch), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(2*ch*7*7, 1))
    def forward(self, x): return self.net(x).squeeze(1)


def build(config, cbs, device=None):
    "The learner of a configuration."
    from gan_notes.structure import Learner, TensorSource, seed_everything
    from gan_notes.vanilla import NonSaturatingObjective
    from gan_notes.experiments import TOY_SETTINGS
    if config == 'toy':
        from gan_notes.structure import toy_learner
        return toy_learner('ring8', NonSaturatingObjective(), **{**TOY_SETTINGS, 'batch_size': CONFIGS['toy']['batch']}, cbs=cbs,
                           device=device)
    from gan_notes.data import mnist_offline
    from gan_notes.metrics import mnist_split
    images, _ = mnist_offline()
    train, _ = mnist_split()
    seed_everything(0)
    return Learner(ConvG(), ConvD(), TensorSource(images[train]), NonSaturatingObjective(), batch_size=CONFIGS['conv']['batch'],
                   lr=2e-4, betas=(0.5, 0.999), cbs=cbs, seed=0, device=device)


def worker(config, mode, out, steps, warmup, device):
    "One timed run; rank 0 appends its JSON record to `out`."
    torch.set_num_threads(1)
    import torch.distributed as dist
    from gan_notes.structure import Callback, default_callbacks
    from gan_notes.distributed import DDPCallback, init_distributed
    ddp = mode != 'plain'
    dev = torch.device(device)
    if dev.type == 'cuda' and dev.index is None: dev = torch.device('cuda', 0)
    if ddp:
        got = init_distributed(timeout=600, backend='gloo' if dev.type == 'cpu' else None)
        dev = dev if dev.type == 'cpu' else got
    elif dev.type == 'cuda': torch.cuda.set_device(dev)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == 'cuda' else (lambda: None)
    class Clock(Callback):
        order = 100
        def after_step(self, learn):
            if learn.step == warmup:
                sync()
                if ddp: dist.barrier()
                self.t0, self.c0 = time.perf_counter(), time.process_time()
        def after_fit(self, learn):
            sync()
            if ddp: dist.barrier()
            self.wall, self.cpu = time.perf_counter() - self.t0, time.process_time() - self.c0
    clock = Clock()
    learn = build(config, default_callbacks(10) + ([DDPCallback()] if ddp else []) + [clock], dev)
    load0 = os.getloadavg()[0]
    learn.fit(warmup + steps)
    cpus = [clock.cpu]
    if ddp:
        cpus = [None]*dist.get_world_size()
        dist.all_gather_object(cpus, clock.cpu)
    if not ddp or dist.get_rank() == 0:
        world = dist.get_world_size() if ddp else 1
        rec = {'config': config, 'mode': mode, 'world_size': world, 'device': str(dev.type), 'steps': steps,
               'batch': CONFIGS[config]['batch'], 'wall': clock.wall, 'cpu': cpus, 'load_before': load0,
               'load_after': os.getloadavg()[0], 'steps_per_s': steps/clock.wall, 'images_per_s': steps*CONFIGS[config]['batch']/clock.wall,
               'ok': all(torch.isfinite(p).all().item() for m in learn.models.values() for p in m.parameters())}
        with open(out, 'a') as f: f.write(json.dumps(rec) + '\n')
    if ddp: dist.destroy_process_group()


def launch(config, mode, out, device, steps=None, warmup=None):
    "Run one timed run in fresh processes; return its record."
    c = CONFIGS[config]
    steps = steps or c['gpu_steps' if device != 'cpu' else 'steps']
    args = [str(HERE/'dist_bench.py'), '_worker', '--config', config, '--mode', mode, '--record', str(out), '--device', device,
            '--steps', str(steps), '--warmup', str(warmup or c['warmup'])]
    if mode == 'plain': cmd = [sys.executable] + args
    else: cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', mode[len('ddp'):]] + args
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': os.pathsep.join([str(ROOT)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p])}
    n0 = len(Path(out).read_text().splitlines()) if Path(out).exists() else 0
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    lines = Path(out).read_text().splitlines() if Path(out).exists() else []
    if r.returncode != 0 or len(lines) != n0 + 1:
        raise RuntimeError(f"{config} {mode} failed (exit {r.returncode}): {r.stderr[-2000:]}")
    return json.loads(lines[-1])


def draws_overhead(config, reps=6, chunk=None):
    "Steps/s of one learner with and without ShardedDraws (world size 1), in alternating chunks of steps, in this process."
    torch.set_num_threads(1)
    from gan_notes.structure import Callback, default_callbacks
    from gan_notes.distributed import ShardedDraws
    chunk = chunk or max(5, CONFIGS[config]['steps']//4)
    class Draws(Callback):
        "The split draws scoped as DDPCallback scopes them: from the step's start to G's step, lifted while the optimisers step."
        order = -20
        on, splits = False, 0
        def before_step(self, learn):
            self.mode = ShardedDraws(learn.batch_size, 1, 0, learn.rng) if self.on else None
            if self.mode is not None: self.mode.__enter__()
        def wrap_step(self, learn, player, step):
            if self.mode is not None: self.mode.__exit__(None, None, None)
            step(player)
            if self.mode is not None:
                if player == 'D': self.mode.__enter__()
                else: self.splits += self.mode.split
    d = Draws()
    learn = build(config, default_callbacks(10) + [d], 'cpu')
    learn.fit(CONFIGS[config]['warmup'])
    times = {False: [], True: []}
    for i in range(reps):
        for on in ((False, True) if i % 2 == 0 else (True, False)):
            d.on = on
            t0 = time.perf_counter(); learn.fit(chunk); times[on].append(time.perf_counter() - t0)
    ratios = [b/a for a, b in zip(times[False], times[True])]
    return {'config': config, 'chunk': chunk, 'reps': reps, 'steps_per_s_without': chunk/statistics.median(times[False]),
            'steps_per_s_with': chunk/statistics.median(times[True]), 'overhead_median': statistics.median(ratios) - 1,
            'overhead_min': min(ratios) - 1, 'overhead_max': max(ratios) - 1, 'draws_split_per_step': d.splits/(reps*chunk)}


def summarize(runs, modes):
    "Per configuration and mode: median, min and max images/s over rounds; CPU/wall per process."
    out = {}
    for config in CONFIGS:
        for mode in modes:
            rs = [r for r in runs if r['config'] == config and r['mode'] == mode]
            if not rs: continue
            ips = [r['images_per_s'] for r in rs]
            per_cpu = [r['steps']*r['batch']/sum(r['cpu']) for r in rs]   # images per CPU-second, all processes together
            out[f'{config}/{mode}'] = {'config': config, 'mode': mode, 'runs': len(rs), 'images_per_s_median': statistics.median(ips),
                                      'images_per_s_min': min(ips), 'images_per_s_max': max(ips),
                                      'images_per_cpu_s_median': statistics.median(per_cpu), 'images_per_cpu_s_min': min(per_cpu),
                                      'images_per_cpu_s_max': max(per_cpu),
                                      'cpu_over_wall_median': statistics.median(c/r['wall'] for r in rs for c in r['cpu']),
                                      'all_finite': all(r['ok'] for r in rs)}
    return out


def markdown(res)->str:
    "The results file's text, from the results dict."
    m = res['meta']; gpu = res['kind'] == 'gpu'
    s = summarize(res['runs'], ('plain', 'ddp1') if gpu else ('plain', 'ddp1', 'ddp2'))
    title = '# DDP on one GPU: 1 process under DDP vs no DDP' if gpu else '# DDP throughput on this machine\'s CPUs: 1 and 2 processes'
    lines = [title, '',
             f"`python bench/dist_bench.py{' --gpu' if gpu else ''} --rounds {m['rounds']}`, {m['date']}; torch {m['torch']}, {m['cpus']} CPU cores"
             + (f", {m['gpu']}" if gpu else '') + f"; load average {m['load_start']:.1f} at the start and {m['load_end']:.1f} at the end "
             "(the machine is shared with other engineers' jobs). One torch thread per process. Configurations: `toy` = ring8 MLPs "
             "3 x 64, global batch 256; `conv` = DCGAN-sized conv G and D on 28 x 28 MNIST (defined in bench/dist_bench.py: "
             "gan_notes.dcgan has not landed on main), global batch 64. images/s = global batch x steps/s; median over "
             f"{m['rounds']} interleaved rounds [min, max].", '',
             '| configuration | mode | images/s, median [min, max] | images per CPU-second, all processes, median [min, max] | CPU time / wall time per process (median) |',
             '|---|---|---:|---:|---:|']
    names = {'plain': '1 process, no DDP', 'ddp1': '1 process, DDP', 'ddp2': '2 processes, DDP'}
    for k, v in s.items():
        lines.append(f"| {v['config']} | {names[v['mode']]} | {v['images_per_s_median']:.0f} [{v['images_per_s_min']:.0f}, {v['images_per_s_max']:.0f}] "
                     f"| {v['images_per_cpu_s_median']:.0f} [{v['images_per_cpu_s_min']:.0f}, {v['images_per_cpu_s_max']:.0f}] "
                     f"| {v['cpu_over_wall_median']:.2f} |")
    lines += ['']
    for config in CONFIGS:
        get = lambda mode, k='images_per_s_median': s.get(f'{config}/{mode}', {}).get(k)
        if gpu and get('plain') and get('ddp1'):
            ov = get('plain')/get('ddp1') - 1
            lines.append(f"- **{config}**: DDP on one GPU costs {100*ov:+.1f}% time per step (target <= {100*TARGET_GPU_OVERHEAD:.0f}%): "
                         + ('met.' if ov <= TARGET_GPU_OVERHEAD else '**not met**.'))
        elif not gpu and get('plain') and get('ddp2'):
            cpu = lambda mode: get(mode, 'images_per_cpu_s_median')
            lines.append(f"- **{config}**: 2 processes / 1 process without DDP = **{get('ddp2')/get('plain'):.2f}x** images/s "
                         f"(2 processes / 1 process under DDP: {get('ddp2')/get('ddp1'):.2f}x; DDP on 1 process / no DDP: "
                         f"{get('ddp1')/get('plain'):.2f}x). CPU cost per image, 2 processes / 1 process without DDP: "
                         f"{cpu('plain')/cpu('ddp2'):.2f}x.")
    if not gpu:
        lines += ['', '**Cost of the split draws** (`ShardedDraws`, active in every step on 2+ processes), measured in one process at '
                  'world size 1 (no number changes), alternating chunks of steps:', '',
                  '| configuration | steps/s without | steps/s with | overhead, median [min, max] | draws split per step |', '|---|---:|---:|---:|---:|']
        for o in res['draws']:
            lines.append(f"| {o['config']} | {o['steps_per_s_without']:.1f} | {o['steps_per_s_with']:.1f} | {100*o['overhead_median']:+.1f}% "
                         f"[{100*o['overhead_min']:+.1f}, {100*o['overhead_max']:+.1f}] | {o['draws_split_per_step']:.0f} |")
        lines += ['', '**What two shared cores can show.** Two processes can at best double the images per second, and only if each '
                  'has a core of its own for the whole run. Here the two cores were shared with other engineers\' jobs: the load '
                  f"average (runnable processes) was {m['load_start']:.1f} at the start and {m['load_end']:.1f} at the end, so no "
                  f"process had a core to itself (CPU time / wall time at most {max(c/r['wall'] for r in res['runs'] for c in r['cpu']):.2f} "
                  'in any run), and the two ranks of a run also '
                  'wait for each other at every all-reduce, which on a loaded machine means waiting for the scheduler as well. '
                  'The wall-clock ratios therefore measure the contention as much as DDP, and their spread over rounds is wide. '
                  'Images per CPU-second, all processes together, depends less on the load: it is what an image costs. Splitting '
                  'the batch does not shrink the per-operation costs (Python, small kernels), which each rank pays in full for '
                  'half the samples; the all-reduce and the split draws come on top. On this machine the toy MLP, whose step is '
                  'almost all such overhead, cannot gain from a second process; the convolutional GAN does more arithmetic per '
                  'sample, which is the part that splits. These numbers say what this machine did during these runs, not what '
                  'DDP does on dedicated cores or GPUs.', '',
                  '**GPU: not measured.** No GPU was available to this task. The GPU part of this benchmark (single-GPU throughput '
                  'under DDP with 1 process against no DDP, target <= 5% overhead) is `python bench/dist_bench.py --gpu`, which '
                  'writes `bench/dist_gpu_results.json` and `.md` on a machine with CUDA.']
    return '\n'.join(lines) + '\n'


def bench(out_dir, rounds, gpu=False, modes=None, reps=6):
    "Run the interleaved rounds (and, on CPU, the split-draws overhead); write the results files; return the Markdown path."
    from datetime import datetime, timezone
    out_dir = Path(out_dir); out_dir.mkdir(parents=True, exist_ok=True)
    device = 'cuda' if gpu else 'cpu'
    if gpu and not torch.cuda.is_available(): raise SystemExit('--gpu: no CUDA device here')
    modes = modes or (('plain', 'ddp1') if gpu else ('plain', 'ddp1', 'ddp2'))
    meta = {'date': f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", 'torch': torch.__version__, 'cpus': os.cpu_count(),
            'platform': platform.platform(), 'rounds': rounds, 'load_start': os.getloadavg()[0],
            'gpu': torch.cuda.get_device_name(0) if gpu else None}
    record = Path(tempfile.mkdtemp())/'runs.jsonl'
    jobs = [(c, m) for c in CONFIGS for m in modes]
    runs = []
    for r in range(rounds):
        order = jobs[r % len(jobs):] + jobs[:r % len(jobs)]
        for config, mode in order:
            print(f'[dist_bench] round {r + 1}/{rounds}: {config} {mode}', file=sys.stderr, flush=True)
            runs.append({**launch(config, mode, record, device), 'round': r})
    draws = [] if gpu else [draws_overhead(c, reps) for c in CONFIGS]
    meta['load_end'] = os.getloadavg()[0]
    res = {'kind': 'gpu' if gpu else 'cpu', 'meta': meta, 'configs': CONFIGS, 'runs': runs, 'summary': summarize(runs, modes), 'draws': draws,
           'gpu_measured': gpu}
    name = 'dist_gpu_results' if gpu else 'dist_results'
    from gan_notes.structure import atomic_write
    atomic_write(out_dir/f'{name}.json', lambda f: f.write(json.dumps(res, indent=1) + '\n'), mode='w')
    atomic_write(out_dir/f'{name}.md', lambda f: f.write(markdown(res)), mode='w')
    return out_dir/f'{name}.md'


def run(out_dir):
    "For bench/run.py: the CPU benchmark with its defaults."
    return bench(out_dir, rounds=3)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='cmd')
    w = sub.add_parser('_worker')
    w.add_argument('--config', choices=list(CONFIGS)); w.add_argument('--mode'); w.add_argument('--record')
    w.add_argument('--steps', type=int); w.add_argument('--warmup', type=int); w.add_argument('--device', default='cpu')
    p.add_argument('--rounds', type=int, default=None, help='interleaved rounds (default 3 on CPU, 5 with --gpu)')
    p.add_argument('--gpu', action='store_true', help='one GPU: DDP on 1 process against no DDP')
    p.add_argument('--out', default=str(HERE), help='folder of the results files (default bench/)')
    p.add_argument('--render', action='store_true', help="only rewrite the .md file from the .json file in --out")
    a = p.parse_args(argv)
    if a.cmd == '_worker': return worker(a.config, a.mode, a.record, a.steps, a.warmup, a.device)
    if a.render:
        name = 'dist_gpu_results' if a.gpu else 'dist_results'
        res = json.loads((Path(a.out)/f'{name}.json').read_text())
        res['summary'] = summarize(res['runs'], ('plain', 'ddp1') if a.gpu else ('plain', 'ddp1', 'ddp2'))
        from gan_notes.structure import atomic_write
        atomic_write(Path(a.out)/f'{name}.json', lambda f: f.write(json.dumps(res, indent=1) + '\n'), mode='w')
        atomic_write(Path(a.out)/f'{name}.md', lambda f: f.write(markdown(res)), mode='w')
        return print((Path(a.out)/f'{name}.md').read_text())
    path = bench(a.out, a.rounds or (5 if a.gpu else 3), a.gpu)
    print(Path(path).read_text())


if __name__ == '__main__': main()
