#!/usr/bin/env python
"""Check the built docs (`_docs/*.html`) in a headless Chromium and screenshot every page.

For each page, a copy with a small checking script appended is loaded with `chromium --headless --dump-dom`; the script
runs after the page has loaded and writes what it finds into the DOM, which this tool reads back. A page FAILS when it:

- shows a Python error: an error output (`.cell-output-error`), a traceback ("Traceback (most recent call last)") or an
  `...Error:`/`...Exception:` line in any cell output (stderr included);
- shows math that did not become MathML: `$...$`/`$$...$$`/`\\(...\\)` left in the rendered text (code, pre and math
  elements excluded), or a pandoc `.math` span without a `<math>` element (TeX that pandoc could not convert);
- has a broken image: an `<img>` whose `naturalWidth` is 0 after loading;
- links to a local file that does not exist (e.g. a page that was not built);
- links to an anchor that its page lacks (`page.html#name` or `#name` with no element of that `id` or `name`; `#top` is
  always fine, HTML scrolls to the top for it);
- shows raw markdown link syntax, `[text](target)` with a URL, a page or an anchor as target, in rendered text or in an output
  (a `show_doc` signature included): markdown that was never rendered. Source code cells and inline `code` in prose are
  excluded, where such syntax can be meant;
- shows `__main__.` in rendered text or outputs: a type printed with the module nbdev ran the notebook in (`__main__.Foo`)
  instead of its real module;
- links to the online site (`doc_host` + `doc_baseurl` of settings.ini, e.g. https://gan-notes.github.io/gan_notes): an offline
  build must link to its own pages.

Every page is then screenshot at 1280 CSS px wide and its full height (scaled down when taller than 16000 px) into
`_docs/_screenshots/<page>.png`.
Exits 1, naming each page and problem, when any page fails; 0 otherwise.

Usage: python tools/check_docs.py [DOCS_DIR] [--no-screenshots] [--online URL]
The browser is $CHROMIUM, else the first of chromium, chromium-browser, google-chrome, google-chrome-stable on PATH.
"""
import argparse, configparser, html, json, os, re, shutil, subprocess, sys, tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
MARK = '__docs_check__'
MAX_HEIGHT = 16000  # Chromium's screenshot limit is about 16k px: taller pages are shot scaled down

CHECK_JS = r"""
<script>
window.addEventListener('load', function () {
  var r = {errors: [], raw_math: [], bad_math: [], bad_img: [], links: [], raw_md: [], main_types: [], height: 0, math: 0, imgs: 0};
  var clip = function (s) { s = s.replace(/\s+/g, ' ').trim(); return s.length > 120 ? s.slice(0, 117) + '...' : s; };
  // 1. Python errors shown on the page
  document.querySelectorAll('.cell-output, .cell-output-error, .cell-output-stderr, .cell-output-stdout, .output').forEach(function (e) {
    var t = e.textContent, m = t.match(/^\s*[A-Za-z_][\w.]*(Error|Exception): .*$/m);
    if (e.classList.contains('cell-output-error')) r.errors.push('error output: ' + clip(t));
    else if (t.indexOf('Traceback (most recent call last)') >= 0) r.errors.push('traceback in output: ' + clip(t));
    else if (m) r.errors.push('error message in output: ' + clip(m[0]));
  });
  // 2. math: TeX that stayed text
  document.querySelectorAll('.math').forEach(function (e) {
    if (!e.querySelector('math')) r.bad_math.push(clip(e.textContent));
  });
  r.math = document.querySelectorAll('math').length;
  var body = document.body.cloneNode(true);
  body.querySelectorAll('pre, code, script, style, math, .sourceCode, #__MARK__').forEach(function (e) { e.remove(); });
  var texts = [];
  var walker = document.createTreeWalker(body, NodeFilter.SHOW_ELEMENT);
  var blocks = 'P LI TD TH H1 H2 H3 H4 H5 H6 DT DD FIGCAPTION BLOCKQUOTE SUMMARY CAPTION'.split(' ');
  for (var n = walker.currentNode; n; n = walker.nextNode()) {
    if (blocks.indexOf(n.tagName) >= 0) texts.push(n.textContent);
  }
  var seen = {};
  texts.forEach(function (t) {
    var m = t.match(/\$\$[\s\S]+?\$\$|\$[^$\n]+\$|\\\([\s\S]+?\\\)|\\\[[\s\S]+?\\\]/);
    if (m && !seen[m[0]]) { seen[m[0]] = 1; r.raw_math.push(clip(m[0]) + '   in: ' + clip(t)); }
  });
  // 2b. raw markdown links and __main__. types: in rendered text (as above) and in outputs (show_doc signatures included),
  //     but not in source code cells or inline code in prose
  var shown = texts.slice();
  document.querySelectorAll('.cell-output').forEach(function (e) {
    var c = e.cloneNode(true);
    c.querySelectorAll('math, script, style').forEach(function (x) { x.remove(); });
    shown.push(c.textContent);
  });
  var mdlink = /\[[^\[\]\n]{1,200}\]\((?:https?:\/\/[^()\s]+|#[^()\s]*|[\w.\/-]+\.(?:html|ipynb|md)(?:#[^()\s]*)?)\)/;
  var seen2 = {};
  shown.forEach(function (t) {
    var m = t.match(mdlink);
    if (m && !seen2[m[0]]) { seen2[m[0]] = 1; r.raw_md.push(clip(m[0]) + '   in: ' + clip(t)); }
    var k = t.match(/__main__\.[A-Za-z_][\w.]*/);
    if (k && !seen2[k[0]]) { seen2[k[0]] = 1; r.main_types.push(clip(k[0]) + '   in: ' + clip(t)); }
  });
  // 3. images
  document.querySelectorAll('img').forEach(function (im) {
    r.imgs += 1;
    if (!im.complete || im.naturalWidth === 0) r.bad_img.push((im.getAttribute('src') || '(no src)').slice(0, 80));
  });
  // 4. links, resolved by the caller
  document.querySelectorAll('a[href]').forEach(function (a) { r.links.push(a.getAttribute('href')); });
  r.ids = [];
  document.querySelectorAll('[id], a[name]').forEach(function (e) { if (e.id !== '__MARK__') r.ids.push(e.id || e.getAttribute('name')); });
  r.height = Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);
  var out = document.createElement('pre');
  out.id = '__MARK__'; out.textContent = JSON.stringify(r);
  document.body.appendChild(out);
});
</script>
""".replace('__MARK__', MARK)


