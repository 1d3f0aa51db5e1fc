"""The equality check of `gan_notes.distributed`: processes that together compute the single-process training.

Run it on any machine (GPUs included), from the repository root:

    torchrun --standalone --nproc_per_node 2 tools/ddp_check.py check --out /tmp/ddp-check --resume-at 4
    python tools/ddp_check.py report --out /tmp/ddp-check --world-size 2

`nbs/11_distributed.ipynb` runs it (two processes on CPUs, gloo) and imports its learners for the one-rank tests. It is a test
harness, not part of the library: it lives here, beside the notebook that runs it.
"""
import json
from pathlib import Path
import torch
import torch.distributed as dist
from torch import nn, Tensor
import torch.nn.functional as F
from gan_notes.data import toy_dataset
from gan_notes.structure import Learner, Discriminator, default_callbacks, toy_learner, seed_everything
from gan_notes.vanilla import NonSaturatingObjective
from gan_notes.wasserstein import WGANGPObjective
from gan_notes.distributed import (DDPCallback, DistributedCheckpointer, GhostBatchNorm, ghost_batchnorm, init_distributed,
                                   load_distributed_checkpoint, plain)

class QHeadObjective(NonSaturatingObjective):
    "Non-saturating GAN plus a head Q on D's body predicting each fake sample's z_1 (mean squared error), trained by both players."
    updates = {'D': ('D', 'Q'), 'G': ('G', 'Q')}
    def networks(self, learn): return {'Q': nn.Linear(learn.D.net[-1].in_features, 1)}
    def _code(self, learn, latent, fake): return F.mse_loss(learn.models['Q'](learn.D.features(fake)).squeeze(1), latent['z'][:, 0])
    def d_loss(self, learn, batch):
        loss, logs = super().d_loss(learn, batch)
        latent = self.sample_latent(learn, len(self.real(batch)))
        with torch.no_grad(): fake = learn.fake(latent)
        q = self._code(learn, latent, fake)
        return loss + q, {**logs, 'q_loss': q.detach()}
    def g_loss(self, learn, batch):
        latent = self.sample_latent(learn, len(self.real(batch)))
        fake = learn.fake(latent)
        return self.generator_loss(learn.D(fake)) + self._code(learn, latent, fake), {}

class _NaNOnRank1(NonSaturatingObjective):
    "The non-saturating GAN whose discriminator loss becomes NaN on rank 1 alone at step 3 (a fault, for the check)."
    def d_loss(self, learn, batch):
        loss, logs = super().d_loss(learn, batch)
        if learn.step == 3 and dist.is_initialized() and dist.get_rank() == 1: loss = loss*float('nan')
        return loss, logs

CHECK_CASES = ('nonsaturating', 'wgan-gp', 'batchnorm', 'q-head', 'dropout', 'nan-on-rank-1')
EXACT_CASES = ('nonsaturating', 'wgan-gp', 'batchnorm', 'q-head')   # the cases that must equal the single process

def _bn_mlps(width):
    "G and D with a BatchNorm layer each, without parameters whose only effect BatchNorm removes (see the BatchNorm section)."
    G = nn.Sequential(nn.Linear(2, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, 2)); G.z_dim = 2
    D = nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, width, bias=False), nn.BatchNorm1d(width),
                      nn.LeakyReLU(0.2), nn.Linear(width, 1), nn.Flatten(0))
    return G, D

def check_learner(case:str, # One of `CHECK_CASES`
                  batch_size:int=64, # Global batch
                  seed:int=0, # Seed of networks, data and noise
                  cbs:list=(), # Callbacks
                  ghost:int=1 # For `batchnorm`: replace BatchNorm by `GhostBatchNorm` with this many groups (the reference of that many ranks)
                 )->Learner:
    "The learner of one case of the equality check, on ring8 with small MLPs."
    kw = dict(seed=seed, batch_size=batch_size, cbs=list(cbs))
    objectives = {'nonsaturating': NonSaturatingObjective, 'wgan-gp': lambda: WGANGPObjective(k=2), 'q-head': QHeadObjective,
                  'nan-on-rank-1': _NaNOnRank1}
    if case in objectives: return toy_learner('ring8', objectives[case](), width=16, depth=2, **kw)
    if case not in CHECK_CASES: raise ValueError(f"unknown case {case!r}; choose from {CHECK_CASES}")
    seed_everything(seed)
    if case == 'batchnorm':
        G, D = _bn_mlps(16)
        if ghost > 1: ghost_batchnorm(G, ghost); ghost_batchnorm(D, ghost)
    else:
        G = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.25), nn.Linear(16, 2)); G.z_dim = 2
        D = Discriminator(2, 16, 2)
    return Learner(G, D, toy_dataset('ring8'), NonSaturatingObjective(), lr=1e-3, **kw)

