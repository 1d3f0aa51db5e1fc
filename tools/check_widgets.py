"""Real-browser check of the dashboard's live view: JupyterLab + Playwright + the system Chromium.

Usage (from the repository root):  python tools/check_widgets.py [--chromium /usr/bin/chromium] [--out _docs/_screenshots/widgets]

It writes a small notebook to a temporary folder, starts JupyterLab on 127.0.0.1 with a random token (its kernels import
gan_notes from this checkout), opens the notebook in headless Chromium, runs a long training cell with a live `Dashboard`,
and checks in the page that the live view draws frames that change throughout the run; then it clicks Pause, Step (twice,
with a learning-rate change between), Resume and Stop and checks the step counts, the applied learning rate and the
picture left behind. One line `PASS  name` or `FAIL  name` per check; exit status 1 if any failed. The server is always
stopped. Screenshots go to --out. About 40-70 s on a 2-core machine.
"""
import argparse, json, os, secrets, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run']
MIN_FRAMES = 8          # distinct frames (and distinct drawn data) seen during the first seconds of training

SETUP = """import torch; torch.set_num_threads(1)
import functools
from gan_notes.structure import toy_learner, default_callbacks, MetricsCallback
from gan_notes.comparison import evaluate
from gan_notes.dashboard import Dashboard
learn = toy_learner('ring8', width=64, depth=2, batch_size=128, seed=0, cbs=default_callbacks() + [MetricsCallback(functools.partial(evaluate, n=500), 200)])
dash = Dashboard(metrics=('modes',))
print('ready')"""
TRAIN = """learn.fit(200_000, cbs=[dash])
import json; print('FIT ' + json.dumps([learn.step, dash.frames, learn.stop_reason, learn.history.data.get('lr_d'), learn.opts['D'].param_groups[0]['lr']]))"""
IMAGES = """from gan_notes.conditional import cgan_learner
mn = cgan_learner('mnist', seed=0)
mdash = Dashboard()
mn.fit(100_000, cbs=[mdash])
print('IMAGES', mn.step, mdash.frames)"""


def notebook(path):
    cells = [{'cell_type': 'code', 'execution_count': None, 'id': f'c{i}', 'metadata': {}, 'outputs': [], 'source': s}
             for i, s in enumerate((SETUP, TRAIN, IMAGES))]
    nb = {'cells': cells, 'metadata': {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path.write_text(json.dumps(nb, indent=1))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


class Checks:
    def __init__(self): self.failed = 0; self.n = 0
    def __call__(self, name, ok, detail=''):
        self.n += 1; self.failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ''), flush=True)
        return ok


def start_server(tmp, port, token):
    env = {**os.environ, 'PYTHONPATH': str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''),
           'JUPYTER_RUNTIME_DIR': str(tmp/'runtime'), 'JUPYTER_CONFIG_DIR': str(tmp/'config'), 'MPLBACKEND': 'Agg'}
    env.pop('IN_TEST', None)
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', f'--port={port}', f'--IdentityProvider.token={token}',
           f'--ServerApp.root_dir={tmp}', '--ServerApp.open_browser=False', f'--LabApp.workspaces_dir={tmp/"ws"}',
           f'--LabApp.user_settings_dir={tmp/"settings"}', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
           '--LabApp.news_url=None', '--ServerApp.port_retries=0', '--ServerApp.terminals_enabled=False']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')     # CI containers run as root
    news = tmp/'settings'/'@jupyterlab'/'apputils-extension'
    news.mkdir(parents=True, exist_ok=True)
    (news/'notification.jupyterlab-settings').write_text('{"fetchNews": "false", "checkForUpdates": false}')   # no news toast
    log = open(tmp/'server.log', 'w')
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}/api/status?token={token}'
    t0 = time.time()
    while time.time() - t0 < 40 and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200: return proc
        except OSError: time.sleep(0.3)
    stop_server(proc)
    return None


def stop_server(proc):
    if proc is None or proc.poll() is not None: return True
    os.killpg(proc.pid, signal.SIGTERM)          # its own process group: the server and its kernels, nothing else
    try: proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL); proc.wait(5)
    return proc.poll() is not None


