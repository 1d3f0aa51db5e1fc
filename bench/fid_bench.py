"""FID benchmark: gan_notes against the two usual routes, at the size of a standard evaluation (d = 2048).

Run on demand (not part of nbdev_test):  python bench/fid_bench.py [OUT_DIR]   (default: the bench/ folder)
Writes OUT_DIR/fid_results.md and OUT_DIR/fid_results.json; `run(out_dir)` does the same and returns the results.

Routes, all in float64:
- gan_notes: `frechet_distance` (Cholesky factors, eigenvalues of the symmetric X Xᵀ with X = L1ᵀ L2) and
  `fid_from_features` (streams the covariances; for N <= d the singular values of the small N1×N2 matrix A Bᵀ).
- sqrtm: pytorch-fid's formula, re-implemented here: scipy.linalg.sqrtm(Σ1 @ Σ2), retried with 1e-6·I added to both
  covariances when the result is not finite, real part of its trace.
- eigvals: torchmetrics' formula, re-implemented here: torch.linalg.eigvals(Σ1 @ Σ2).sqrt().real.sum().
References (float64):
- full rank: the singular values of L1ᵀ L2 (Cholesky factors; svdvals, which does not square them as gan_notes does);
  a second, algorithmically independent one, eigh: S1 = V Λ^½ Vᵀ, then eigvalsh(S1 Σ2 S1), shows the spread;
- commuting covariances Q diag(a) Qᵀ, Q diag(b) Qᵀ: the closed form ||Δμ||² + Σ (√a − √b)²;
- rank deficient (N <= d): restrict to the range of Σ1 (QR of the centred features), where it is positive definite,
  then eigh as above.
Times are the minimum over interleaved repetitions (the machine is shared and noisy); every ratio comes from one run.
Threads: all routes run with the same thread count (default 1, set for torch/MKL and, through threadpoolctl, for numpy/scipy's
OpenBLAS). On a shared, oversubscribed machine one thread is faster and steadier than two; `run(threads=None)` keeps the defaults.
gan_notes is also timed with torch's default thread count, for comparison.
"""
import json, math, os, platform, sys, time
from pathlib import Path
import numpy as np
import scipy, scipy.linalg
import torch
from gan_notes.metrics import FeatureStats, fid_from_features, frechet_distance

D = 2048

# ---------------------------------------------------------------- the routes
def route_sqrtm(mu1, s1, mu2, s2):
    "pytorch-fid's formula on numpy float64 statistics; also returns the largest imaginary part it discarded."
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        off = 1e-6*np.eye(len(s1))
        covmean = scipy.linalg.sqrtm((s1 + off) @ (s2 + off))
    imag = float(np.abs(covmean.imag).max()) if np.iscomplexobj(covmean) else 0.0
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2*np.trace(covmean).real), imag

def route_eigvals(mu1, s1, mu2, s2):
    "torchmetrics' formula on torch float64 statistics."
    c = torch.linalg.eigvals(s1 @ s2).sqrt().real.sum()
    return float(((mu1 - mu2)**2).sum() + s1.trace() + s2.trace() - 2*c)

def reference_eigh(mu1, s1, mu2, s2):
    "Float64 reference: S1 = V Λ^½ Vᵀ from eigh, Tr sqrt = Σ √eig(S1 Σ2 S1)."
    w, v = torch.linalg.eigh(s1)
    r = (v*w.clamp(min=0).sqrt()) @ v.T
    m = r @ s2 @ r
    lam = torch.linalg.eigvalsh((m + m.T)/2).clamp(min=0)
    return float(((mu1 - mu2)**2).sum() + s1.trace() + s2.trace() - 2*lam.sqrt().sum())

def reference_svd(mu1, s1, mu2, s2):
    "Second float64 reference: Tr sqrt = Σ σ(L1ᵀ L2), singular values without squaring."
    x = torch.linalg.cholesky(s1).T @ torch.linalg.cholesky(s2)
    return float(((mu1 - mu2)**2).sum() + s1.trace() + s2.trace() - 2*torch.linalg.svdvals(x).sum())

