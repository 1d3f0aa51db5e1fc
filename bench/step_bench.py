"""The toy training step against this machine's limit: single-thread float32 matmul peak, FLOPs per step (counted from the
layer shapes and checked with `torch.utils.flop_counter.FlopCounterMode`), achieved GFLOP/s per objective (one run, and the
compare's ensemble of 6 runs), per-operator profiles, and the old code measured beside the new in the same session.

    python bench/step_bench.py [--old /tmp/perf_old] [--rounds 3] [--compare-steps 1500] [--out bench]

`--old` names a checkout of the code before this work (`git worktree add /tmp/perf_old 60b22b1`): its step times and
profile are measured in subprocesses interleaved with the new code's (old, new, old, new, ...), so both see the same load.
`--compare-steps N` also runs `gan-notes compare --steps N --jobs 1` with the old and then the new code, back to back, and
records the CPU seconds each took and the comparison's results (to check that its conclusions do not change).
Everything runs on one torch thread. Writes `step_results.json` and `step_results.md` to `--out`.
"""
import argparse, copy, json, os, platform, resource, subprocess, sys, tempfile, time
from pathlib import Path
import torch

OBJECTIVES = ('minimax', 'nonsaturating', 'pac2', 'wgan', 'wgan-gp')
ENSEMBLE_RUNS = [(d, s) for d in ('ring8', 'grid25') for s in range(3)]   # one group of the default `gan-notes compare`
TARGETS = {'minimax': 0.50, 'nonsaturating': 0.50, 'pac2': 0.50, 'wgan': 0.35, 'wgan-gp': 0.35}   # of the matmul peak
HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------- matmul peak
def _best_gflops(fn, flops, reps=5, min_s=0.15):
    "Best-of-`reps` GFLOP/s of `fn`, by this thread's CPU time (as the step times: the machine is shared, its wall clock is not ours)."
    fn(); fn()
    t = time.thread_time(); fn(); one = max(time.thread_time() - t, 1e-6)
    it = max(1, int(min_s/one)); best = 0.
    for _ in range(reps):
        t = time.thread_time()
        for _ in range(it): fn()
        best = max(best, flops*it/max(time.thread_time() - t, 1e-9)/1e9)
    return best

def matmul_peak(sizes=(1024, 2048))->dict:
    "Best-of-5 float32 GFLOP/s (thread CPU time) of `torch.mm` on square n x n matrices, one thread."
    out = {}
    for n in sizes:
        a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
        out[f'{n}^3'] = _best_gflops(lambda: torch.mm(a, b, out=c), 2*n**3)
    return out

class _MatmulCalls(torch.utils._python_dispatch.TorchDispatchMode):
    "Records every matrix product (op, operand shapes and strides) run inside it."
    OPS = {'aten.mm.default', 'aten.addmm.default', 'aten.bmm.default', 'aten.baddbmm.default'}
    def __init__(self): super().__init__(); self.calls = []
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if str(func) in self.OPS:
            self.calls.append((str(func), tuple((tuple(a.shape), tuple(a.stride())) for a in args if torch.is_tensor(a))))
        return func(*args, **(kwargs or {}))

def _call_flops(op, shapes):
    (a, _), (b, _) = shapes[-2], shapes[-1]
    batch = a[0] if len(a) == 3 else 1
    return 2*batch*a[-2]*a[-1]*b[-1]

def matmuls_of_step(learn)->dict:
    "Each distinct matrix product of one training step, its count, FLOPs and isolated best-of GFLOP/s (same shapes and strides)."
    mode = _MatmulCalls()
    with mode: learn.fit(1)
    uniq = {}
    for c in mode.calls: uniq[c] = uniq.get(c, 0) + 1
    rows, t_total, f_total = [], 0., 0
    for (op, shapes), n in uniq.items():
        ts = [torch.randn(max(1, sum((s - 1)*st for s, st in zip(sh, stc)) + 1)).as_strided(sh, stc) for sh, stc in shapes]
        fn = getattr(torch, op.split('.')[1])
        f = _call_flops(op, shapes)
        g = _best_gflops(lambda: fn(*ts), f, reps=3, min_s=0.03)
        rows.append({'op': op.split('.')[1], 'shapes': [list(s) for s, _ in shapes], 'strides': [list(s) for _, s in shapes],
                     'calls': n, 'mflop': f/1e6, 'gflops_isolated': g})
        t_total += n*f/(g*1e9); f_total += n*f
    return {'calls': rows, 'matmul_mflop_per_step': f_total/1e6, 'matmul_only_ms_per_step': 1e3*t_total,
            'gflops_at_step_shapes': f_total/t_total/1e9}

