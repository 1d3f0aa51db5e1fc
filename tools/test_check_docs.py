#!/usr/bin/env python
"""Test the docs checker (tools/check_docs.py) on throwaway pages: each failure mode must be caught, a good page must pass.

Two kinds of pages are checked in a headless Chromium:
- hand-written HTML pages, one per failure mode (error output, traceback on stderr, error line in stdout, raw `$...$`,
  raw `$$...$$`, TeX pandoc could not convert, a missing image, a corrupt image, a link to a missing page, raw markdown
  link syntax in prose and in a signature, `__main__.` in a rendered type, a link to the online site), and a good page
  with MathML, an image, a local link, and `$`/tracebacks/markdown links/`__main__.` inside source code and inline code
  (which must NOT be flagged);
- pages rendered by tools/build_docs.py from small in-memory notebooks, so that the renderer and the checker agree on
  what an error output, a plot and math look like, and that the renderer turns what nbdev emits (doc links to the online
  site, links in signature comments, `__main__.` types) into pages that pass; every rendered page must also have
  previous/next links;
- the README renderer's links: notebooks become GitHub links, images raw URLs.

Run: python tools/test_check_docs.py   (exit 0 when every expectation holds; also collectable by pytest)
"""
import base64, re, struct, sys, tempfile, zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_docs, build_docs


def png_1x1()->str:
    "A valid 1x1 red PNG, base64-encoded."
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    raw = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 1, 1, 8, 2, 0, 0, 0))
    raw += chunk(b'IDAT', zlib.compress(b'\x00\xff\x00\x00')) + chunk(b'IEND', b'')
    return base64.b64encode(raw).decode()


MATHML = '<math display="inline"><mi>x</mi></math>'
GOOD_BODY = f"""<h1>Good</h1>
<p>Inline {MATHML} and <span class="math inline">{MATHML}</span>; a price in code: <code>$x$ and $$y$$</code>.</p>
<div class="sourceCode"><pre><code>raise ValueError("n") # Traceback (most recent call last) in source is fine: $a$</code></pre></div>
<div class="cell-output cell-output-stdout"><pre>{{'modes': 8, 'hq': 0.99}}</pre></div>
<img src="data:image/png;base64,{png_1x1()}" alt="ok"> <a href="other.html">other</a> <a href="#top">top</a>
<h2 id="part">Part</h2> <a href="#part">this part</a> <a href="other.html#sec">a section of the other page</a> <a name="old"></a><a href="#old">old-style anchor</a>
<a href="https://example.invalid/x.html">external</a> <a href="https://gan-notes.github.io/other_project/">another site of the host</a>
<p>Markdown in inline code is meant: <code>[name](page.html)</code>, <code>__main__.Foo</code>.</p>
<div class="sourceCode"><pre class="sourceCode python cell-code"><code>s = "[`f`](https://e.invalid/f.html)"  # __main__.Foo in source</code></pre></div>"""

ONLINE = 'https://gan-notes.github.io/gan_notes'
SIG = '<div class="cell-output cell-output-display"><div class="sourceCode"><pre class="sourceCode python"><code>{}</code></pre></div></div>'

# page -> (body, the problem-message prefix that must be reported)
BAD = {
    'error_output': ('<div class="cell-output cell-output-error"><pre>ZeroDivisionError: division by zero</pre></div>',
                     'Python error shown'),
    'stderr_traceback': ('<div class="cell-output cell-output-stderr"><pre>Traceback (most recent call last):\n  File "x", line 1\n'
                         'ValueError: bad</pre></div>', 'Python error shown'),
    'stdout_error_line': ('<div class="cell-output cell-output-stdout"><pre>step 1\nRuntimeError: boom</pre></div>',
                          'Python error shown'),
    'raw_inline_math': ('<p>The loss $L_D = -\\log D(x)$ is minimised.</p>', 'raw TeX math not rendered'),
    'raw_display_math': ('<ul><li>$$\\sum_i x_i$$</li></ul>', 'raw TeX math not rendered'),
    'unconverted_tex': ('<p>see <span class="math inline">\\frob{x}</span></p>', 'TeX that pandoc could not convert'),
    'missing_image': ('<p><img src="no_such_file.png" alt="x"></p>', 'broken image'),
    'corrupt_image': ('<p><img src="data:image/png;base64,AAAAAAAA" alt="x"></p>', 'broken image'),
    'missing_page': ('<p><a href="not_built.html#anchor">next</a></p>', 'link to a missing local file'),
    'missing_anchor': ('<p>See <a href="other.html#featurestats.save"><code>FeatureStats.save</code></a>.</p>', 'link to a missing anchor'),
    'missing_own_anchor': ('<p><a href="#top">top</a> is fine, <a href="#_hook"><code>_hook</code></a> is not.</p>', 'link to a missing anchor'),
    'raw_md_link_prose': ('<p>See [`build_parser`](cli.html#build_parser) for the options.</p>', 'raw markdown link not rendered'),
    'raw_md_link_signature': (SIG.format('def cmd_fid(\n    args, # the arguments (see [`build_parser`](https://gan-notes.github.io/'
                                         'gan_notes/cli.html#build_parser))\n)-&gt;int:'), 'raw markdown link not rendered'),
    'main_type': (SIG.format('def mnist_fid(\n    model:__main__.MnistClassifier | None=None, # the classifier\n)-&gt;float:'),
                  '__main__ in a rendered type'),
    'online_link': ('<p>See <a href="https://gan-notes.github.io/gan_notes/data.html#ring8">ring8</a>.</p>',
                    'link to the online site in the offline build'),
}


