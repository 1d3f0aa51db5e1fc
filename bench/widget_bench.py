"""Live-view benchmark: frames per second and training overhead of `Dashboard`'s live view on the toy MLPs, in a real kernel.

The benchmark starts a fresh ipykernel (as Jupyter does) and runs the measurements inside it, with a live `Dashboard`
whose view is displayed: its frames go through the widget's comm and out of the kernel's IOPub socket to this process,
which reads every message as a front end would (it counts them and their bytes; it draws nothing).

1. Cost of one frame, by part (median over `--frames` frames, each taken after 5 training steps): the samples, D's surface
   on the default 48x48 grid (and on 64x64 for comparison), G's manifold, G's gradient arrows, the curves, the whole
   `Dashboard.frame`, encoding, and setting the widget's trait (serialising and sending through the comm).
2. End to end: fits of `--steps` steps on ring8 with `default_callbacks()` alone and with a live `Dashboard()` (defaults:
   6 frames/s at most, 10% overhead at most), alternated for `--rounds` rounds so that both see the same machine load.
   Frames per second = frames sent / wall time of the live fit; overhead = median over rounds of the per-round ratio of
   wall times, minus 1 (it includes the dashboard's gradient norms, the first frame and the final static figure).

Not measured: drawing in the browser (another process; on a 2-core machine it competes with training for the CPU:
`tools/check_widgets.py` reports the frame rate a real Chromium shows), JupyterLab's message handling, network latency.
Other widget libraries (bqplot, ipycanvas) were not measured: they are not installed here.

    python bench/widget_bench.py [--steps 1500] [--rounds 4] [--frames 60] [--out bench]

`run(out_dir)` does the same from Python (for `bench/run.py`), writes `widget_results.json` and `widget_results.md`,
and returns the path of the Markdown file.
"""
import argparse, json, os, platform, queue, statistics, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIG = dict(data='ring8', width=128, depth=3, z_dim=2, batch_size=256, lr=1e-3, seed=0, threads=1)
TARGETS = {'frames_per_s': 5.0, 'overhead': 0.10}

KERNEL_CODE = r'''
import json, time, statistics, contextlib, io
import numpy as np, torch
torch.set_num_threads({threads})
from gan_notes.structure import toy_learner, default_callbacks
from gan_notes.dashboard import Dashboard, ToyView, d_surface, generator_manifold, generator_gradient, live_curves, encode_frame, view_bounds
from gan_notes.structure import _to_device
C = {config}
def make(): return toy_learner(C['data'], z_dim=C['z_dim'], width=C['width'], depth=C['depth'], seed=C['seed'], lr=C['lr'],
                              batch_size=C['batch_size'], cbs=default_callbacks())
# 1. parts of a frame
learn = make(); learn.fit(200)
dash = Dashboard(live=True, show_figure=False)
learn.target_step = learn.step + 10**6; learn.stop_reason = None
dash.before_fit(learn)                       # builds and displays the view, sends the first frame
toy = dash.toy
parts = {{k: [] for k in ('samples', 'surface_48', 'surface_64', 'manifold', 'arrows', 'curves', 'frame', 'encode', 'send')}}
def timed(name, f):
    t = time.perf_counter(); out = f(); parts[name].append(time.perf_counter() - t); return out
for i in range({frames}):
    for _ in range(5): learn.one_step()
    fake = timed('samples', lambda: learn.generate(toy.n_samples))
    b = view_bounds(toy.real, fake.numpy())
    timed('surface_48', lambda: d_surface(learn, b, 48)); timed('surface_64', lambda: d_surface(learn, b, 64))
    timed('manifold', lambda: generator_manifold(learn, toy.lines))
    m = len(toy.arrow_batch)
    timed('arrows', lambda: generator_gradient(learn, fake[:m], _to_device(toy.arrow_batch, learn.device)))
    timed('curves', lambda: live_curves(learn.history, ()))
    f = timed('frame', lambda: dash.frame(learn))
    enc = timed('encode', lambda: encode_frame(f))
    def send(): dash.view.frame = enc
    timed('send', send)
dash.view.close()
step_s = []
for _ in range(50):
    t = time.perf_counter(); learn.one_step(); step_s.append(time.perf_counter() - t)
# 2. end to end, alternated
ends = []
for r in range({rounds}):
    row = {{}}
    for version in (('plain', 'live') if r % 2 == 0 else ('live', 'plain')):
        l = make()
        cbs = [Dashboard(live=True)] if version == 'live' else []
        with contextlib.redirect_stderr(io.StringIO()):
            t = time.perf_counter(); l.fit({steps}, cbs=cbs); row[version] = time.perf_counter() - t
        if version == 'live': row['frames'], row['frame_time'] = cbs[0].frames, cbs[0].frame_time
    ends.append(row)
print('RESULT ' + json.dumps({{'parts': {{k: statistics.median(v) for k, v in parts.items()}}, 'step_s': statistics.median(step_s), 'ends': ends}}))
'''