def find_browser()->str:
    "The Chromium to use: $CHROMIUM or the first Chromium/Chrome on PATH."
    for b in [os.environ.get('CHROMIUM')] + ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']:
        if b and shutil.which(b): return shutil.which(b)
    sys.exit("check_docs: no Chromium found (install it: apt-get install -y chromium), or set $CHROMIUM")


class Browser:
    "Headless Chromium runs with a throwaway profile."
    def __init__(self, exe:str):
        self.exe, self.profile = exe, tempfile.mkdtemp(prefix='check_docs_profile_')

    def run(self, url:str, *args, timeout:int=120)->subprocess.CompletedProcess:
        cmd = [self.exe, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
               '--disable-background-networking', '--disable-component-update', '--disable-sync',
               '--disable-dev-shm-usage', '--hide-scrollbars', f'--user-data-dir={self.profile}', *args, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def dump_dom(self, path:Path)->str:
        return self.run(path.as_uri(), '--window-size=1280,800', '--virtual-time-budget=5000', '--dump-dom').stdout

    def screenshot(self, path:Path, dest:Path, height:int):
        "Full-page PNG at 1280 CSS px wide; pages taller than MAX_HEIGHT are shot at a smaller scale to fit whole."
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)
        scale = min(1.0, MAX_HEIGHT/height)
        self.run(path.as_uri(), f'--screenshot={dest}', f'--window-size=1280,{height}', f'--force-device-scale-factor={scale:.3f}',
                 '--virtual-time-budget=3000')
        return dest.exists()

    def close(self): shutil.rmtree(self.profile, ignore_errors=True)


def inspect_page(browser:Browser, page:Path)->dict:
    "Load a copy of `page` with the checking script appended; return what the script found (or a 'fatal' entry)."
    text = page.read_text(encoding='utf-8')
    i = text.lower().rfind('</body>')
    text = (text[:i] + CHECK_JS + text[i:]) if i >= 0 else text + CHECK_JS
    fd, tmp = tempfile.mkstemp(suffix='.html', prefix='.check_', dir=page.parent)  # same folder: same relative links
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f: f.write(text)
        dom = browser.dump_dom(Path(tmp))
    finally: os.unlink(tmp)
    m = re.search(rf'<pre id="{MARK}">(.*?)</pre>', dom, re.S)
    if not m: return {'fatal': 'the checking script did not run (the page did not load?)'}
    return json.loads(html.unescape(m.group(1)))


def broken_links(page:Path, links:list)->list:
    "Relative links from `page` to local files that do not exist."
    bad = []
    for href in links:
        u = urlsplit(href)
        if u.scheme or u.netloc or not u.path or href.startswith('#'): continue
        if not (page.parent/unquote(u.path)).exists(): bad.append(href)
    return sorted(set(bad))


_IDS = re.compile(r"""\s(?:id|name)\s*=\s*["']([^"']*)["']""")


def page_ids(path:Path)->set:
    "The `id` and `name` attributes of the HTML file at `path` (the anchors a link into it may name)."
    return {html.unescape(i) for i in _IDS.findall(path.read_text(encoding='utf-8', errors='replace'))}