def page(body:str)->str: return f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>{body}</body></html>'


def nb(*cells)->dict:
    "A processed-notebook dict with front matter and `cells`."
    fm = {'cell_type': 'raw', 'metadata': {}, 'source': '---\ntitle: T\ndescription: d\n---\n'}
    return {'cells': [fm, *cells], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}


def code(source:str, *outputs)->dict: return {'cell_type': 'code', 'metadata': {}, 'source': source, 'outputs': list(outputs)}
def md(source:str)->dict: return {'cell_type': 'markdown', 'metadata': {}, 'source': source}


# what nbdev's show_doc emits: a doc link into the online site inside a signature comment and in the docstring, a backticked
# name, and a type printed with __main__
SHOW_DOC = ('---\n\n### f\n\n```python\ndef f(\n    model:__main__.Thing | None=None, # see [`g`](https://gan-notes.github.io/gan_notes/'
            'r_error.html#g) and `h`\n)->int: # the `answer`\n```\n\n*Calls [`g`](https://gan-notes.github.io/gan_notes/r_stderr.html#g), '
            'see <https://gan-notes.github.io/gan_notes/> and [the site](https://gan-notes.github.io/gan_notes).*')

# rendered notebooks -> the problem-message prefix that must be reported (None: the page must pass)
RENDERED = {
    'r_good': (nb(md('See [the error page](r_error.ipynb#top) and [the other](r_stderr.ipynb).'),
                  md('## Maths\n\nThe value $V(D,G) = \\mathbb{E}[\\log D(x)]$ and\n\n$$D^*(x) = \\frac{p_r}{p_r+p_g}$$'),
                  code('#| echo: false\n#| output: asis\nshow_doc(f)',
                       {'output_type': 'execute_result', 'data': {'text/markdown': '---\n\n### f\n\n*Doc with $x$.*'}, 'metadata': {}}),
                  code('plot()', {'output_type': 'display_data', 'data': {'image/png': png_1x1(), 'text/plain': '<Figure>'}, 'metadata': {}}),
                  code('print("$5 and $6")', {'output_type': 'stream', 'name': 'stdout', 'text': '$5 and $6\n'}),
                  code('#| echo: false\n#| output: asis\nshow_doc(f)',
                       {'output_type': 'execute_result', 'data': {'text/markdown': SHOW_DOC}, 'metadata': {}})), None),
    'r_error': (nb(md('### g'), code('1/0', {'output_type': 'error', 'ename': 'ZeroDivisionError', 'evalue': 'division by zero',
                                'traceback': ['\x1b[31mTraceback (most recent call last)\x1b[0m', 'ZeroDivisionError: division by zero']})),
                'Python error shown'),
    'r_stderr': (nb(md('### g'), code('warn()', {'output_type': 'stream', 'name': 'stderr',
                                    'text': 'Traceback (most recent call last):\n  File "<x>"\nKeyError: 1\n'})), 'Python error shown'),
    'r_space_math': (nb(md('A formula with spaces: $ x^2 $ stays text in pandoc.')), 'raw TeX math not rendered'),
    'r_bad_tex': (nb(md('An unknown macro: $\\frob{x}$.')), 'TeX that pandoc could not convert'),
    'r_bad_png': (nb(code('plot()', {'output_type': 'display_data', 'data': {'image/png': 'AAAAAAAA'}, 'metadata': {}})), 'broken image'),
}