def _record(learn)->dict:
    "What a rank ended with: step, stop reason, networks, optimisers, history, its own streams."
    return {'step': learn.step, 'stop_reason': learn.stop_reason,
            'models': {n: {k: v.detach().cpu().clone() for k, v in plain(m).state_dict().items()} for n, m in learn.models.items()},
            'opts': {n: o.state_dict() for n, o in learn.opts.items()}, 'history': learn.history.as_dict(),
            'rank_rngs': {d: g.get_state() for d, g in getattr(learn, 'rank_rngs', {}).items()}}

def _check_cases(cases, dtypes):
    unknown = [c for c in cases if c not in CHECK_CASES]
    if isinstance(cases, str) or unknown: raise ValueError(f"unknown check case {(unknown or [cases])[0]!r}; choose from {list(CHECK_CASES)}")
    bad = [d for d in dtypes if d not in ('float32', 'float64')]
    if isinstance(dtypes, str) or bad: raise ValueError(f"dtypes must be a list of 'float32' and 'float64', got {dtypes!r}")

def run_check(out, # Folder for the ranks' files
              cases=CHECK_CASES, # Names in `CHECK_CASES`
              steps:int=8, # Training steps per case
              batch_size:int=64, # Global batch
              resume_at:int|None=None, # Also train `resume_at` steps, checkpoint, resume a fresh learner and finish
              dtypes=('float64',) # Default dtypes to train in
             )->list:
    "On every rank of a torchrun job: train each case with `DDPCallback`; rank r writes `out/CASE.DTYPE.rank{r}.pt`."
    _check_cases(cases, dtypes)
    init_distributed(timeout=120)
    rank, out = dist.get_rank(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for dtype in dtypes:
        for case in cases:
            old = torch.get_default_dtype(); torch.set_default_dtype(getattr(torch, dtype))
            try:
                learn = check_learner(case, batch_size, cbs=default_callbacks() + [DDPCallback()]).fit(steps)
                rec = {'straight': _record(learn), 'world_size': dist.get_world_size()}
                if resume_at and case != 'nan-on-rank-1':
                    ck = out/f'{case}.{dtype}.ckpt'
                    check_learner(case, batch_size, cbs=default_callbacks() + [DDPCallback(), DistributedCheckpointer(ck, resume_at)]).fit(resume_at)
                    again = load_distributed_checkpoint(check_learner(case, batch_size, cbs=default_callbacks() + [DDPCallback()]), ck)
                    rec['resumed'] = _record(again.fit(steps - resume_at))
            finally: torch.set_default_dtype(old)
            torch.save(rec, out/f'{case}.{dtype}.rank{rank}.pt'); written.append(out/f'{case}.{dtype}.rank{rank}.pt')
    dist.barrier()
    return written

def _bits(t)->Tensor: return torch.as_tensor(t).detach().cpu().contiguous().reshape(-1).view(torch.uint8)

def _same(a:dict, b:dict)->bool:
    "Whether two records hold bit for bit the same networks and optimiser states (NaNs included)."
    ts = lambda rec: [t for m in rec['models'].values() for t in m.values()] + \
                     [torch.as_tensor(v) for o in rec['opts'].values() for s in o['state'].values() for v in s.values()]
    x, y = ts(a), ts(b)
    return len(x) == len(y) and all(s.dtype == t.dtype and torch.equal(_bits(s), _bits(t)) for s, t in zip(x, y))

def _params(rec:dict, ref:Learner)->dict:
    "The parameters (not buffers) of a record, by network and name, as the reference learner names them."
    return {(n, k): rec['models'][n][k] for n, m in ref.models.items() for k, _ in m.named_parameters()}

def check_report(out, # Folder written by `run_check`
                 world_size:int, # Number of ranks that wrote it
                 cases=CHECK_CASES, steps:int=8, batch_size:int=64, dtypes=('float64',)
                )->list:
    "For each case and dtype: how far the ranks are from one process trained the plain way, whether they agree, whether resume was exact."
    _check_cases(cases, dtypes)
    out, rows = Path(out), []
    missing = [f'{c}.{d}.rank{r}.pt' for d in dtypes for c in cases for r in range(world_size) if not (out/f'{c}.{d}.rank{r}.pt').is_file()]
    if missing: raise ValueError(f"{out} lacks {missing[0]} (and {len(missing) - 1} more): run `torchrun ... tools/ddp_check.py check --out {out}` first")
    for dtype in dtypes:
        for case in cases:
            recs = [torch.load(out/f'{case}.{dtype}.rank{r}.pt', weights_only=True) for r in range(world_size)]
            s = [r['straight'] for r in recs]
            shared = lambda rec: {n: {k: v for k, v in sd.items() if 'running_' not in k and 'num_batches' not in k} for n, sd in rec['models'].items()}
            row = {'case': case, 'dtype': dtype, 'steps': s[0]['step'], 'stopped': s[0]['stop_reason'] is not None,
                   'ranks_agree': all(_same({**x, 'models': shared(x)}, {**s[0], 'models': shared(s[0])}) and x['step'] == s[0]['step']
                                      and x['stop_reason'] == s[0]['stop_reason'] for x in s)}
            if 'resumed' in recs[0]: row['resume_exact'] = all(_same(r['straight'], r['resumed']) and r['straight']['history'] == r['resumed']['history'] for r in recs)
            if s[0]['rank_rngs']: row['own_streams_differ'] = len({bytes(next(iter(x['rank_rngs'].values())).numpy()) for x in s}) == world_size
            if case in EXACT_CASES:
                old = torch.get_default_dtype(); torch.set_default_dtype(getattr(torch, dtype))
                try: ref = check_learner(case, batch_size, cbs=default_callbacks(), ghost=world_size if case == 'batchnorm' else 1).fit(steps)
                finally: torch.set_default_dtype(old)
                got = _params(s[0], ref)
                row['max_param_diff'] = max(float((got[n, k] - p.detach().cpu()).abs().max()) for n, m in ref.models.items() for k, p in m.named_parameters())
                row['max_param'] = max(float(p.detach().abs().max()) for m in ref.models.values() for p in m.parameters())
                row['max_loss_diff'] = max(abs(a - b) for k in ('d_loss', 'g_loss') for a, b in zip(ref.history[k], s[0]['history'][k]['value']))
                row['max_loss'] = max(abs(a) for k in ('d_loss', 'g_loss') for a in ref.history[k])
                if case == 'batchnorm':
                    row['max_stat_diff'] = max(float((x['models'][n][f'{g}.{st}'] - gb.get_buffer(st)[r].cpu()).abs().max())
                                               for r, x in enumerate(s) for n, m in ref.models.items() for g, gb in m.named_modules()
                                               if isinstance(gb, GhostBatchNorm) for st in ('running_mean', 'running_var'))
            rows.append(row)
    return rows

def check_main(argv:list|None=None # Arguments; default `sys.argv[1:]`
              ):
    "`tools/ddp_check.py check ...` under torchrun, then `... report ...` in one process: the equality check."
    import argparse
    p = argparse.ArgumentParser(prog='tools/ddp_check.py', description='The equality check of gan_notes.distributed.')
    sub = p.add_subparsers(dest='cmd', required=True)
    for name, help in (('check', 'train the cases on every rank (run it under torchrun)'), ('report', 'compare with one process')):
        s = sub.add_parser(name, help=help)
        s.add_argument('--out', required=True, help='folder of the ranks\' files')
        s.add_argument('--cases', default=','.join(CHECK_CASES), help='comma-separated cases (default all)')
        s.add_argument('--steps', type=int, default=8); s.add_argument('--batch-size', type=int, default=64)
        s.add_argument('--dtypes', default='float64', help='comma-separated default dtypes (default float64)')
        if name == 'check': s.add_argument('--resume-at', type=int, help='also checkpoint at this step and resume')
        else: s.add_argument('--world-size', type=int, required=True, help='number of ranks that ran check')
    try: a = p.parse_args(argv)
    except SystemExit as e:
        if e.code: raise ValueError(f"tools/ddp_check.py: bad arguments {argv!r} (see --help)") from None
        raise
    torch.set_num_threads(1)
    kw = dict(cases=a.cases.split(','), steps=a.steps, batch_size=a.batch_size, dtypes=a.dtypes.split(','))
    if a.cmd == 'check':
        run_check(a.out, resume_at=a.resume_at, **kw)
        dist.destroy_process_group()
    else: print(json.dumps(check_report(a.out, a.world_size, **kw), indent=1))

if __name__ == '__main__': check_main()