# ---------------------------------------------------------------- FLOPs counted from the layer shapes
COUNTING_RULE = ("Only the Linear layers' matrix products are counted; a Linear layer of in i, out o applied to r rows costs "
                 "2·r·i·o for the forward product, 2·r·i·o for its weight gradient (when that update trains it) and 2·r·i·o for "
                 "its input gradient (when anything before it needs one: not for a network's first layer on data or noise). "
                 "So a backward pass is 2x its forward, less the first layer's input gradient. D update: G forward (no grad), "
                 "D forward and backward on the real and the fake batch (PacGAN: r = batch/pack rows of pack·2 inputs). "
                 "G update: G forward, D forward, D backward for input gradients only (D frozen), G backward. WGAN-GP adds, per "
                 "critic update, D forward on the interpolates, its input gradient with create_graph (input gradients of every "
                 "layer), and the double backward through that gradient graph: for every layer's input-gradient product "
                 "g_in = g_out·W, a product for W's gradient and one for g_out's (none for the output layer, whose g_out is the "
                 "constant ones of out.sum()); and ReLU's second derivative, zero, still flows back through the forward "
                 "graph of f(x̂): 2 products (weight and input gradient) for every hidden layer, the first included. "
                 "Elementwise work (activations, losses, Adam) is not counted.")

def _dims(s, net):
    w, d, z = s.get('width', 128), s.get('depth', 3), s.get('z_dim', 2)
    return [z] + [w]*d + [2] if net == 'G' else [2*s.get('pack', 1)] + [w]*d + [1]

def _fwd(dims, r): return sum(2*r*i*o for i, o in zip(dims[:-1], dims[1:]))
def _bwd(dims, r, weights=True, first_input=False):
    layers = list(zip(dims[:-1], dims[1:]))
    return sum((2*r*i*o if weights else 0) + (2*r*i*o if (j > 0 or first_input) else 0) for j, (i, o) in enumerate(layers))

def counted_flops(name)->dict:
    "FLOPs of one training step of objective `name` at its toy defaults, by the counting rule above."
    from gan_notes.experiments import get_toy
    s = get_toy(name).resolve(); n, k, pack = s['batch_size'], s.get('k', 1), s.get('pack', 1)
    G, D, rd = _dims(s, 'G'), _dims(s, 'D'), n//pack
    d_update = _fwd(G, n) + 2*(_fwd(D, rd) + _bwd(D, rd))
    if 'lam' in s:   # gradient penalty on n interpolates
        layers = list(zip(D[:-1], D[1:]))
        d_update += _fwd(D, n) + _bwd(D, n, weights=False, first_input=True)                       # f(x̂) and ∇f(x̂) (create_graph)
        d_update += sum(2*n*i*o*(1 + (j < len(layers) - 1)) for j, (i, o) in enumerate(layers))    # double backward: dW and d g_out
        d_update += sum(2*2*n*i*o for i, o in layers[:-1])                                         # zeros through the forward graph
    g_update = _fwd(G, n) + _fwd(D, rd) + _bwd(D, rd, weights=False, first_input=True) + _bwd(G, n)
    return {'d_update': d_update, 'g_update': g_update, 'k': k, 'step': k*d_update + g_update}