def build_pages(d:Path):
    "Write every test page into `d`."
    (d/'good.html').write_text(page(GOOD_BODY), encoding='utf-8')
    (d/'other.html').write_text(page('<p>the other page</p><h2 id="sec">A section</h2>'), encoding='utf-8')
    (d/'index.html').write_text(page('<p>home: rendered pages link to it</p>'), encoding='utf-8')
    for name, (body, _) in BAD.items(): (d/f'{name}.html').write_text(page(body), encoding='utf-8')
    pages = [(Path(f'{n}.ipynb'), f'{n}.html', n) for n in RENDERED]
    for name, (notebook, _) in RENDERED.items():
        renderer = build_docs.Renderer(html=True, link_map={f'{n}.ipynb': f'{n}.html' for n in RENDERED}, doc_url=ONLINE + '/',
                                       module='gan_notes.test')
        build_docs.render_page(notebook, d/f'{name}.html', f'{name}.html', pages, renderer, site='test')


def check_rendering(d:Path)->list:
    "What the renderer must have produced in the rendered pages (failures as messages)."
    out, good = [], (d/'r_good.html').read_text(encoding='utf-8')
    for want in ['<a class="sig-link" href="r_error.html#g">g</a>', '<span class="sig-code">h</span>', 'gan_notes.test.Thing',
                 'href="r_stderr.html#g"', 'href="index.html"', 'white-space: pre-wrap', 'class="menu-button"', 'id="pages"']:
        if want not in good: out.append(f"r_good.html: the renderer should have produced {want!r}")
    names = list(RENDERED)
    for i, name in enumerate(names):
        page = (d/f'{name}.html').read_text(encoding='utf-8')
        prev = re.search(r'<a class="prev" rel="prev" href="([^"]+)"', page)
        nxt = re.search(r'<a class="next" rel="next" href="([^"]+)"', page)
        want_prev, want_next = (names[i - 1] + '.html' if i else None), (names[i + 1] + '.html' if i + 1 < len(names) else None)
        if (prev and prev.group(1)) != want_prev or (nxt and nxt.group(1)) != want_next:
            out.append(f"{name}.html: previous/next links {prev and prev.group(1)}/{nxt and nxt.group(1)}, expected {want_prev}/{want_next}")
    return out


def test_readme_links():
    "README links: notebooks -> GitHub blob URLs, images -> raw URLs, absolute and anchor links unchanged."
    r = build_docs.Renderer(html=False, blob_base='https://github.com/o/r/blob/main/', raw_base=build_docs.raw_url('https://github.com/o/r', 'main'))
    got = r.fix_links('[a](00_data.ipynb) [b](09_x.ipynb#sec) ![](img/p.png) [c](https://x.org/y) [d](#top) <img src="f.png"> '
                      '[e](../bench/results.md)')
    want = ('[a](https://github.com/o/r/blob/main/nbs/00_data.ipynb) [b](https://github.com/o/r/blob/main/nbs/09_x.ipynb#sec) '
            '![](https://raw.githubusercontent.com/o/r/main/nbs/img/p.png) [c](https://x.org/y) [d](#top) '
            '<img src="https://raw.githubusercontent.com/o/r/main/nbs/f.png"> [e](https://github.com/o/r/blob/main/bench/results.md)')
    assert got == want, f"README links:\n got  {got}\n want {want}"



def test_progress_bars():
    "Saved progress bars show their last state, as Jupyter shows them: per line, the text after the last carriage return."
    T = build_docs.terminal_text
    assert T('[#...] 1/4\r[##..] 2/4\r[####] 4/4\n') == '[####] 4/4\n', repr(T('[#...] 1/4\r[##..] 2/4\r[####] 4/4\n'))
    assert T('a\r\nb\rc\n\rd') == 'a\nc\nd'                      # \r\n ends a line; a line may start with \r
    assert T('no returns\nhere') == 'no returns\nhere'
    r = build_docs.Renderer(html=True)
    out = r.output({'output_type': 'stream', 'name': 'stderr', 'text': ['[#.] 1/2 x\r', '[##] 2/2 y\n']}, {})
    assert '[##] 2/2 y' in out and '1/2' not in out, out