def measure(steps=1500, rounds=4, frames=60):
    "Run the measurements in a fresh kernel; return its result and what the client received."
    from jupyter_client.manager import start_new_kernel
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}
    env['PYTHONPATH'] = str(ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    env.update(OMP_NUM_THREADS=str(CONFIG['threads']), MPLBACKEND='Agg')
    km, kc = start_new_kernel(kernel_name='python3', stderr=subprocess.DEVNULL, env=env)
    try:
        code = KERNEL_CODE.format(threads=CONFIG['threads'], config=repr(CONFIG), frames=frames, rounds=rounds, steps=steps)
        msg_id = kc.execute(code)
        out, errors, n_msgs, n_bytes, t0 = [], [], 0, 0, time.time()
        while time.time() - t0 < 1800:
            try: m = kc.get_iopub_msg(timeout=1)
            except queue.Empty: continue
            t, c = m['msg_type'], m['content']
            if t == 'comm_msg' and 'frame' in c.get('data', {}).get('state', {}):
                n_msgs += 1; n_bytes += sum(len(b) for b in m.get('buffers', [])) + len(json.dumps(c))
            if t == 'stream': out.append(c['text'])
            if t == 'error': errors.append('\n'.join(c['traceback'])[-2000:])
            if t == 'status' and c['execution_state'] == 'idle' and m['parent_header'].get('msg_id') == msg_id: break
    finally: kc.stop_channels(); km.shutdown_kernel(now=True)
    if errors: raise RuntimeError(errors[0])
    line = [l for l in ''.join(out).splitlines() if l.startswith('RESULT ')]
    if not line: raise RuntimeError(f"no result from the kernel: {''.join(out)[-2000:]}")
    res = json.loads(line[-1][7:])
    res['client'] = {'frame_messages': n_msgs, 'bytes_per_frame': n_bytes/max(n_msgs, 1)}
    return res


def summarise(res, steps, rounds, frames):
    ends = res['ends']
    ratios = [e['live']/e['plain'] - 1 for e in ends]
    fps = [e['frames']/e['live'] for e in ends]
    share = [e['frame_time']/e['live'] for e in ends]
    return {'overhead': {'median': statistics.median(ratios), 'min': min(ratios), 'max': max(ratios)},
            'frames_per_s': {'median': statistics.median(fps), 'min': min(fps), 'max': max(fps)},
            'frame_share': {'median': statistics.median(share)},
            'frame_ms': {k: 1e3*v for k, v in res['parts'].items()}, 'step_ms': 1e3*res['step_s'],
            'plain_steps_per_s': statistics.median(steps/e['plain'] for e in ends),
            'live_steps_per_s': statistics.median(steps/e['live'] for e in ends),
            'bytes_per_frame': res['client']['bytes_per_frame'], 'frame_messages_seen': res['client']['frame_messages']}


def commit():
    try: return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip() or '?'
    except OSError: return '?'


def report(s, steps, rounds, frames, load0, load1)->str:
    ok_fps, ok_over = s['frames_per_s']['median'] >= TARGETS['frames_per_s'], s['overhead']['median'] <= TARGETS['overhead']
    ms = s['frame_ms']
    lines = [f"# Live-view benchmark: ring8, toy MLPs, {rounds} alternated rounds of {steps}-step fits",
             '', f"MLPs width {CONFIG['width']} depth {CONFIG['depth']}, batch {CONFIG['batch_size']}, {CONFIG['threads']} torch thread; "
             f"measured in a fresh ipykernel whose frames a client reads off IOPub; `python bench/widget_bench.py --steps {steps} --rounds {rounds} --frames {frames}`, "
             f"commit {commit()}, {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
             f"load average {load0:.1f} at the start and {load1:.1f} at the end (the machine is shared).", '',
             '| end to end (median over rounds) | value | target |', '|---|---:|---:|',
             f"| frames per second (live fit) | {s['frames_per_s']['median']:.2f} [{s['frames_per_s']['min']:.2f}, {s['frames_per_s']['max']:.2f}] | >= {TARGETS['frames_per_s']:.0f} ({'met' if ok_fps else 'missed'}) |",
             f"| training overhead (wall, live vs default_callbacks) | {100*s['overhead']['median']:+.1f}% [{100*s['overhead']['min']:+.1f}, {100*s['overhead']['max']:+.1f}] | <= {100*TARGETS['overhead']:.0f}% ({'met' if ok_over else 'missed'}) |",
             f"| time in frames (share of the live fit) | {100*s['frame_share']['median']:.1f}% | |",
             f"| steps/s without / with the live view | {s['plain_steps_per_s']:.0f} / {s['live_steps_per_s']:.0f} | |",
             f"| bytes per frame sent (JSON + binary buffers) | {s['bytes_per_frame']/1e3:.1f} kB | |", '',
             '| one frame, by part (median) | ms |', '|---|---:|']
    names = {'samples': 'samples: G on 1,000 fixed z', 'surface_48': "D's surface, 48x48 grid (the default)", 'surface_64': "D's surface, 64x64 grid (for comparison)",
             'manifold': "G's manifold, 21x21 latent grid", 'arrows': "G's gradient on 150 fakes", 'curves': 'curves (thinned to 300 points)',
             'frame': '**whole frame** (`Dashboard.frame`: all of the above with the 48x48 grid, plus bounds and text)', 'encode': 'encoding to bytes',
             'send': 'setting the trait: serialise and send through the comm'}
    lines += [f"| {names[k]} | {ms[k]:.2f} |" for k in names]
    lines += [f"| (one training step, for scale) | {s['step_ms']:.2f} |", '',
              'The overhead includes what the live dashboard adds besides frames: gradient norms every 10 steps, the first frame, '
              'and the final static figure (about 0.3-0.5 s per fit, which is why short fits pay relatively more).',
              'Not measured: drawing in the browser (another process; on a 2-core machine it shares the CPU with training: '
              '`tools/check_widgets.py` reports the frame rate Chromium shows), JupyterLab, the network.']
    if not ok_fps or not ok_over:
        need = []
        if not ok_fps: need.append(f"frames per second miss the target by {100*(1 - s['frames_per_s']['median']/TARGETS['frames_per_s']):.0f}%")
        if not ok_over: need.append(f"the overhead misses it by {100*(s['overhead']['median'] - TARGETS['overhead']):.1f} points")
        lines += ['', '**Missed:** ' + '; '.join(need) + '. A frame costs about ' + f"{ms['frame'] + ms['send']:.0f} ms here; "
                  'the pacing allows max(1/6 s, cost/10%) between frame starts, so frames dearer than 17 ms lower the rate below 6/s '
                  'to keep the overhead at 10%.']
    return '\n'.join(lines) + '\n'


def run(out_dir=HERE, steps=1500, rounds=4, frames=60):
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    res = measure(steps, rounds, frames)
    s = summarise(res, steps, rounds, frames)
    load1 = os.getloadavg()[0]
    meta = {'config': CONFIG, 'steps': steps, 'rounds': rounds, 'frames': frames, 'targets': TARGETS, 'commit': commit(),
            'load': [load0, load1], 'cpus': os.cpu_count(), 'raw': res}
    (out/'widget_results.json').write_text(json.dumps({**s, **meta}, indent=1) + '\n')
    md = out/'widget_results.md'
    md.write_text(report(s, steps, rounds, frames, load0, load1))
    return md


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=1500); ap.add_argument('--rounds', type=int, default=4)
    ap.add_argument('--frames', type=int, default=60); ap.add_argument('--out', default=str(HERE))
    a = ap.parse_args()
    print(run(a.out, a.steps, a.rounds, a.frames).read_text())