class _RegistryFlops(torch.utils._python_dispatch.TorchDispatchMode):
    """FlopCounterMode's own per-operator formulas (`torch.utils.flop_counter.flop_registry`) without its module hooks,
    which `torch.autograd.grad` inside a step (WGAN-GP's penalty) does not support."""
    def __init__(self): super().__init__(); self.total = 0
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        from torch.utils.flop_counter import flop_registry
        out = func(*args, **(kwargs or {}))
        f = flop_registry.get(func._overloadpacket)
        if f is not None: self.total += f(*args, **(kwargs or {}), out_val=out)
        return out

def measured_flops(learn)->tuple:
    "FLOPs of one `learn.fit(1)` step by `FlopCounterMode` (or its formulas, where its module hooks fail), and which counted."
    from torch.utils.flop_counter import FlopCounterMode
    if not learn._checked: learn._check_shapes()   # the first fit's shape check (G on 2 samples) is not part of a step
    state = {n: copy.deepcopy(m.state_dict()) for n, m in learn.models.items()}
    try:
        with FlopCounterMode(display=False) as fc: learn.fit(1)
        return fc.get_total_flops(), 'FlopCounterMode'
    except RuntimeError:   # "A leaf node was passed to _will_engine_execute_node ... autograd.grad()": its module hooks
        for n, m in learn.models.items(): m.load_state_dict(state[n])
        mode = _RegistryFlops()
        with mode: learn.fit(1)
        return mode.total, 'flop_registry (FlopCounterMode formulas; its module hooks fail under autograd.grad)'

# ---------------------------------------------------------------- patches proposed for notebooks this work does not own
PATCH_08 = """nbs/08_wasserstein.ipynb (exported to gan_notes/wasserstein.py), import `adam` from .structure, then
  WGANObjective.optimizers:   torch.optim.RMSprop(learn.X.parameters(), lr=self.lr)  ->  torch.optim.RMSprop(learn.X.parameters(), lr=self.lr, foreach=True)   (bit for bit: checked below)
  WGANGPObjective.optimizers: torch.optim.Adam(learn.X.parameters(), lr=self.lr, betas=self.betas)  ->  adam(learn.X.parameters(), self.lr, self.betas)   (fused: last bits change)"""

def apply_patch_08():
    "The proposed 08_wasserstein change, as a monkeypatch: WGAN's RMSprop foreach, WGAN-GP's Adam the fused `adam`."
    import gan_notes.wasserstein as W
    from gan_notes.structure import adam
    W.WGANObjective.optimizers = lambda self, learn: {'G': torch.optim.RMSprop(learn.G.parameters(), lr=self.lr, foreach=True),
                                                      'D': torch.optim.RMSprop(learn.D.parameters(), lr=self.lr, foreach=True)}
    W.WGANGPObjective.optimizers = lambda self, learn: {'G': adam(learn.G.parameters(), self.lr, self.betas),
                                                        'D': adam(learn.D.parameters(), self.lr, self.betas)}

def wgan_foreach_same(steps=50)->bool:
    "Whether WGAN trains bit for bit the same with RMSprop(foreach=True) as with the default RMSprop (one run, `steps` steps)."
    import gan_notes.wasserstein as W
    from gan_notes.experiments import get_toy
    old = W.WGANObjective.optimizers
    a = get_toy('wgan').learner('ring8', 0).fit(steps)
    try:
        W.WGANObjective.optimizers = lambda self, learn: {n: torch.optim.RMSprop(m.parameters(), lr=self.lr, foreach=True)
                                                          for n, m in (('G', learn.G), ('D', learn.D))}
        b = get_toy('wgan').learner('ring8', 0).fit(steps)
    finally: W.WGANObjective.optimizers = old
    return all(torch.equal(x, y) for n in ('G', 'D') for x, y in zip(a.models[n].parameters(), b.models[n].parameters()))

# ---------------------------------------------------------------- step times (run in a worker, old or new code)
def _learners(name):
    from gan_notes.experiments import get_toy
    from gan_notes.comparison import ensemble_learner
    r = get_toy(name)
    return r.learner('ring8', 0), ensemble_learner([r.learner(d, s) for d, s in ENSEMBLE_RUNS])