def test_fix_anchors():
    "build_docs.fix_anchors: a method's missing anchor -> its class's, a private name's -> plain text; the rest untouched."
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)
        (d/'metrics.html').write_text(page('<h3 id="featurestats">FeatureStats</h3><h3 id="kid">kid</h3>'), encoding='utf-8')
        links = ('<a href="metrics.html#featurestats.save"><code>FeatureStats.save</code></a> '
                 '<a href="metrics.html#_features"><code>_features</code></a> <a href="metrics.html#kid">kid</a> '
                 '<a href="#top">top</a> <a href="#nowhere.else">x</a> <a href="https://e.invalid/metrics.html#nope">ext</a>')
        (d/'cli.html').write_text(page(links), encoding='utf-8')
        log = build_docs.fix_anchors(d)
        got = (d/'cli.html').read_text(encoding='utf-8')
        hrefs = re.findall(r'href="([^"]*)"', got)
        problems = check_docs.missing_anchors(d/'cli.html', hrefs)
    want = ('<a href="metrics.html#featurestats"><code>FeatureStats.save</code></a> <span class="doc-name"><code>_features</code></span> '
            '<a href="metrics.html#kid">kid</a> <a href="#top">top</a> <span class="doc-name">x</span> '
            '<a href="https://e.invalid/metrics.html#nope">ext</a>')
    assert want in got, f"fix_anchors:\n got  {got}\n want {want}"
    assert log == {'cli.html': ['metrics.html#featurestats.save -> #featurestats', 'metrics.html#_features unlinked', '#nowhere.else unlinked']}, log
    assert problems == [], problems


MENU_JS = """<script>window.addEventListener('load', function () {
  var side = document.querySelector('nav.sidebar'), btn = document.querySelector('.menu-button'), r = {};
  var shown = function (e) { return getComputedStyle(e).display !== 'none'; };
  r.before = [shown(side), shown(btn)]; btn.click(); r.after = [shown(side), btn.getAttribute('aria-expanded')];
  var o = document.createElement('pre'); o.id = 'menu_result'; o.textContent = JSON.stringify(r); document.body.appendChild(o);
});</script>"""


def test_menu_button():
    "Below 50rem the sidebar hides and the top bar's Pages button shows it; at full width the button is hidden."
    import json
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)
        build_pages(d)
        text = (d/'r_good.html').read_text(encoding='utf-8').replace('</body>', MENU_JS + '</body>')
        (d/'menu.html').write_text(text, encoding='utf-8')
        b, res = check_docs.Browser(check_docs.find_browser()), {}
        try:
            for width in (600, 1280):
                dom = b.run((d/'menu.html').as_uri(), f'--window-size={width},800', '--virtual-time-budget=3000', '--dump-dom').stdout
                m = re.search(r'<pre id="menu_result">(.*?)</pre>', dom, re.S)
                res[width] = json.loads(m.group(1)) if m else None
        finally: b.close()
    assert res[600] == {'before': [False, True], 'after': [True, 'true']}, f"narrow page: {res[600]}"   # hidden, button; shown after a click
    assert res[1280]['before'] == [True, False], f"wide page: {res[1280]}"                                # sidebar, no button


def test_checker():
    "Every bad page is reported with the right problem, and only the bad pages are."
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)
        build_pages(d)
        res = check_docs.check(d, screenshots=False, online=ONLINE)
        rendering = check_rendering(d)
    expected = {f'{n}.html': p for n, (_, p) in BAD.items()} | {f'{n}.html': p for n, (_, p) in RENDERED.items()}
    expected |= {'good.html': None, 'other.html': None, 'index.html': None}
    failures = []
    for name, want in expected.items():
        got = res.get(name)
        if got is None: failures.append(f"{name}: not checked")
        elif want is None and got: failures.append(f"{name}: should pass but got {got}")
        elif want is not None and not any(m.startswith(want) for m in got): failures.append(f"{name}: expected '{want}...', got {got}")
    failures += rendering
    assert not failures, '\n'.join(failures)
    print(f"test_check_docs: all {len(expected)} expectations hold "
          f"({sum(v is not None for v in expected.values())} bad pages caught, {sum(v is None for v in expected.values())} good pages passed; "
          f"renderer output and previous/next links as expected)")


if __name__ == '__main__':
    try: test_readme_links(); test_progress_bars(); test_fix_anchors(); test_menu_button(); test_checker()
    except AssertionError as e: sys.exit(f"test_check_docs FAILED:\n{e}")
