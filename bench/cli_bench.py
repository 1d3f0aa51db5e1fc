"""Start-up time of the `gan-notes` command: `gan-notes --help` and `gan-notes train --help` against `python -c pass`.

Target (issue 15, point 6): both help commands in at most 0.5 s, torch imported only when a command runs. Each command is
started as the console script starts it (a fresh Python that imports `gan_notes.cli` and calls `main`), from this checkout
(PYTHONPATH is set to the repository root). The machine is shared and its load changes from second to second, so the
commands are interleaved: every round starts each of them once, in a random order, and we report medians over rounds and
the median of the per-round ratios to `python -c pass` (the cost of Python itself). `python -c "import torch"` is timed too:
it is what every help command paid when the CLI imported torch.

    python bench/cli_bench.py [--rounds 15] [--out bench]

`run(out_dir)` does the same from Python (for `bench/run.py`), writes `cli_results.json` and `cli_results.md`, and returns
the path of the Markdown file.
"""
import argparse, json, os, platform, random, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.5
CONSOLE = 'import sys; from gan_notes.cli import main; sys.exit(main())'   # what the installed `gan-notes` script runs
COMMANDS = {'python -c pass': ['-c', 'pass'],
            'gan-notes --help': ['-c', CONSOLE, '--help'],
            'gan-notes train --help': ['-c', CONSOLE, 'train', '--help'],
            'python -c "import torch"': ['-c', 'import torch']}


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    env.pop('PYTHONSTARTUP', None)
    return env


def time_once(args:list, env:dict)->float:
    "Wall seconds of one `python ARGS` run (which must exit 0 with no error output)."
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    dt = time.perf_counter() - t0
    if r.returncode != 0 or r.stderr.strip(): raise RuntimeError(f"{args} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return dt


def torch_free(env:dict)->dict:
    "Which of torch and numpy `--help` and `train --help` leave unimported (checked in `sys.modules` at exit)."
    probe = ('import contextlib, io, sys\nfrom gan_notes.cli import main\nfor argv in (["--help"], ["train", "--help"]):\n'
             '    with contextlib.redirect_stdout(io.StringIO()):\n        try: main(argv)\n        except SystemExit: pass\n'
             'print(" ".join(m for m in ("torch", "numpy") if m in sys.modules))')
    r = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True, env=env, cwd=ROOT)
    return {'imported_by_help': r.stdout.split(), 'probe_exit': r.returncode}


def run(out_dir='bench', # Folder for cli_results.json and cli_results.md
        rounds:int=15, # Rounds; each starts every command once
        seed:int=0): # Seed of the order within rounds
    "Time the commands, interleaved; write `cli_results.json` and `cli_results.md` to `out_dir`; return the Markdown's path."
    env, rng = _env(), random.Random(seed)
    for args in COMMANDS.values(): time_once(args, env)              # warm the file cache once
    times = {k: [] for k in COMMANDS}
    load0 = os.getloadavg()[0]
    for _ in range(rounds):
        order = list(COMMANDS); rng.shuffle(order)
        for k in order: times[k].append(time_once(COMMANDS[k], env))
    base = times['python -c pass']
    res = {'rounds': rounds, 'target_s': TARGET_S, 'python': platform.python_version(), 'cpus': os.cpu_count(),
           'load_start': load0, 'load_end': os.getloadavg()[0], **torch_free(env),
           'commands': {k: {'median_s': statistics.median(v), 'min_s': min(v), 'max_s': max(v),
                            'ratio_to_pass': statistics.median(t/b for t, b in zip(v, base)), 'seconds': v}
                        for k, v in times.items()}}
    res['passed'] = all(res['commands'][k]['median_s'] <= TARGET_S for k in ('gan-notes --help', 'gan-notes train --help')) \
                    and res['imported_by_help'] == []
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
    (out/'cli_results.json').write_text(json.dumps(res, indent=1) + '\n')
    (out/'cli_results.md').write_text(to_markdown(res))
    return out/'cli_results.md'


def to_markdown(res:dict)->str:
    c = res['commands']
    lines = [f"# `gan-notes` start-up: {res['rounds']} interleaved rounds", '',
             f"Python {res['python']}, {res['cpus']} CPUs, load average {res['load_start']:.1f} at the start and "
             f"{res['load_end']:.1f} at the end (the machine is shared). Each command is a fresh Python process started as the "
             f"console script starts it. Target: both help commands in at most {res['target_s']} s, without importing torch.", '',
             '| command | median s | min s | max s | median ratio to `python -c pass` |', '|---|---:|---:|---:|---:|']
    lines += [f"| `{k}` | {v['median_s']:.3f} | {v['min_s']:.3f} | {v['max_s']:.3f} | {v['ratio_to_pass']:.1f} |" for k, v in c.items()]
    imported = ', '.join(res['imported_by_help']) or 'neither torch nor numpy'
    lines += ['', f"Modules the two help commands import (checked in `sys.modules`): {imported}. "
              f"Target {'met' if res['passed'] else '**not met**'}.", '']
    return '\n'.join(lines)


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--rounds', type=int, default=15)
    p.add_argument('--out', default=str(Path(__file__).resolve().parent))
    a = p.parse_args()
    md = run(a.out, a.rounds)
    print(Path(md).read_text())