def worker(steps_single:int, steps_ens:int, profile:bool, patched:bool=False)->dict:
    "Per objective: CPU ms per step of one run and of the 6-run ensemble (best of 3 blocks, `fit` without callbacks)."
    torch.set_num_threads(1)
    if patched: apply_patch_08()
    out = {'times': {}, 'git': _git(Path(__import__('gan_notes').__file__).parent.parent)}
    for name in OBJECTIVES:
        single, ens = _learners(name)
        single.fit(10); ens.fit(3)
        res = {}
        for label, learn, steps in (('single', single, steps_single), ('ensemble', ens, steps_ens)):
            best = float('inf')
            for _ in range(3):
                t = time.thread_time(); learn.fit(steps); best = min(best, (time.thread_time() - t)/steps)
            res[label + '_ms'] = 1e3*best
        out['times'][name] = res
    if profile: out['profile'] = profile_step('nonsaturating', 100)
    return out

def profile_step(name, steps)->dict:
    "Top operators by self CPU time over `steps` steps of one run's `fit` (no callbacks), per step."
    from torch.profiler import profile, ProfilerActivity
    learn, _ = _learners(name); learn.fit(10)
    with profile(activities=[ProfilerActivity.CPU]) as p: learn.fit(steps)
    ev = sorted(p.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ev)
    return {'steps': steps, 'total_us_per_step': total/steps,
            'top': [{'op': e.key, 'self_us_per_step': e.self_cpu_time_total/steps, 'share': e.self_cpu_time_total/total,
                     'calls_per_step': e.count/steps} for e in ev[:15]]}

