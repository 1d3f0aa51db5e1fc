#!/usr/bin/env python
"""Test the docs checker (tools/check_docs.py) on throwaway pages: each failure mode must be caught, a good page must pass.

Two kinds of pages are checked in a headless Chromium:
- hand-written HTML pages, one per failure mode (error output, traceback on stderr, error line in stdout, raw `$...$`,
  raw `$$...$$`, TeX pandoc could not convert, a missing image, a corrupt image, a link to a missing page), and a good
  page with MathML, an image, a local link, and `$`/tracebacks inside code (which must NOT be flagged);
- pages rendered by tools/build_docs.py from small in-memory notebooks, so that the renderer and the checker agree on
  what an error output, a plot and math look like.

Run: python tools/test_check_docs.py   (exit 0 when every expectation holds; also collectable by pytest)
"""
import base64, struct, sys, tempfile, zlib
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
<a href="https://example.invalid/x.html">external</a>"""

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
}


def page(body:str)->str: return f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>{body}</body></html>'


def nb(*cells)->dict:
    "A processed-notebook dict with front matter and `cells`."
    fm = {'cell_type': 'raw', 'metadata': {}, 'source': '---\ntitle: T\ndescription: d\n---\n'}
    return {'cells': [fm, *cells], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}


def code(source:str, *outputs)->dict: return {'cell_type': 'code', 'metadata': {}, 'source': source, 'outputs': list(outputs)}
def md(source:str)->dict: return {'cell_type': 'markdown', 'metadata': {}, 'source': source}


# rendered notebooks -> the problem-message prefix that must be reported (None: the page must pass)
RENDERED = {
    'r_good': (nb(md('See [the error page](r_error.ipynb#top) and [the other](r_stderr.ipynb).'),
                  md('## Maths\n\nThe value $V(D,G) = \\mathbb{E}[\\log D(x)]$ and\n\n$$D^*(x) = \\frac{p_r}{p_r+p_g}$$'),
                  code('#| echo: false\n#| output: asis\nshow_doc(f)',
                       {'output_type': 'execute_result', 'data': {'text/markdown': '---\n\n### f\n\n*Doc with $x$.*'}, 'metadata': {}}),
                  code('plot()', {'output_type': 'display_data', 'data': {'image/png': png_1x1(), 'text/plain': '<Figure>'}, 'metadata': {}}),
                  code('print("$5 and $6")', {'output_type': 'stream', 'name': 'stdout', 'text': '$5 and $6\n'})), None),
    'r_error': (nb(code('1/0', {'output_type': 'error', 'ename': 'ZeroDivisionError', 'evalue': 'division by zero',
                                'traceback': ['\x1b[31mTraceback (most recent call last)\x1b[0m', 'ZeroDivisionError: division by zero']})),
                'Python error shown'),
    'r_stderr': (nb(code('warn()', {'output_type': 'stream', 'name': 'stderr',
                                    'text': 'Traceback (most recent call last):\n  File "<x>"\nKeyError: 1\n'})), 'Python error shown'),
    'r_space_math': (nb(md('A formula with spaces: $ x^2 $ stays text in pandoc.')), 'raw TeX math not rendered'),
    'r_bad_tex': (nb(md('An unknown macro: $\\frob{x}$.')), 'TeX that pandoc could not convert'),
    'r_bad_png': (nb(code('plot()', {'output_type': 'display_data', 'data': {'image/png': 'AAAAAAAA'}, 'metadata': {}})), 'broken image'),
}


def build_pages(d:Path):
    "Write every test page into `d`."
    (d/'good.html').write_text(page(GOOD_BODY), encoding='utf-8')
    (d/'other.html').write_text(page('<p>the other page</p>'), encoding='utf-8')
    (d/'index.html').write_text(page('<p>home: rendered pages link to it</p>'), encoding='utf-8')
    for name, (body, _) in BAD.items(): (d/f'{name}.html').write_text(page(body), encoding='utf-8')
    pages = [(Path(f'{n}.ipynb'), f'{n}.html', n) for n in RENDERED]
    for name, (notebook, _) in RENDERED.items():
        renderer = build_docs.Renderer(html=True, link_map={f'{n}.ipynb': f'{n}.html' for n in RENDERED})
        build_docs.render_page(notebook, d/f'{name}.html', f'{name}.html', pages, renderer, site='test')


def test_checker():
    "Every bad page is reported with the right problem, and only the bad pages are."
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)
        build_pages(d)
        res = check_docs.check(d, screenshots=False)
    expected = {f'{n}.html': p for n, (_, p) in BAD.items()} | {f'{n}.html': p for n, (_, p) in RENDERED.items()}
    expected |= {'good.html': None, 'other.html': None, 'index.html': None}
    failures = []
    for name, want in expected.items():
        got = res.get(name)
        if got is None: failures.append(f"{name}: not checked")
        elif want is None and got: failures.append(f"{name}: should pass but got {got}")
        elif want is not None and not any(m.startswith(want) for m in got): failures.append(f"{name}: expected '{want}...', got {got}")
    assert not failures, '\n'.join(failures)
    print(f"test_check_docs: all {len(expected)} expectations hold "
          f"({sum(v is not None for v in expected.values())} bad pages caught, {sum(v is None for v in expected.values())} good pages passed)")


if __name__ == '__main__':
    try: test_checker()
    except AssertionError as e: sys.exit(f"test_check_docs FAILED:\n{e}")