def view_state(page):
    return page.evaluate("""() => { const b = document.querySelector('.gn-live');
        return b ? {frame: +b.dataset.frame, step: +b.dataset.step, status: b.dataset.status, hash: b.dataset.hash, kind: b.dataset.kind,
                    lrD: b.dataset.lrD ? +b.dataset.lrD : null, broken: [...document.querySelectorAll('.jp-OutputArea img')]
                    .filter(i => i.complete && i.naturalWidth === 0).length} : null; }""")


def wait_until(page, cond, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        s = view_state(page)
        if s is not None and cond(s): return s
        page.wait_for_timeout(50)
    return view_state(page)


def run(args, check):
    from playwright.sync_api import sync_playwright
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix='gn_widgets_'))
    notebook(tmp/'live_check.ipynb')
    port, token, proc = free_port(), secrets.token_hex(16), None
    try:
        t0 = time.time()
        proc = start_server(tmp, port, token)
        if not check('jupyterlab starts on 127.0.0.1 with a token', proc is not None, f'{time.time() - t0:.1f} s'):
            print((tmp/'server.log').read_text()[-3000:]); return
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={'width': 1500, 'height': 1000})
            try: page_checks(page, port, token, out, check)
            except Exception:
                page.screenshot(path=str(out/'failure.png'), full_page=True)   # what the page showed when a step failed
                raise
            finally: browser.close()
    finally:
        stopped = stop_server(proc)
        if proc is not None: check('jupyterlab stopped', stopped)
        shutil.rmtree(tmp, ignore_errors=True)


def run_cell(page, i, tries=4):
    "Run cell `i` (click it, Shift+Enter); again if it did not start within 10 s (a kernel that was still connecting drops it)."
    for _ in range(tries):
        page.locator('.jp-Notebook .jp-Cell .cm-content').nth(i).click()
        page.keyboard.press('Shift+Enter')
        try:
            page.wait_for_function(f"() => !/\\[ \\]/.test(document.querySelectorAll('.jp-Notebook .jp-Cell .jp-InputPrompt')[{i}].textContent)", timeout=10000)
            return
        except Exception: pass
    raise TimeoutError(f'cell {i} did not start after {tries} tries')