def _git(root):
    try: return subprocess.run(['git', '-C', str(root), 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip()
    except OSError: return None

def _run_worker(tree, steps_single, steps_ens, profile, patched=False):
    env = {**os.environ, 'PYTHONPATH': str(tree), 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, str(HERE/'step_bench.py'), '--worker', str(steps_single), str(steps_ens), str(int(profile)),
                        str(int(patched))],
                       env=env, capture_output=True, text=True, cwd=str(tree))
    if r.returncode: raise RuntimeError(f"worker in {tree} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])

# ---------------------------------------------------------------- gan-notes compare, old and new
def _cpu_children(): u = resource.getrusage(resource.RUSAGE_CHILDREN); return u.ru_utime + u.ru_stime

def run_compare(tree, steps, out_dir, patched=False)->dict:
    env = {**os.environ, 'PYTHONPATH': f"{tree}{os.pathsep}{HERE}" if patched else str(tree), 'OMP_NUM_THREADS': '1'}
    code = ('import sys; ' + ('import step_bench; step_bench.apply_patch_08(); ' if patched else '')
            + 'from gan_notes.cli import main; sys.exit(main())')
    cmd = [sys.executable, '-c', code, 'compare', '--steps', str(steps),
           '--jobs', '1', '--quiet', '--out', str(out_dir)]
    load0, c0, t0 = os.getloadavg(), _cpu_children(), time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(tree))
    if r.returncode: raise RuntimeError(f"compare in {tree} failed:\n{r.stderr[-3000:]}")
    runs = json.loads((Path(out_dir)/'runs.json').read_text())
    return {'tree': str(tree), 'git': _git(tree), 'command': ' '.join(cmd[3:]), 'cpu_s': _cpu_children() - c0,
            'wall_s': time.perf_counter() - t0, 'loadavg_start': load0, 'loadavg_end': os.getloadavg(),
            'summary': _summary(runs)}

def _summary(runs_json):
    runs = runs_json['runs'] if isinstance(runs_json, dict) else runs_json
    from statistics import mean, stdev
    out = {}
    for r in runs: out.setdefault(f"{r['objective']}|{r['data']}", []).append(r)
    res = {}
    for key, rs in out.items():
        res[key] = {}
        for m in ('modes', 'hq', 'reverse_kl', 'w1', 'precision', 'recall'):
            v = [r[m] for r in rs if isinstance(r.get(m), (int, float))]
            if v: res[key][m] = [mean(v), stdev(v)/len(v)**0.5 if len(v) > 1 else float('nan'), len(v)]
    return res

def conclusions(old:dict, new:dict)->dict:
    "Per dataset and metric, the objectives' order by mean, old and new, and the largest |new - old| in units of their standard error."
    out = {}
    datasets = sorted({k.split('|')[1] for k in old})
    for d in datasets:
        for m in ('modes', 'hq', 'reverse_kl', 'w1'):
            rows = [(o, old.get(f'{o}|{d}', {}).get(m), new.get(f'{o}|{d}', {}).get(m)) for o in OBJECTIVES]
            rows = [(o, a, b) for o, a, b in rows if a and b]
            if not rows: continue
            order = lambda i: [o for o, *_ in sorted(rows, key=lambda r: -r[i][0] if m in ('modes', 'hq') else r[i][0])]
            z = [abs(b[0] - a[0])/max((a[1]**2 + b[1]**2)**0.5, 1e-12) for _, a, b in rows]
            out[f'{d}|{m}'] = {'old_order': order(1), 'new_order': order(2), 'same_order': order(1) == order(2),
                               'max_abs_diff_in_se': max(z),
                               'values': {o: {'old': a[:2], 'new': b[:2]} for o, a, b in rows}}
    return out

# ---------------------------------------------------------------- the report
def run(out_dir, old=None, rounds=3, steps_single=150, steps_ens=30, compare_steps=()):
    torch.set_num_threads(1)
    from gan_notes.experiments import get_toy
    new_tree = HERE.parent
    res = {'command': ' '.join(['python', 'bench/step_bench.py'] + sys.argv[1:]), 'git': _git(new_tree),
           'machine': {'python': platform.python_version(), 'torch': torch.__version__, 'platform': platform.platform(),
                       'cpu': _cpu_name(), 'cpus': os.cpu_count(), 'threads': torch.get_num_threads(),
                       'cpu_capability': torch.backends.cpu.get_cpu_capability(), 'loadavg_start': os.getloadavg()},
           'targets': TARGETS, 'counting_rule': COUNTING_RULE}
    res['matmul_peak'] = matmul_peak()
    res['matmul_peak_gflops_1thread'] = max(res['matmul_peak'].values())
    res['flops'] = {}
    for name in OBJECTIVES:
        single, _ = _learners(name)
        c, (m, how) = counted_flops(name), measured_flops(single)
        res['flops'][name] = {**c, 'flop_counter_mode': m, 'flop_counter': how, 'counted_over_measured': c['step']/m}
    res['matmuls_at_step_shapes'] = {name: matmuls_of_step(_learners(name)[0]) for name in OBJECTIVES}
    # step times: new (and old) code in subprocesses, interleaved
    trees = {'new': new_tree} if old is None else {'old': Path(old), 'new': new_tree}
    trees['new+08'] = new_tree                                     # the new code with the proposed 08 patch (monkeypatched)
    rounds_out = {t: [] for t in trees}
    for r in range(rounds):
        for t, tree in trees.items():
            rounds_out[t].append(_run_worker(tree, steps_single, steps_ens, profile=(r == 0), patched=(t == 'new+08')))
            print(f"round {r+1}/{rounds} {t}: " + ', '.join(f"{o} {v['single_ms']:.2f}/{v['ensemble_ms']:.1f} ms"
                                                         for o, v in rounds_out[t][-1]['times'].items()), file=sys.stderr)
    res['times'] = {t: {o: {k: min(rr['times'][o][k] for rr in rounds_out[t]) for k in ('single_ms', 'ensemble_ms')}
                        for o in OBJECTIVES} for t in trees}
    res['times_rounds'] = {t: [rr['times'] for rr in rounds_out[t]] for t in trees}
    res['trees'] = {t: {'path': str(tree), 'git': rounds_out[t][0]['git']} for t, tree in trees.items()}
    res['profile'] = {t: rounds_out[t][0]['profile'] for t in trees}
    peak, M = res['matmul_peak_gflops_1thread'], len(ENSEMBLE_RUNS)
    res['achieved_by_code'] = {}
    for t in trees:
        res['achieved_by_code'][t] = {}
        for o in OBJECTIVES:
            f, tm = res['flops'][o]['step'], res['times'][t][o]
            single, ens = f/tm['single_ms']/1e6, M*f/tm['ensemble_ms']/1e6
            res['achieved_by_code'][t][o] = {'single_gflops': single, 'ensemble_member_gflops': ens, 'single_frac_of_peak': single/peak,
                                     'ensemble_frac_of_peak': ens/peak, 'single_ms': tm['single_ms'],
                                     'ensemble_member_ms': tm['ensemble_ms']/M,
                                     'target': TARGETS[o], 'single_meets_target': single/peak >= TARGETS[o],
                                     'ensemble_meets_target': ens/peak >= TARGETS[o]}
    res['achieved'] = res['achieved_by_code']['new']                # the code of this commit: what reports quote
    res['wgan_rmsprop_foreach_bit_for_bit'] = wgan_foreach_same()
    res['patch_08'] = PATCH_08
    if compare_steps:
        if old is None: raise ValueError("--compare-steps needs --old")
        steps_list = sorted(compare_steps)
        short = {}
        with tempfile.TemporaryDirectory() as tmp:
            for st in steps_list[:-1]:   # a short compare of each code too: its fixed cost (imports, evaluations, report)
                short[st] = {t: run_compare(tree, st, Path(tmp)/f"{t.replace('+', '_')}_{st}", patched=(t == 'new+08'))
                             for t, tree in trees.items()}
            res['compare'] = {t: run_compare(tree, steps_list[-1], Path(tmp)/t.replace('+', '_'), patched=(t == 'new+08'))
                              for t, tree in trees.items()}
        compare_steps = steps_list[-1]
        res['compare']['steps'] = compare_steps
        res['compare']['short'] = {st: {t: {k: v for k, v in x.items() if k != 'summary'} for t, x in r.items()} for st, r in short.items()}
        if short:   # CPU s = fixed + per-step cost x steps, from the shortest and the longest compare: the default 5,000 steps
            s0 = steps_list[0]
            res['compare']['extrapolated_5000'] = {}
            for t in trees:
                a, b = short[s0][t]['cpu_s'], res['compare'][t]['cpu_s']
                per = (b - a)/(compare_steps - s0)
                res['compare']['extrapolated_5000'][t] = a + per*(5000 - s0)
            e = res['compare']['extrapolated_5000']
            for t in ('new', 'new+08'): e[f'ratio_old_over_{t}'] = e['old']/e[t]
        for t in ('new', 'new+08'):
            res['compare'][f'cpu_ratio_old_over_{t}'] = res['compare']['old']['cpu_s']/res['compare'][t]['cpu_s']
            res['compare'][f'conclusions_{t}'] = conclusions(res['compare']['old']['summary'], res['compare'][t]['summary'])
    res['machine']['loadavg_end'] = os.getloadavg()
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
    (out/'step_results.json').write_text(json.dumps(res, indent=1))
    (out/'step_results.md').write_text(to_markdown(res))
    return out/'step_results.md'

def _cpu_name():
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor()

def to_markdown(res)->str:
    m, peak = res['machine'], res['matmul_peak_gflops_1thread']
    L = [f"# Toy training step against the single-thread matmul peak", '',
         f"Written by `{res['command']}` at commit {res['git'][:10]}; torch {m['torch']}, {m['cpu']} ({m['cpu_capability']}), "
         f"{m['threads']} torch thread, {m['cpus']} CPUs shared with other work: load average {m['loadavg_start'][0]:.2f} at the "
         f"start, {m['loadavg_end'][0]:.2f} at the end. Times are CPU time of the timing thread (best of 3 blocks per round, "
         f"then best over rounds); old and new code ran interleaved in subprocesses.", '',
         f"**Matmul peak** (float32 `torch.mm`, best of 5): " + ', '.join(f"{k}: {v:.1f} GFLOP/s" for k, v in res['matmul_peak'].items())
         + f"; `matmul_peak_gflops_1thread` = {peak:.1f}.", '',
         '## FLOPs per step', '', res['counting_rule'], '',
         '| objective | D update MFLOP | G update MFLOP | k | step MFLOP (counted) | FlopCounterMode MFLOP | counted/measured | matmuls alone at the step\'s shapes (GFLOP/s) |',
         '|---|---:|---:|---:|---:|---:|---:|---:|']
    for o, f in res['flops'].items():
        mm = res['matmuls_at_step_shapes'][o]
        L.append(f"| {o} | {f['d_update']/1e6:.1f} | {f['g_update']/1e6:.1f} | {f['k']} | {f['step']/1e6:.1f} | "
                 f"{f['flop_counter_mode']/1e6:.1f} | {f['counted_over_measured']:.3f} | {mm['gflops_at_step_shapes']:.1f} |")
    L += ['', "The last column times each of the step's matrix products alone (same shapes and strides, best of 3): the "
          "throughput the step would reach if it did nothing but its matmuls.", '',
          '## Achieved throughput', '',
          f"Step FLOPs (counted) / CPU time per step. Ensemble: the 6 runs of one `gan-notes compare` group (ring8 and grid25, "
          f"seeds 0-2) trained as one `ensemble_learner`; per member = ensemble step time / 6. Targets: fraction of the peak {peak:.1f}.", '',
          '| objective | code | one run ms/step | GFLOP/s | % of peak | ensemble member ms/step | GFLOP/s | % of peak | target | met (one run / ensemble) |',
          '|---|---|---:|---:|---:|---:|---:|---:|---:|---|']
    for o in OBJECTIVES:
        for t, a in res['achieved_by_code'].items():
            x = a[o]
            L.append(f"| {o} | {t} | {x['single_ms']:.2f} | {x['single_gflops']:.1f} | {100*x['single_frac_of_peak']:.0f}% | "
                     f"{x['ensemble_member_ms']:.2f} | {x['ensemble_member_gflops']:.1f} | {100*x['ensemble_frac_of_peak']:.0f}% | "
                     f"{100*x['target']:.0f}% | {'yes' if x['single_meets_target'] else 'no'} / {'yes' if x['ensemble_meets_target'] else 'no'} |")
    if 'old' in res['achieved_by_code']:
        A = res['achieved_by_code']
        L += ['', '| objective | speed-up new/old, one run | ensemble | new+08 patch/old, one run | ensemble |', '|---|---:|---:|---:|---:|']
        for o in OBJECTIVES:
            a, b, c = A['old'][o], A['new'][o], A['new+08'][o]
            L.append(f"| {o} | {a['single_ms']/b['single_ms']:.2f}x | {a['ensemble_member_ms']/b['ensemble_member_ms']:.2f}x | "
                     f"{a['single_ms']/c['single_ms']:.2f}x | {a['ensemble_member_ms']/c['ensemble_member_ms']:.2f}x |")
        L += ['', "`new+08`: the new code with the change proposed for 08_wasserstein (not in this branch; monkeypatched by the "
              f"benchmark). WGAN with RMSprop(foreach=True) trains bit for bit as before: {res['wgan_rmsprop_foreach_bit_for_bit']}.",
              '', '```', res['patch_08'], '```']
    L += ['', '## Misses: by how much, and where the time goes', '']
    for o in OBJECTIVES:
        x = res['achieved'][o]; mm = res['matmuls_at_step_shapes'][o]
        for kind, frac in (('one run', x['single_frac_of_peak']), ('ensemble', x['ensemble_frac_of_peak'])):
            if frac < x['target']:
                ms = x['single_ms'] if kind == 'one run' else x['ensemble_member_ms']*6
                mmo = mm['matmul_only_ms_per_step']*(1 if kind == 'one run' else 6)
                L.append(f"- {o}, {kind}: {100*frac:.0f}% of peak, {100*(x['target'] - frac):.0f} points short "
                         f"({x['target']/frac:.2f}x too slow). Its matmuls alone at their shapes take "
                         f"{mmo:.2f} of its {ms:.2f} ms per step ({100*mmo/ms:.0f}%; at most {100*mm['gflops_at_step_shapes']/peak:.0f}% "
                         f"of peak even with no other work); the rest is elementwise work, autograd and Python (profile below).")
    L += ['', '## Per-operator profile: non-saturating, one run, 100 steps of `fit` (no callbacks), top 15 by self CPU time', '']
    for t, p in res['profile'].items():
        L += [f"**{t}** ({p['total_us_per_step']/1e3:.2f} ms per step under the profiler):", '',
              '| op | self µs/step | share | calls/step |', '|---|---:|---:|---:|']
        L += [f"| {e['op']} | {e['self_us_per_step']:.0f} | {100*e['share']:.1f}% | {e['calls_per_step']:.1f} |" for e in p['top']]
        L.append('')
    if 'compare' in res:
        c = res['compare']
        L += [f"## `gan-notes compare`, old and new code, back to back", '',
              f"Every default objective, dataset (ring8, grid25) and seed (0-2) with every default setting except `--steps {c['steps']}` "
              f"(the default 5,000 costs about 640 CPU-s with the old code on an idle machine) and `--jobs 1` (one process: CPU "
              f"seconds are what is compared). CPU seconds of the whole command (imports, training, evaluations, report), old, new "
              f"and new+08 one after the other.", '',
              '| code | commit | CPU s | wall s | load average start / end |', '|---|---|---:|---:|---|']
        for t in ('old', 'new', 'new+08'):
            x = c[t]
            L.append(f"| {t} | {(x['git'] or '')[:10]} | {x['cpu_s']:.0f} | {x['wall_s']:.0f} | {x['loadavg_start'][0]:.2f} / {x['loadavg_end'][0]:.2f} |")
        for st, r in c.get('short', {}).items():
            for t in ('old', 'new', 'new+08'):
                x = r[t]
                L.append(f"| {t}, --steps {st} | {(x['git'] or '')[:10]} | {x['cpu_s']:.0f} | {x['wall_s']:.0f} | {x['loadavg_start'][0]:.2f} / {x['loadavg_end'][0]:.2f} |")
        L += ['', f"At --steps {c['steps']}: **{c['cpu_ratio_old_over_new']:.2f}x** fewer CPU seconds with the new code, "
              f"**{c['cpu_ratio_old_over_new+08']:.2f}x** with the 08 patch too (target >= 1.5x)."]
        if 'extrapolated_5000' in c:
            e = c['extrapolated_5000']
            L.append(f"Each code's CPU seconds as a fixed cost plus a cost per step (a line through its two compares), at the default "
                     f"5,000 steps: old {e['old']:.0f}, new {e['new']:.0f}, new+08 {e['new+08']:.0f} CPU-s: "
                     f"**{e['ratio_old_over_new']:.2f}x** and **{e['ratio_old_over_new+08']:.2f}x** (an extrapolation, not a measurement).")
        L.append('')
        for t in ('new', 'new+08'):
            L += [f"Conclusions, old against {t}: per dataset and metric, the objectives ordered by their mean over the 3 seeds, "
                  "and the largest change of a mean in units of its standard error (old and new combined).", '',
                  f'| dataset / metric | same order | old order | {t} order | max abs(new - old) / se |', '|---|---|---|---|---:|']
            for k, v in c[f'conclusions_{t}'].items():
                L.append(f"| {k.replace('|', ' / ')} | {'yes' if v['same_order'] else 'no'} | {', '.join(v['old_order'])} | "
                         f"{', '.join(v['new_order'])} | {v['max_abs_diff_in_se']:.2f} |")
            L.append('')
    return '\n'.join(L) + '\n'

if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--worker':
        print(json.dumps(worker(int(sys.argv[2]), int(sys.argv[3]), bool(int(sys.argv[4])), bool(int(sys.argv[5])))))
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--old', default=None, help='checkout of the old code, measured beside this one')
    p.add_argument('--rounds', type=int, default=3); p.add_argument('--steps-single', type=int, default=150)
    p.add_argument('--steps-ensemble', type=int, default=30); p.add_argument('--compare-steps', type=int, nargs='*', default=[])
    p.add_argument('--out', default=str(HERE))
    a = p.parse_args()
    print(run(a.out, a.old, a.rounds, a.steps_single, a.steps_ensemble, a.compare_steps).read_text())