def reference_subspace(f1, f2):
    "Rank-deficient reference: Q spans range(Σ1) (QR of the centred features), C1 = QᵀΣ1Q > 0, then eigh."
    a, b = f1 - f1.mean(0), f2 - f2.mean(0)
    n1, n2 = len(a), len(b)
    q = torch.linalg.qr(a.T)[0][:, :n1 - 1]                          # the centred rows span n1 - 1 dimensions
    c1 = (a @ q).T @ (a @ q)/(n1 - 1)
    c2 = (b @ q).T @ (b @ q)/(n2 - 1)
    w, v = torch.linalg.eigh(c1)
    r = (v*w.clamp(min=0).sqrt()) @ v.T
    m = r @ c2 @ r
    t = torch.linalg.eigvalsh((m + m.T)/2).clamp(min=0).sqrt().sum()
    return float(((f1.mean(0) - f2.mean(0))**2).sum() + (a*a).sum()/(n1 - 1) + (b*b).sum()/(n2 - 1) - 2*t)

# ---------------------------------------------------------------- data
def features(n, d, seed, shift=0.0, mix=0.0):
    "Inception-like features: non-negative, correlated, with a power-law spectrum; `mix` perturbs the mixing (a 'generator')."
    W = torch.randn(d, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    if mix: W = W + mix*torch.randn(d, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    W = W*torch.arange(1, d + 1, dtype=torch.float64)**-0.75/math.sqrt(d)
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.relu(z @ W.T + 0.3 + shift)

def stats_np(f):
    return f.mean(0).numpy(), np.cov(f.numpy(), rowvar=False)

# ---------------------------------------------------------------- timing
def timed(fn, *args):
    t = time.perf_counter(); out = fn(*args); return time.perf_counter() - t, out

def interleaved(routes, reps):
    "Run each route `reps[name]` times, interleaved; return {name: (min time, all times, last output)}."
    res = {k: [math.inf, [], None] for k in routes}
    for r in range(max(reps.values())):
        for k, (fn, args) in routes.items():
            if r >= reps[k]: continue
            dt, out = timed(fn, *args)
            res[k][0] = min(res[k][0], dt); res[k][1].append(round(dt, 4)); res[k][2] = out
            print(f"  {k:10s} rep {r}: {dt:8.3f} s", flush=True)
    return res

def rel(x, ref): return abs(x - ref)/abs(ref)

# ---------------------------------------------------------------- cases
def case_full(n=10_000, d=D, reps_fast=5, reps_sqrtm=2, keep=None):
    print(f"full rank: {n} x {d} features per set", flush=True)
    f1, f2 = features(n, d, seed=10), features(n, d, seed=11, shift=0.02, mix=0.1)
    t_cov, (st1, st2) = timed(lambda: (FeatureStats(d).update(f1), FeatureStats(d).update(f2)))
    mu1, s1, mu2, s2 = st1.mean, st1.cov, st2.mean, st2.cov
    if keep is not None: keep['stats'] = (mu1, s1, mu2, s2)
    w = torch.linalg.eigvalsh(s1)
    npst = [t.numpy() for t in (mu1, s1, mu2, s2)]
    res = interleaved({'gan_notes': (frechet_distance, (mu1, s1, mu2, s2)),
                       'eigvals': (route_eigvals, (mu1, s1, mu2, s2)),
                       'sqrtm': (route_sqrtm, tuple(npst))},
                      {'gan_notes': reps_fast, 'eigvals': max(2, reps_fast//2), 'sqrtm': reps_sqrtm})
    t_ref, ref = timed(reference_svd, mu1, s1, mu2, s2); t_eigh, ref2 = timed(reference_eigh, mu1, s1, mu2, s2)
    t_whole, fid_whole = timed(fid_from_features, f1, f2)
    t_np_cov, _ = timed(lambda: (stats_np(f1), stats_np(f2)))
    vals = {'gan_notes': res['gan_notes'][2], 'eigvals': res['eigvals'][2], 'sqrtm': res['sqrtm'][2][0]}
    identical = {'gan_notes': frechet_distance(mu1, s1, mu1, s1), 'eigvals': route_eigvals(mu1, s1, mu1, s1),
                 'scale': float(2*s1.trace())}
    return {'n': n, 'd': d, 'cond1': float(w[-1]/w[0]), 'reference': ref, 'reference_eigh': ref2, 'reference_spread': rel(ref2, ref),
            'time_s': {k: v[0] for k, v in res.items()}, 'all_times_s': {k: v[1] for k, v in res.items()},
            'value': vals, 'rel_diff': {k: rel(v, ref) for k, v in vals.items()}, 'identical': identical,
            'sqrtm_max_imag': res['sqrtm'][2][1], 'reference_time_s': {'svdvals': t_ref, 'eigh': t_eigh},
            'speedup_vs': {k: res[k][0]/res['gan_notes'][0] for k in ('sqrtm', 'eigvals')},
            'from_features': {'total_s': t_whole, 'covariances_s': t_cov, 'distance_s': res['gan_notes'][0],
                              'np_cov_s': t_np_cov, 'value': fid_whole, 'rel_diff': rel(fid_whole, ref)}}

def case_commuting(d=D, lo=0.01):
    "Q diag(a) Qᵀ and Q diag(b) Qᵀ with a, b log-uniform in [lo, 1]: the closed form is exact up to the rounding of the inputs."
    print(f"commuting closed form, d = {d}, eigenvalues in [{lo:g}, 1]", flush=True)
    g = torch.Generator().manual_seed(5)
    q = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0]
    a = lo**torch.rand(d, generator=g, dtype=torch.float64)
    b = lo**torch.rand(d, generator=g, dtype=torch.float64)
    mu1, mu2 = torch.randn(d, generator=g, dtype=torch.float64)*0.1, torch.zeros(d, dtype=torch.float64)
    s1, s2 = q @ torch.diag(a) @ q.T, q @ torch.diag(b) @ q.T
    s1, s2 = (s1 + s1.T)/2, (s2 + s2.T)/2
    exact = float(((mu1 - mu2)**2).sum() + ((a.sqrt() - b.sqrt())**2).sum())
    npst = [t.numpy() for t in (mu1, s1, mu2, s2)]
    vals = {'gan_notes': frechet_distance(mu1, s1, mu2, s2), 'eigvals': route_eigvals(mu1, s1, mu2, s2),
            'sqrtm': route_sqrtm(*npst)[0], 'reference_eigh': reference_eigh(mu1, s1, mu2, s2)}
    return {'d': d, 'lo': lo, 'exact': exact, 'value': vals, 'rel_diff': {k: rel(v, exact) for k, v in vals.items()}}

def case_rank_deficient(n=1000, d=D, reps_fast=5, reps_sqrtm=2):
    print(f"rank deficient: {n} x {d} features per set", flush=True)
    f1, f2 = features(n, d, seed=20), features(n, d, seed=21, shift=0.02, mix=0.1)
    def sqrtm_from_features(f1, f2): return route_sqrtm(*stats_np(f1), *stats_np(f2))
    def eigvals_from_features(f1, f2):
        a, b = FeatureStats(d).update(f1), FeatureStats(d).update(f2)
        return route_eigvals(a.mean, a.cov, b.mean, b.cov)
    def stats_route(f1, f2): return FeatureStats(d).update(f1).fid(FeatureStats(d).update(f2))
    res = interleaved({'gan_notes': (fid_from_features, (f1, f2)), 'gan_notes_stats': (stats_route, (f1, f2)),
                       'eigvals': (eigvals_from_features, (f1, f2)), 'sqrtm': (sqrtm_from_features, (f1, f2))},
                      {'gan_notes': reps_fast, 'gan_notes_stats': 2, 'eigvals': 2, 'sqrtm': reps_sqrtm})
    ref = reference_subspace(f1, f2)
    vals = {k: (v[2][0] if k == 'sqrtm' else v[2]) for k, v in res.items()}
    return {'n': n, 'd': d, 'reference': ref, 'time_s': {k: v[0] for k, v in res.items()},
            'all_times_s': {k: v[1] for k, v in res.items()}, 'value': vals,
            'rel_diff': {k: rel(v, ref) for k, v in vals.items()}, 'sqrtm_max_imag': res['sqrtm'][2][1],
            'speedup_vs': {k: res[k][0]/res['gan_notes'][0] for k in ('sqrtm', 'eigvals', 'gan_notes_stats')}}

# ---------------------------------------------------------------- report
def markdown(r):
    f, c, k = r['full'], r['commuting'], r['rank_deficient']
    m = r['machine']
    ok = lambda b: 'met' if b else '**missed**'
    L = [f"FID benchmark, {r['date']}. Machine: {m['cpus']} CPU cores ({m['processor']}), torch {m['torch']} "
         f"(MKL), scipy {m['scipy']} (OpenBLAS), {m['threads']} thread(s) for every route, load average {m['load_before']:.1f} before and "
         f"{m['load_after']:.1f} after the run (the machine is shared: times are minima over interleaved repetitions).", "",
         f"**Distance from statistics, d = {f['d']}** (covariances of {f['n']:,} samples per set, condition number "
         f"{f['cond1']:.1e}; reference: the singular values of L1ᵀL2 (no squaring), FID = {f['reference']:.10f}; the eigh route "
         f"S1 = V√ΛVᵀ, eigvalsh(S1Σ2S1) differs from it by {f['reference_spread']:.1e} relative).", "",
         "| route | time (s) | speed-up of gan_notes | relative difference from the reference |", "|---|---:|---:|---:|"]
    for name, label in [('gan_notes', 'gan_notes `frechet_distance`'), ('eigvals', 'torchmetrics formula (eigvals of Σ1Σ2)'),
                        ('sqrtm', 'pytorch-fid formula (scipy sqrtm of Σ1Σ2)')]:
        sp = '' if name == 'gan_notes' else f"{f['speedup_vs'][name]:.1f}×"
        L.append(f"| {label} | {f['time_s'][name]:.3f} | {sp} | {f['rel_diff'][name]:.1e} |")
    L += ["", f"Largest imaginary part discarded by the sqrtm route: {f['sqrtm_max_imag']:.1e}. The two references, timed once: "
          f"singular values of L1ᵀL2 {f['reference_time_s']['svdvals']:.2f} s, eigh route {f['reference_time_s']['eigh']:.2f} s. "
          f"gan_notes with torch's default {r['default_threads']['threads']} threads: {r['default_threads']['time_s']:.3f} s.", "",
          f"**Identical statistics** (true FID 0; Tr Σ1 + Tr Σ2 = {f['identical']['scale']:.3f}): gan_notes "
          f"{f['identical']['gan_notes']:.3g}, eigvals route {f['identical']['eigvals']:.3g}.", "",
          *[line for c in (r['commuting'], r['commuting_ill']) for line in (
            f"**Commuting covariances, closed form**, d = {c['d']}, eigenvalues log-uniform in [{c['lo']:g}, 1]: "
            f"FID = ‖Δμ‖² + Σ(√a − √b)² = {c['exact']:.10f}; relative differences: " +
            ", ".join(f"{n} {v:.1e}" for n, v in c['rel_diff'].items()) + ".", "")],
          f"**Whole computation from features**, {f['n']:,} × {f['d']} per set (`fid_from_features`): "
          f"{f['from_features']['total_s']:.2f} s, of which the two covariances take about {f['from_features']['covariances_s']:.2f} s "
          f"(streamed in float64; `np.cov` of both takes {f['from_features']['np_cov_s']:.2f} s) and the distance "
          f"{f['from_features']['distance_s']:.2f} s. Relative difference from the reference: {f['from_features']['rel_diff']:.1e}.", "",
          f"**Rank deficient, from features**, {k['n']:,} × {k['d']} per set (reference: restriction to the range of Σ1, "
          f"FID = {k['reference']:.10f}).", "",
          "| route | time (s) | speed-up of gan_notes | relative difference from the reference |", "|---|---:|---:|---:|"]
    for name, label in [('gan_notes', 'gan_notes `fid_from_features` (small N×N matrix)'),
                        ('gan_notes_stats', 'gan_notes, statistics route (covariances, eigen-factor)'),
                        ('eigvals', 'torchmetrics formula (covariances, eigvals)'),
                        ('sqrtm', 'pytorch-fid formula (np.cov, sqrtm)')]:
        sp = '' if name == 'gan_notes' else f"{k['speedup_vs'][name]:.1f}×"
        L.append(f"| {label} | {k['time_s'][name]:.3f} | {sp} | {k['rel_diff'][name]:.1e} |")
    L += ["", f"Largest imaginary part discarded by the sqrtm route: {k['sqrtm_max_imag']:.1e}.", "",
          "**Targets.** " + "; ".join([
              f"statistics, ≥ 10× faster than sqrtm: {ok(f['speedup_vs']['sqrtm'] >= 10)} ({f['speedup_vs']['sqrtm']:.1f}×)",
              f"≥ 2× faster than eigvals: {ok(f['speedup_vs']['eigvals'] >= 2)} ({f['speedup_vs']['eigvals']:.1f}×)",
              f"difference ≤ 1e-9 relative: {ok(f['rel_diff']['gan_notes'] <= 1e-9)} against the singular-value reference "
              f"({f['rel_diff']['gan_notes']:.1e}; it is built from the same Cholesky factors, so it checks the arithmetic, not "
              f"the method), {rel(f['value']['gan_notes'], f['reference_eigh']):.1e} against the independent eigh reference, "
              f"which is the two references' own spread ({f['reference_spread']:.1e}); against the independent closed form of the "
              f"commuting cases {r['commuting']['rel_diff']['gan_notes']:.1e} and {r['commuting_ill']['rel_diff']['gan_notes']:.1e}",
              f"rank deficient, ≥ 10× faster than sqrtm: {ok(k['speedup_vs']['sqrtm'] >= 10)} ({k['speedup_vs']['sqrtm']:.1f}×)",
              f"exact: {ok(k['rel_diff']['gan_notes'] <= 1e-9)} ({k['rel_diff']['gan_notes']:.1e})"]) + "."]
    return "\n".join(L) + "\n"

def run(out_dir=None, threads=1):
    "Run the FID benchmark with `threads` threads per route (None: library defaults); write fid_results.md and .json to `out_dir`."
    from threadpoolctl import threadpool_limits
    out = Path(out_dir) if out_dir is not None else Path(__file__).parent
    out.mkdir(parents=True, exist_ok=True)
    default_threads = torch.get_num_threads()
    machine = {'cpus': os.cpu_count(), 'processor': platform.processor() or platform.machine(), 'python': platform.python_version(),
               'torch': torch.__version__, 'scipy': scipy.__version__, 'numpy': np.__version__,
               'threads': threads or default_threads, 'load_before': os.getloadavg()[0]}
    r = {'date': time.strftime('%Y-%m-%d %H:%M'), 'machine': machine}
    t0, keep = time.time(), {}
    try:
        if threads: torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            r['full'] = case_full(keep=keep)
            r['commuting'] = case_commuting()
            r['commuting_ill'] = case_commuting(lo=1e-10)
            r['rank_deficient'] = case_rank_deficient()
    finally: torch.set_num_threads(default_threads)
    r['default_threads'] = {'threads': default_threads,
                            'time_s': min(timed(frechet_distance, *keep['stats'])[0] for _ in range(3))}
    machine['load_after'] = os.getloadavg()[0]
    r['wall_s'] = time.time() - t0
    (out/'fid_results.json').write_text(json.dumps(r, indent=1))
    (out/'fid_results.md').write_text(markdown(r))
    print(markdown(r))
    return r

def rewrite_markdown(out_dir=None):
    "Regenerate fid_results.md from fid_results.json (after a change of the report's wording)."
    out = Path(out_dir) if out_dir is not None else Path(__file__).parent
    (out/'fid_results.md').write_text(markdown(json.loads((out/'fid_results.json').read_text())))

if __name__ == '__main__': run(sys.argv[1] if len(sys.argv) > 1 else None)