def missing_anchors(page:Path, links:list, own_ids=())->list:
    "Links from `page` to an anchor of a local HTML page (itself included: `own_ids`, as loaded) that has no such element."
    bad, cache = [], {}
    for href in links:
        u = urlsplit(href)
        if u.scheme or u.netloc or not u.fragment: continue
        target = page if not u.path else page.parent/unquote(u.path)
        if not target.is_file() or target.suffix.lower() not in ('.html', '.htm'): continue   # a missing file is reported as such
        name = unquote(u.fragment)
        if name == 'top': continue
        if target == page: ids = set(own_ids) | page_ids(page)
        else:
            if target not in cache: cache[target] = page_ids(target)
            ids = cache[target]
        if name not in ids: bad.append(href)
    return sorted(set(bad))


def online_site()->str:
    "The published site (doc_host + doc_baseurl of settings.ini), e.g. https://gan-notes.github.io/gan_notes; '' if unknown."
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    d = cfg['DEFAULT'] if 'DEFAULT' in cfg else {}
    host = d.get('doc_host', '').rstrip('/')
    return (host + '/' + d.get('doc_baseurl', '').strip('/')).rstrip('/') if host else ''


def online_links(links:list, online:str)->list:
    "Links into the online site `online` (the offline build must link to its own pages)."
    if not online: return []
    o = online.rstrip('/').lower()
    return sorted({h for h in links if h.lower() == o or h.lower().startswith((o + '/', o + '#', o + '?'))})


def problems(page:Path, r:dict, online:str='')->list:
    "Human-readable problems of one page from the checking script's result `r`; `online`: the published site's URL."
    if 'fatal' in r: return [r['fatal']]
    out = [f"Python error shown: {e}" for e in r['errors']]
    out += [f"raw TeX math not rendered: {e}" for e in r['raw_math']]
    out += [f"TeX that pandoc could not convert to MathML: {e}" for e in r['bad_math']]
    out += [f"broken image (naturalWidth 0): {e}" for e in r['bad_img']]
    out += [f"link to a missing local file: {e}" for e in broken_links(page, r['links'])]
    out += [f"link to a missing anchor: {e}" for e in missing_anchors(page, r['links'], r.get('ids', ()))]
    out += [f"raw markdown link not rendered: {e}" for e in r['raw_md']]
    out += [f"__main__ in a rendered type (should be the real module): {e}" for e in r['main_types']]
    out += [f"link to the online site in the offline build: {e}" for e in online_links(r['links'], online)]
    return out


def check(docs:Path, screenshots:bool=True, browser_exe:str=None, online:str=None)->dict:
    """Check every page in `docs`; return {page name: [problems]} (all pages, empty lists for good ones).

    `online`: the published site, whose links the pages must not contain (default: from settings.ini)."""
    online = online_site() if online is None else online
    pages = sorted(p for p in docs.rglob('*.html') if not p.name.startswith('.'))
    if not pages: return {'(none)': [f'no HTML pages in {docs}']}
    browser, res = Browser(browser_exe or find_browser()), {}
    try:
        for p in pages:
            name = p.relative_to(docs).as_posix()
            r = inspect_page(browser, p)
            res[name] = problems(p, r, online)
            info = '' if 'fatal' in r else f"{r['math']} math, {r['imgs']} images, height {r['height']} px"
            if screenshots and 'fatal' not in r:
                shot = docs/'_screenshots'/(Path(name).with_suffix('.png').as_posix().replace('/', '__'))
                h = max(r['height'], 800)
                if not browser.screenshot(p, shot, h): res[name].append('screenshot failed')
                else: info += f", screenshot {shot.relative_to(docs)}" + (f' (scaled by {MAX_HEIGHT/h:.2f})' if h > MAX_HEIGHT else '')
            print(f"  {'FAIL' if res[name] else 'ok  '} {name}: {info}")
            for msg in res[name]: print(f"       - {msg}")
    finally: browser.close()
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                epilog="See the module docstring (tools/check_docs.py) for the checks.")
    p.add_argument('docs', nargs='?', type=Path, default=ROOT/'_docs', help="folder of built pages (default: _docs)")
    p.add_argument('--no-screenshots', action='store_true', help="only check, take no screenshots")
    p.add_argument('--online', default=None, help="URL of the published site, which the pages must not link to "
                                                  "(default: doc_host + doc_baseurl of settings.ini)")
    a = p.parse_args(argv)
    if not a.docs.is_dir(): sys.exit(f"check_docs: {a.docs} is not a folder: build the docs first (python tools/build_docs.py)")
    res = check(a.docs, screenshots=not a.no_screenshots, online=a.online)
    bad = {k: v for k, v in res.items() if v}
    if bad:
        print(f"check_docs: {len(bad)} of {len(res)} pages FAILED:", file=sys.stderr)
        for k, v in bad.items():
            for msg in v: print(f"  {k}: {msg}", file=sys.stderr)
        sys.exit(1)
    print(f"check_docs: all {len(res)} pages passed")


if __name__ == '__main__': main()
