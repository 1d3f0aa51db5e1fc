"""Check gan_notes on a CUDA device: the loop, checkpoints across devices, WGAN-GP, metrics on GPU tensors, the dashboard.

Run on a machine with a GPU, from the repository root: `python tools/gpu_check.py [OUT_DIR]`. Nothing in the project
depends on a GPU; this script is run on demand, where one is lent, and writes `gpu_check.json` to OUT_DIR (default `.`).
Each check prints PASS or FAIL (or INFO for measurements); the exit code is 1 when a check fails.
"""
import json, os, sys, tempfile, time, warnings
from pathlib import Path
import numpy as np
import torch

results, failed = {}, []

def check(name, ok, detail=''):
    results[name] = {'ok': bool(ok), 'detail': detail}
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
    if not ok: failed.append(name)

def info(name, detail):
    results[name] = {'info': detail}
    print(f"INFO {name}: {detail}", flush=True)

def main(out='.'):
    if not torch.cuda.is_available(): sys.exit("gpu_check: no CUDA device here")
    from gan_notes.structure import (toy_learner, default_callbacks, save_checkpoint, load_checkpoint, MetricsCallback,
                                     default_device)
    from gan_notes.comparison import evaluate
    from gan_notes.wasserstein import WGANGPObjective, WGANObjective, gradient_penalty
    from gan_notes.metrics import fid_from_features, FeatureStats
    from gan_notes.dashboard import Dashboard, dashboard_figure
    info('device', torch.cuda.get_device_name(0) + f', torch {torch.__version__}')
    check('default_device is cuda', default_device().type == 'cuda', str(default_device()))

    # 1. the loop on the GPU
    learn = toy_learner('ring8', seed=0, cbs=default_callbacks() + [MetricsCallback(evaluate, 500)])
    check('models on cuda', all(p.is_cuda for p in learn.G.parameters()) and all(p.is_cuda for p in learn.D.parameters()))
    t = time.time(); learn.fit(2000); torch.cuda.synchronize(); dt = time.time() - t
    m = {k: learn.history.last(k) for k in ('modes', 'hq', 'reverse_kl')}
    check('ring8 non-saturating on cuda trains', m['modes'] >= 6, f"{m}, {2000/dt:.0f} steps/s")

    # 2. checkpoints: exact resume on cuda, and a cuda checkpoint loaded on the CPU
    def short(seed=1, device=None): return toy_learner('ring8', width=32, depth=2, seed=seed, batch_size=64, k=2,
                                                        cbs=default_callbacks(), device=device)
    straight = short().fit(60)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d)/'ckpt.pt'
        first = short().fit(30); save_checkpoint(first, p)
        resumed = load_checkpoint(short(seed=99), p).fit(30)
        same = resumed.history['d_loss'] == straight.history['d_loss'] and resumed.history['g_loss'] == straight.history['g_loss']
        check('resume on cuda is bit for bit', same,
              'identical losses' if same else f"max |diff| {max(abs(a-b) for a, b in zip(resumed.history['d_loss'], straight.history['d_loss'])):.3g}")
        cpu = load_checkpoint(short(seed=5, device='cpu'), p)
        eq = all(torch.equal(a.cpu(), b) for a, b in zip(first.G.state_dict().values(), cpu.G.state_dict().values()))
        check('cuda checkpoint loads on cpu', eq and next(cpu.G.parameters()).device.type == 'cpu')
        cpu.fit(5)
        check('cpu learner continues a cuda run', cpu.step == 35 and np.isfinite(cpu.history.last('d_loss')))

    # 3. WGAN and WGAN-GP on cuda
    for obj in (WGANObjective(), WGANGPObjective()):
        l = toy_learner('ring8', obj, seed=0, cbs=default_callbacks())
        l.fit(200)
        check(f'{type(obj).__name__} on cuda', l.stop_reason is None and np.isfinite(l.history.last('d_loss')),
              f"d_loss {l.history.last('d_loss'):.4f}")
    critic = torch.nn.Linear(2, 1).cuda()
    real, fake = torch.randn(64, 2, device='cuda'), torch.randn(64, 2, device='cuda')
    gp = gradient_penalty(lambda x: critic(x).squeeze(1), real, fake)
    w = critic.weight.detach()
    check('gradient_penalty on cuda (linear critic: (|w|-1)^2)', abs(float(gp.detach()) - float((w.norm() - 1)**2)) < 1e-5, f"{float(gp.detach()):.6f}")

    # 4. metrics on GPU tensors agree with the CPU
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3000, 256, generator=g), torch.randn(3000, 256, generator=g)*1.1 + 0.1
    f_cpu, f_gpu = fid_from_features(a.numpy(), b.numpy()), fid_from_features(a.cuda(), b.cuda())
    check('fid_from_features cuda == cpu', abs(f_cpu - f_gpu) <= 1e-8*max(1., abs(f_cpu)), f"cpu {f_cpu:.10f}, cuda {f_gpu:.10f}")
    s = FeatureStats(256)
    for chunk in a.cuda().split(700): s.update(chunk)
    check('FeatureStats streams cuda batches', s.n == 3000)

    # 5. the dashboard on a cuda learner (no live kernel: progress bar, then the static figure)
    l = toy_learner('ring8', seed=0, cbs=default_callbacks())
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        l.fit(300, cbs=[Dashboard(every=100, metrics=())])
        fig = dashboard_figure(l)
    check('dashboard on a cuda learner', fig is not None)
    fig.savefig(Path(out)/'gpu_dashboard.png', dpi=70)

    Path(out, 'gpu_check.json').write_text(json.dumps(results, indent=1))
    print(f"{len(results) - len(failed) - sum('info' in v for v in results.values())} passed, {len(failed)} failed")
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else '.'))