def page_checks(page, port, token, out, check):
    page.goto(f'http://127.0.0.1:{port}/lab/tree/live_check.ipynb?token={token}', timeout=60000)
    page.wait_for_selector('.jp-Notebook .jp-Cell .cm-content', timeout=60000)
    page.wait_for_function("() => (document.querySelector('.jp-StatusBar-Widget') || {}).textContent !== undefined && "
                           "[...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => e.textContent.includes('Idle'))", timeout=60000)
    run_cell(page, 0)
    ok = page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output')].some(e => e.textContent.includes('ready'))", timeout=60000)
    check('notebook opens and its kernel imports gan_notes', bool(ok))
    run_cell(page, 1)                              # the training cell
    s = wait_until(page, lambda s: s['frame'] >= 1, 60)
    check('live view appears and draws a first frame, no broken image', s is not None and s['frame'] >= 1 and s['broken'] == 0, str(s))
    frames, hashes, steps, t1 = set(), set(), set(), time.time()
    while time.time() - t1 < 5:
        s = view_state(page)
        if s: frames.add(s['frame']); hashes.add(s['hash']); steps.add(s['step'])
        page.wait_for_timeout(40)
    rate = len(frames)/5
    check(f'frames change during training (>= {MIN_FRAMES} distinct frames and drawn data in 5 s)',
          len(frames) >= MIN_FRAMES and len(hashes) >= MIN_FRAMES and len(steps) >= MIN_FRAMES,
          f'{len(frames)} frames, {len(hashes)} drawn data, {len(steps)} steps seen: {rate:.1f} frames/s in the browser')
    page.screenshot(path=str(out/'1_training.png'), full_page=True)

    page.locator('.gn-pause').click()
    s = wait_until(page, lambda s: s['status'] == 'paused', 10)
    paused_at = s['step'] if s else None
    page.wait_for_timeout(1000)
    s2 = view_state(page)
    check('Pause holds the run', s is not None and s['status'] == 'paused' and s2['step'] == paused_at, f'step {paused_at} then {s2 and s2["step"]}')
    page.locator('.gn-step').click()
    s = wait_until(page, lambda s: s['step'] == paused_at + 1, 10); page.wait_for_timeout(500); s = view_state(page)
    check('Step runs exactly one step while paused', s['step'] == paused_at + 1 and s['status'] == 'paused', f"step {s['step']}")
    slider = page.locator('.gn-lr-D')
    slider.evaluate("(e) => { e.value = '-4'; e.dispatchEvent(new Event('input')); e.dispatchEvent(new Event('change')); }")
    page.locator('.gn-step').click()
    s = wait_until(page, lambda s: s['step'] == paused_at + 2, 10); page.wait_for_timeout(500); s = view_state(page)
    check('a second Step runs one more step, with the learning rate from the slider', s['step'] == paused_at + 2 and s['lrD'] is not None
          and abs(s['lrD'] - 1e-4) < 1e-12, f"step {s['step']}, lr D {s['lrD']}")
    page.screenshot(path=str(out/'2_paused.png'), full_page=True)
    page.locator('.gn-pause').click()              # now labelled Resume
    s0 = view_state(page)
    s = wait_until(page, lambda s: s['status'] == 'training' and s['frame'] >= s0['frame'] + 3, 10)
    check('Resume: frames and steps go on', s['status'] == 'training' and s['step'] > paused_at + 2, f"step {s['step']}, frame {s['frame']}")
    page.locator('.gn-stop').click()
    done = page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output')].some(e => e.textContent.includes('FIT '))", timeout=30000)
    text = page.evaluate("() => [...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.textContent).find(t => t.includes('FIT '))")
    step, sent, reason, lr_log, lr_now = json.loads(text.split('FIT ', 1)[1].strip().splitlines()[0])
    check('Stop ends the run; the history records the slider change from the step after it', bool(done) and reason == 'stopped by the user'
          and lr_log == [[paused_at + 2, 1e-4]] and lr_now == 1e-4, f'step {step}, {sent} frames sent, lr_d {lr_log}')
    page.wait_for_timeout(1500)
    imgs = page.evaluate("() => [...document.querySelectorAll('.jp-OutputArea-output img')].map(i => [i.naturalWidth, i.naturalHeight])")
    gone = page.evaluate("() => document.querySelector('.gn-live') === null")
    check('the static figure replaces the live view', gone and any(w >= 1000 for w, h in imgs), f'images {imgs}')
    page.screenshot(path=str(out/'3_stopped.png'), full_page=True)
    run_cell(page, 2)                              # a conditional GAN on MNIST digits: the samples are an image grid
    s = wait_until(page, lambda s: s['kind'] == 'images' and s['frame'] >= 3, 60) if page.wait_for_selector('.gn-live', timeout=60000) else None
    shape = page.evaluate("() => (document.querySelector('.gn-live') || {dataset: {}}).dataset.imgShape")
    check('image data: a grid of samples, one row per label (10 x 10 digits)', s is not None and s.get('kind') == 'images'
          and shape == '302x302x1', f"kind {s and s.get('kind')}, grid {shape} px, frame {s and s['frame']}")
    page.locator('.gn-live').scroll_into_view_if_needed()
    page.screenshot(path=str(out/'4_images.png'), full_page=True)
    page.locator('.gn-stop').click()
    page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output')].some(e => e.textContent.includes('IMAGES '))", timeout=30000)
    check('screenshots saved', all((out/f).stat().st_size > 10000 for f in ('1_training.png', '2_paused.png', '3_stopped.png', '4_images.png')), str(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--chromium', default=shutil.which('chromium') or '/usr/bin/chromium')
    ap.add_argument('--out', default=str(ROOT/'_docs'/'_screenshots'/'widgets'))
    args = ap.parse_args()
    check, t0 = Checks(), time.time()
    try: run(args, check)
    except Exception as e: check('browser session', False, f'{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ""}')
    print(f'{check.n - check.failed}/{check.n} checks passed in {time.time() - t0:.0f} s', flush=True)
    sys.exit(1 if check.failed or not check.n else 0)


if __name__ == '__main__': main()
